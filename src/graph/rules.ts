// THE table of backward rules. A rule receives the output gradient `g`, the op's record, which
// inputs need a gradient, and the op's output; it returns one gradient (or null) per input and
// computes only those that are needed: no dispatch for a frozen weight or an input that leads to
// nothing trainable. Rules run under noGrad inside backward's scope.
import * as ew from '../kernels/elementwise.ts';
import * as mm from '../kernels/matmul.ts';
import * as conv from '../kernels/conv2d.ts';
import * as reduce from '../kernels/reduce.ts';
import * as bn from '../kernels/batchnorm.ts';
import * as pool from '../kernels/pool.ts';
import * as sm from '../kernels/softmax.ts';
import * as dropoutKernel from '../kernels/dropout.ts';
import * as penaltyKernel from '../kernels/penalty.ts';
import { type GpuData, type Runtime } from '../kernels/runtime/index.ts';
import { type GradNode, Tensor } from './tensor.ts';

export type Rule = (g: Tensor, node: GradNode, needs: boolean[], out: Tensor) => (Tensor | null)[];

const wrap = (rt: Runtime, d: GpuData): Tensor => new Tensor(rt, d);
const reshaped = (rt: Runtime, g: Tensor, shape: readonly number[]): Tensor => {
  const buf = rt.alloc(g.size * 4);
  rt.copy(g.buffer, buf, g.size * 4);
  return new Tensor(rt, { buffer: buf, shape, dtype: g.dtype });
};

const sameShape = (a: Tensor, b: Tensor): boolean => a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);

