// ReLU / LeakyReLU (and a residual add) fused into batchnorm's normalising pass, and the
// activation's backward fused into batchnorm's backward kernels (training and eval): the same values
// and gradients as batchnorm followed by the add and activation ops, fewer kernels, the float64
// reference, and finite differences of the fused rule.
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/graph/autograd.ts';
import { parameter } from '../../src/graph/module.ts';
import * as ops from '../../src/graph/ops.ts';
import { type Tensor, scope } from '../../src/graph/tensor.ts';
import type { BatchNormVariant } from '../../src/kernels/batchnorm.ts';
import type { Gpu } from '../../src/graph/gpu.ts';
import { expectClose, finiteDiff, randArray, read, testGpu, weightedSum } from '../helpers.ts';
import * as ref from '../reference/batchnorm.ts';
import * as ewRef from '../reference/elementwise.ts';

// The tolerance of batchnorm.test.ts's forward against the float64 reference.
const FWD = { atol: 2e-5, rtol: 2e-5 };
// batchnorm.test.ts's backward against finite differences.
const BWD = { atol: 2e-3, rtol: 2e-3 };
const VARIANTS: BatchNormVariant[] = ['reference', 'split'];
// H*W a multiple of 4 (the split variant's vec4 pass), and not (its scalar pass).
const SHAPES: [number, number, number, number][] = [
  [2, 5, 4, 4],
  [3, 3, 5, 7],
];
/** Kernel dispatches since the last resetCounters (buffer copies apart). */
function kernelCount(gpu: Gpu): number {
  const { copy: _c, ...d } = gpu.stats().dispatches;
  return Object.values(d).reduce((a, v) => a + v, 0);
}

const ACTS = [
  { activation: 'relu' as const, slope: 0 },
  { activation: 'leakyRelu' as const, slope: 0.1 },
];

