// THE table of backward rules. A rule receives the output gradient `g`, the op's record, which
// inputs need a gradient, and the op's output; it returns one gradient (or null) per input and
// computes only those that are needed: no dispatch for a frozen weight or an input that leads to
// nothing trainable. Rules run under noGrad inside backward's scope.
import * as ew from '../kernels/elementwise.ts';
import * as reduce from '../kernels/reduce.ts';
import { type GpuData, type Runtime } from '../kernels/runtime.ts';
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

  // ---- conv2d ----

  // ---- batchnorm / pooling ----

  // ---- softmax / cross-entropy / dropout ----

  // ---- reductions: broadcast the scalar gradient back (g is [1]) ----
  sum: (g, { inputs: [x] }, [dx]) => [dx ? wrap(g.rt, ew.broadcast(g.rt, g, x.shape)) : null],
  mean: (g, { inputs: [x] }, [dx]) => [dx ? wrap(g.rt, ew.broadcast(g.rt, g, x.shape, 0, 1 / x.size)) : null],
};