export const rules: Record<string, Rule> = {
  // ---- elementwise ----
  add: (g, { inputs: [a, b], saved }, [da, db]) => [
    da ? g : null,
    !db ? null : sameShape(a, b) ? g : b.size === 1 ? reshaped(g.rt, wrap(g.rt, reduce.sumAll(g.rt, g)), b.shape) : wrap(g.rt, reduce.sumToAxis(g.rt, g, saved.axis as number)),
  ],
  leakyRelu: (g, { inputs: [x], saved }, [dx]) => [dx ? wrap(g.rt, ew.leakyReluBackward(g.rt, g, x, saved.alpha as number)) : null],
  mulScalar: (g, { saved }, [dx]) => [dx ? wrap(g.rt, ew.scale(g.rt, g, saved.alpha as number)) : null],
  reshape: (g, { inputs: [x] }, [dx]) => [dx ? reshaped(g.rt, g, x.shape) : null],

  // ---- matmul / linear ----
  // C = op(A) op(B): d op(A) = dC op(B)^T and d op(B) = op(A)^T dC, each one GEMM whose transpose
  // flags absorb op's (no transposed copies). An operand broadcast over the batch gets the sum.
  matmul: (g, { inputs: [a, b], saved }, [da, db]) => {
    const { transA, transB } = saved as { transA: boolean; transB: boolean };
    const rt = g.rt;
    const summed = (x: Tensor) => x.shape.length === 2 && g.shape.length === 3;
    return [
      !da ? null : wrap(rt, transA ? mm.matmul(rt, b, g, { transA: transB, transB: true, sumBatches: summed(a) }) : mm.matmul(rt, g, b, { transB: !transB, sumBatches: summed(a) })),
      !db ? null : wrap(rt, transB ? mm.matmul(rt, g, a, { transA: true, transB: transA, sumBatches: summed(b) }) : mm.matmul(rt, a, g, { transA: !transA, sumBatches: summed(b) })),
    ];
  },
  // y = act(x W^T + b) over x viewed as [rows, in]: dx = dy W, dW = dy^T x, db = column sums of dy,
  // after undoing a fused activation from the output's sign.
  linear: (g, { inputs: [x, w, b], saved }, [dx, dw, db], out) => {
    const rt = g.rt;
    const { activation, slope } = saved as { activation: mm.Activation; slope: number };
    const [outF, inF] = w.shape;
    const rows = g.size / outF;
    const gp = activation === 'none' ? g : wrap(rt, ew.leakyReluBackward(rt, g, out, activation === 'relu' ? 0 : slope));
    const g2: GpuData = { buffer: gp.buffer, shape: [rows, outF], dtype: 'f32' };
    const gx = dx ? mm.matmul(rt, g2, w) : null;
    return [
      gx ? wrap(rt, { ...gx, shape: x.shape }) : null,
      dw ? wrap(rt, mm.matmul(rt, g2, { buffer: x.buffer, shape: [rows, inF], dtype: 'f32' }, { transA: true })) : null,
      db && b ? wrap(rt, reduce.sumToAxis(rt, g2, 1)) : null,
    ];
  },

  // ---- conv2d ----
  // A fused activation is undone first: d(pre-activation) = g * (y > 0 ? 1 : slope), from the output.
  conv2d: (g, { inputs: [x, w, b], saved }, [dx, dw, db], out) => {
    const o = saved as conv.Conv2dForwardOptions;
    const gp = o.activation && o.activation !== 'none' ? wrap(g.rt, ew.leakyReluBackward(g.rt, g, out, o.slope ?? 0)) : g;
    return [
      dx ? wrap(g.rt, conv.conv2dBackwardInput(g.rt, gp, w, x.shape, o)) : null,
      dw ? wrap(g.rt, conv.conv2dBackwardFilter(g.rt, gp, x, w.shape, o)) : null,
      b && db ? wrap(g.rt, conv.conv2dBackwardBias(g.rt, gp)) : null,
    ];
  },

  // ---- batchnorm / pooling ----
  // saved.stats: [4, C] (mean, invstd, scale, shift) of the forward; eval mode treats them as constants.
  // A fused activation is undone inside batchnorm's backward kernels, from the output's sign. A
  // residual's gradient is the gated gradient itself: the reduction pass writes it when it runs,
  // else it takes its own pass (or is g, with no activation).
  batchNorm2d: (g, { inputs: [x, , , res], saved }, [dx, dgamma, dbeta, dres], out) => {
    const rt = g.rt;
    const training = saved.training as boolean;
    const gate = saved.activation && saved.activation !== 'none' ? { y: out, slope: saved.slope as number } : null;
    const keep = !!(res && dres && gate && (dgamma || dbeta || (dx && training)));
    const gres = res && dres && !keep ? (gate ? wrap(rt, ew.leakyReluBackward(rt, g, out, gate.slope)) : g) : null;
    const r = bn.batchNorm2dBackward(rt, gres ?? g, x, saved.stats as Tensor, { training, dx, dgamma, dbeta, variant: saved.variant as bn.BatchNormVariant | undefined, gate: gres ? null : gate, keep });
    return [r.dx && wrap(rt, r.dx), r.dgamma && wrap(rt, r.dgamma), r.dbeta && wrap(rt, r.dbeta), keep ? wrap(rt, r.g!) : gres];
  },
  maxPool2d: (g, { inputs: [x], saved }, [dx]) => [dx ? wrap(g.rt, pool.maxPool2dBackward(g.rt, g, saved.argmax as Tensor, x.shape, saved.geometry as pool.Pool2dGeometry)) : null],
  adaptiveAvgPool2d: (g, { inputs: [x] }, [dx]) => [dx ? wrap(g.rt, pool.adaptiveAvgPool2dBackward(g.rt, g, x.shape)) : null],

  // ---- softmax / cross-entropy / dropout ----
  softmax: (g, { saved }, [dx], y) => [dx ? wrap(g.rt, sm.softmaxBackward(g.rt, g, y, saved as sm.RowOptions)) : null],
  // Labels (integers) never get a gradient; the logits' comes from the saved log-sum-exp.
  softmaxCrossEntropy: (g, { inputs: [logits, labels], saved }, [dl]) => [
    dl ? wrap(g.rt, sm.crossEntropyBackward(g.rt, logits, labels, saved.lse as Tensor, g, { labelSmoothing: saved.labelSmoothing as number, scale: saved.reduction === 'mean' ? 1 / logits.shape[0] : 1 })) : null,
    null,
  ],
  // The same mask from the same seed: dx = g * mask / (1 - p).
  dropout: (g, { saved }, [dx]) => [dx ? wrap(g.rt, dropoutKernel.dropout(g.rt, g, saved.p as number, saved.seed as number)) : null],

  // ---- reductions: broadcast the scalar gradient back (g is [1]) ----
  sum: (g, { inputs: [x] }, [dx]) => [dx ? wrap(g.rt, ew.broadcast(g.rt, g, x.shape)) : null],
  mean: (g, { inputs: [x] }, [dx]) => [dx ? wrap(g.rt, ew.broadcast(g.rt, g, x.shape, 0, 1 / x.size)) : null],

  // ---- weight penalties (g is [1]): 2 g x and g sign(x) ----
  sumOfSquares: (g, { inputs: [x] }, [dx]) => [dx ? wrap(g.rt, penaltyKernel.penaltyBackward(g.rt, g, x, 'l2')) : null],
  sumOfAbs: (g, { inputs: [x] }, [dx]) => [dx ? wrap(g.rt, penaltyKernel.penaltyBackward(g.rt, g, x, 'l1')) : null],
};