describe('batchnorm with a fused activation', () => {
  it('training and eval: exactly the unfused values and gradients, one kernel fewer, and the float64 reference', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      for (const [si, shape] of SHAPES.entries()) {
        const c = shape[1];
        const size = shape.reduce((a, b) => a * b);
        const xv = randArray(size, 10 + si);
        const gv = randArray(c, 20 + si, 0.5, 1.5);
        const bv = randArray(c, 30 + si);
        const seed = gpu.tensor(randArray(size, 40 + si), shape);
        for (const variant of VARIANTS) {
          for (const training of [true, false]) {
            for (const { activation, slope } of ACTS) {
              const at = `${variant} ${shape.join('x')} ${training ? 'training' : 'eval'} ${activation}`;
              const run = async (fused: boolean) => {
                const x = parameter(gpu.tensor(xv, shape));
                const gamma = parameter(gpu.tensor(gv, [c]));
                const beta = parameter(gpu.tensor(bv, [c]));
                const [rm, rv] = [gpu.tensor(randArray(c, 50, -0.5, 0.5), [c]), gpu.tensor(randArray(c, 51, 0.5, 2), [c])];
                gpu.resetCounters();
                const o = { training, variant, eps: 1e-5 };
                const y: Tensor = fused ? ops.batchNorm2d(x, gamma, beta, rm, rv, { ...o, activation, slope }) : ops.leakyRelu(ops.batchNorm2d(x, gamma, beta, rm, rv, o), slope);
                const forward = kernelCount(gpu);
                gpu.resetCounters();
                backward(y, seed);
                const backwardKernels = kernelCount(gpu);
                const out = await Promise.all([y, x.grad!, gamma.grad!, beta.grad!, rm, rv].map(read));
                return { out, forward, backward: backwardKernels };
              };
              const [f, u] = [await run(true), await run(false)];
              // Forward: no activation pass; backward: no pass undoing it (the batchnorm kernels gate dy).
              expect(f.forward, at).toBe(u.forward - 1);
              expect(f.backward, at).toBe(u.backward - 1);
              for (const [i, name] of ['y', 'dx', 'dgamma', 'dbeta', 'running mean', 'running var'].entries()) expect(Array.from(f.out[i]), `${name} ${at}`).toEqual(Array.from(u.out[i]));
              if (training) {
                const expected = ewRef.leakyRelu(ref.batchNormTrain(xv, shape, gv, bv, 1e-5), slope);
                expectClose(f.out[0], expected, FWD, `float64 ${at}`);
              }
            }
          }
        }
      }
    });
  });

  it('with a residual: exactly the unfused add + activation values and gradients (the residual\'s too), fewer kernels', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      for (const [si, shape] of SHAPES.entries()) {
        const c = shape[1];
        const size = shape.reduce((a, b) => a * b);
        const [xv, rv0] = [randArray(size, 110 + si), randArray(size, 115 + si)];
        const [gv, bv] = [randArray(c, 120 + si, 0.5, 1.5), randArray(c, 130 + si)];
        const seed = gpu.tensor(randArray(size, 140 + si), shape);
        for (const variant of VARIANTS) {
          for (const training of [true, false]) {
            for (const { activation, slope } of [...ACTS, { activation: 'none' as const, slope: 0 }]) {
              // Which inputs want a gradient: everything; only the residual (no reduction pass:
              // the residual's gradient takes its own pass); x and the residual, frozen affine
              // (the reduction runs only in training).
              for (const trainable of [{ x: true, affine: true }, { x: false, affine: false }, { x: true, affine: false }]) {
                const at = `${variant} ${shape.join('x')} ${training ? 'training' : 'eval'} ${activation} x:${trainable.x} affine:${trainable.affine}`;
                const run = async (fused: boolean) => {
                  const p = (v: Float64Array, s: readonly number[], on: boolean) => (on ? parameter(gpu.tensor(v, s)) : gpu.tensor(v, s));
                  const x = p(xv, shape, trainable.x);
                  // The residual is an op's output, as in a ResNet (a leaf's shared gradient would get a copy).
                  const resLeaf = parameter(gpu.tensor(rv0, shape));
                  const res = ops.mulScalar(resLeaf, 1);
                  const gamma = p(gv, [c], trainable.affine);
                  const beta = p(bv, [c], trainable.affine);
                  const [rm, rv] = [gpu.tensor(randArray(c, 150, -0.5, 0.5), [c]), gpu.tensor(randArray(c, 151, 0.5, 2), [c])];
                  gpu.resetCounters();
                  const o = { training, variant, eps: 1e-5 };
                  let y: Tensor;
                  // (mulScalar's dispatch and its backward's are in both counts.)
                  if (fused) {
                    y = ops.batchNorm2d(x, gamma, beta, rm, rv, { ...o, activation, slope, residual: res });
                  } else {
                    const sum = ops.add(ops.batchNorm2d(x, gamma, beta, rm, rv, o), res);
                    y = activation === 'none' ? sum : ops.leakyRelu(sum, slope);
                  }
                  const forward = kernelCount(gpu);
                  gpu.resetCounters();
                  backward(y, seed);
                  const backwardKernels = kernelCount(gpu);
                  const grads = [resLeaf, ...(trainable.x ? [x] : []), ...(trainable.affine ? [gamma, beta] : [])].map((t) => t.grad!);
                  const out = await Promise.all([y, rm, rv, ...grads].map(read));
                  return { out, forward, backward: backwardKernels };
                };
                const [f, u] = [await run(true), await run(false)];
                // Forward: no add pass and no activation pass. Backward: the reduction pass writes
                // the residual's (gated) gradient when it runs and there is an activation to undo.
                const reduces = trainable.affine || (trainable.x && training);
                expect(f.forward, at).toBe(u.forward - (activation === 'none' ? 1 : 2));
                expect(f.backward, at).toBe(u.backward - (activation !== 'none' && reduces ? 1 : 0));
                expect(f.out.length, at).toBe(u.out.length);
                for (const [i, v] of f.out.entries()) expect(Array.from(v), `output ${i} (y, running mean, running var, d residual, ...) ${at}`).toEqual(Array.from(u.out[i]));
                if (training) {
                  const pre = ref.batchNormTrain(xv, shape, gv, bv, 1e-5).map((v, i) => v + rv0[i]);
                  expectClose(f.out[0], activation === 'none' ? pre : ewRef.leakyRelu(pre, slope), FWD, `float64 ${at}`);
                }
              }
            }
          }
        }
      }
    });
  });

  it('the fused rule (activation, with and without a residual) matches finite differences of the float64 reference', async () => {
    const gpu = await testGpu();
    const slope = 0.1;
    const eps = 1e-5;
    // [2, 3, 5, 7]: scalar passes; [2, 2, 4, 6]: vec4 partials and passes in 'split';
    // [2, 2, 7, 9]: vec4 elementwise passes straddling planes.
    const shapes: [number, number, number, number][] = [[2, 3, 5, 7], [2, 2, 4, 6], [2, 2, 7, 9]];
    for (const [si, shape] of shapes.entries()) {
      const c = shape[1];
      const size = shape.reduce((a, b) => a * b);
      const rm = randArray(c, 200 + si, -0.5, 0.5);
      const rvar = randArray(c, 210 + si, 0.5, 2);
      for (const training of [true, false]) {
        for (const withResidual of [false, true]) {
          const pre = (xv: Float64Array, gv: Float64Array, bv: Float64Array, resv: Float64Array) => {
            const n = training ? ref.batchNormTrain(xv, shape, gv, bv, eps) : ref.batchNormEval(xv, shape, gv, bv, rm, rvar, eps);
            return withResidual ? n.map((v, i) => v + resv[i]) : n;
          };
          // Central differences (step 1e-3) move a pre-activation by at most ~3e-3: take the first
          // seed whose pre-activations all keep 4e-3 from the kink at 0, where no derivative exists.
          let seed = 300 + 40 * si;
          const inputs = (s: number) => ({ xv: randArray(size, s), resv: randArray(size, s + 1), gv: randArray(c, s + 2, 0.5, 1.5), bv: randArray(c, s + 3) });
          while (Math.min(...(() => { const k = inputs(seed); return pre(k.xv, k.gv, k.bv, k.resv).map(Math.abs); })()) < 4e-3) seed += 4;
          const { xv, resv, gv, bv } = inputs(seed);
          const w = randArray(size, seed + 9);
          const f = (xs: Float64Array, gs: Float64Array, bs: Float64Array, rs: Float64Array) => weightedSum(ewRef.leakyRelu(pre(xs, gs, bs, rs), slope), w);
          for (const variant of VARIANTS) {
            await scope(async () => {
              const at = `${variant} ${shape.join('x')} ${training ? 'training' : 'eval'} ${withResidual ? 'residual' : 'no residual'}`;
              const [x, gamma, beta, res] = [parameter(gpu.tensor(xv, shape)), parameter(gpu.tensor(gv, [c])), parameter(gpu.tensor(bv, [c])), parameter(gpu.tensor(resv, shape))];
              const y = ops.batchNorm2d(x, gamma, beta, gpu.tensor(rm, [c]), gpu.tensor(rvar, [c]), { training, variant, eps, activation: 'leakyRelu', slope, residual: withResidual ? res : null });
              backward(y, gpu.tensor(w, shape));
              expectClose(await read(x.grad!), finiteDiff((v) => f(v, gv, bv, resv), xv), BWD, `dx ${at}`);
              expectClose(await read(gamma.grad!), finiteDiff((v) => f(xv, v, bv, resv), gv), BWD, `dgamma ${at}`);
              expectClose(await read(beta.grad!), finiteDiff((v) => f(xv, gv, v, resv), bv), BWD, `dbeta ${at}`);
              if (withResidual) expectClose(await read(res.grad!), finiteDiff((v) => f(xv, gv, bv, v), resv), BWD, `d residual ${at}`);
              else expect(res.grad, at).toBeFalsy();
            });
          }
        }
      }
    }
  });

  it('rejects a negative leakyRelu slope (the backward reads the output sign)', async () => {
    const gpu = await testGpu();
    scope(() => {
      const [x, g, b, m, v] = [gpu.zeros([2, 3, 4, 4]), gpu.full([3], 1), gpu.zeros([3]), gpu.zeros([3]), gpu.full([3], 1)];
      expect(() => ops.batchNorm2d(x, g, b, m, v, { training: true, activation: 'leakyRelu', slope: -0.1 })).toThrow(/batchNorm2d: a fused leakyRelu needs a slope >= 0/);
    });
  });
});
