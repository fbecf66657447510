import { describe, expect, it } from 'vitest';
import { backward } from '../../src/graph/autograd.ts';
import type { Gpu } from '../../src/graph/gpu.ts';
import { parameter } from '../../src/graph/module.ts';
import * as ops from '../../src/graph/ops.ts';
import { type Tensor, noGrad, scope } from '../../src/graph/tensor.ts';
import type { BatchNormVariant } from '../../src/kernels/batchnorm.ts';
import { expectClose, finiteDiff, randArray, read, testGpu, weightedSum } from '../helpers.ts';
import * as ref from '../reference/batchnorm.ts';

const FWD = { atol: 2e-5, rtol: 2e-5 };
const STATS = { atol: 1e-6, rtol: 1e-5 };
const BWD = { atol: 2e-3, rtol: 2e-3 };
/** GPU gradients vs the analytic float64 formula (shapes too large for finite differences). */
const BWD_ANALYTIC = { atol: 1e-4, rtol: 1e-4 };
const VARIANTS: BatchNormVariant[] = ['reference', 'split'];
const EPS = 1e-5;

type Shape4 = [number, number, number, number];

interface Case {
  x: Tensor;
  gamma: Tensor;
  beta: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
  xv: Float64Array;
  gv: Float64Array;
  bv: Float64Array;
  rm: Float64Array;
  rv: Float64Array;
}

/** Seeded inputs; x, gamma, beta become parameters when asked (dispose them with disposeCase). */
function makeCase(gpu: Gpu, shape: Shape4, seed: number, trainable: { x?: boolean; affine?: boolean } = {}, offset = 0): Case {
  const c = shape[1];
  const xv = randArray(shape.reduce((a, b) => a * b), seed).map((v) => v * 2 + offset);
  const gv = randArray(c, seed + 1, 0.5, 1.5);
  const bv = randArray(c, seed + 2);
  const rm = randArray(c, seed + 3, -0.5, 0.5);
  const rv = randArray(c, seed + 4, 0.5, 2);
  const p = (v: Float64Array, s: readonly number[], on?: boolean) => (on ? parameter(gpu.tensor(v, s)) : gpu.tensor(v, s));
  return {
    x: p(xv, shape, trainable.x),
    gamma: p(gv, [c], trainable.affine),
    beta: p(bv, [c], trainable.affine),
    runningMean: gpu.tensor(rm, [c]),
    runningVar: gpu.tensor(rv, [c]),
    xv, gv, bv, rm, rv,
  };
}

function disposeCase(k: Case): void {
  for (const t of [k.x, k.gamma, k.beta, k.runningMean, k.runningVar]) {
    t.grad?.dispose();
    t.dispose();
  }
}

describe('batchnorm2d', () => {
  it('training forward and running-stat update match the float64 reference (every variant, awkward shapes)', async () => {
    const gpu = await testGpu();
    // [2, 17, 4, 6]: H*W % 4 == 0 (vec4 everywhere in 'split'); [4, 3, 7, 9]: vec4 elementwise passes
    // straddling planes (MIXED); the others are scalar (the total is not a multiple of 4).
    const shapes: Shape4[] = [[2, 3, 7, 9], [3, 1, 13, 11], [2, 17, 4, 6], [3, 5, 7, 9], [4, 3, 7, 9], [4, 1, 3, 5]];
    for (const variant of VARIANTS) {
      for (const [si, shape] of shapes.entries()) {
        await scope(async () => {
          const k = makeCase(gpu, shape, 10 + si);
          const y = ops.batchNorm2d(k.x, k.gamma, k.beta, k.runningMean, k.runningVar, { training: true, momentum: 0.1, eps: EPS, variant });
          const label = `${variant} ${shape}`;
          expectClose(await read(y), ref.batchNormTrain(k.xv, shape, k.gv, k.bv, EPS), FWD, `y ${label}`);
          const want = ref.updateRunning(k.rm, k.rv, k.xv, shape, 0.1);
          expectClose(await read(k.runningMean), want.runningMean, STATS, `running_mean ${label}`);
          expectClose(await read(k.runningVar), want.runningVar, STATS, `running_var ${label}`);
          disposeCase(k);
        });
      }
    }
  });

  it('statistics stay accurate for large counts with a large mean (several split slices)', async () => {
    const gpu = await testGpu();
    // m = 18432 per channel (H*W % 4 == 0: vec4 split, 5 slices) and m = 3885 (scalar split,
    // 4 slices); mean 20, std ~1.15, where E[x^2] - E[x]^2 in f32 would lose most digits.
    for (const shape of [[2, 2, 96, 96], [3, 2, 35, 37]] as Shape4[]) {
      for (const variant of VARIANTS) {
        await scope(async () => {
          const k = makeCase(gpu, shape, 30, {}, 20);
          const y = ops.batchNorm2d(k.x, k.gamma, k.beta, k.runningMean, k.runningVar, { training: true, momentum: 0.25, eps: EPS, variant });
          // x ~ 20 holds ~2e-6 absolute precision in f32, i.e. ~2e-6 / std in y.
          expectClose(await read(y), ref.batchNormTrain(k.xv, shape, k.gv, k.bv, EPS), { atol: 1e-5, rtol: 1e-5 }, `y ${variant} ${shape}`);
          const want = ref.updateRunning(k.rm, k.rv, k.xv, shape, 0.25);
          expectClose(await read(k.runningMean), want.runningMean, { atol: 1e-5, rtol: 1e-6 }, `running_mean ${variant} ${shape}`);
          expectClose(await read(k.runningVar), want.runningVar, { atol: 1e-5, rtol: 1e-5 }, `running_var ${variant} ${shape}`);
          disposeCase(k);
        });
      }
    }
  });

  it('running statistics after two training steps match torch semantics', async () => {
    const gpu = await testGpu();
    const shape: Shape4 = [3, 5, 7, 9];
    for (const variant of VARIANTS) {
      await scope(async () => {
        const k = makeCase(gpu, shape, 40);
        const x2v = randArray(k.xv.length, 41).map((v) => 3 * v - 0.5);
        const x2 = gpu.tensor(x2v, shape);
        noGrad(() => {
          ops.batchNorm2d(k.x, k.gamma, k.beta, k.runningMean, k.runningVar, { training: true, momentum: 0.3, eps: EPS, variant });
          ops.batchNorm2d(x2, k.gamma, k.beta, k.runningMean, k.runningVar, { training: true, momentum: 0.3, eps: EPS, variant });
        });
        const step1 = ref.updateRunning(k.rm, k.rv, k.xv, shape, 0.3);
        const step2 = ref.updateRunning(step1.runningMean, step1.runningVar, x2v, shape, 0.3);
        expectClose(await read(k.runningMean), step2.runningMean, STATS, `running_mean ${variant}`);
        expectClose(await read(k.runningVar), step2.runningVar, STATS, `running_var ${variant}`);
        disposeCase(k);
      });
    }
  });

  it('eval forward uses the running statistics and leaves them unchanged', async () => {
    const gpu = await testGpu();
    for (const variant of VARIANTS) {
      for (const shape of [[2, 3, 7, 9], [2, 5, 4, 6]] as Shape4[]) {
        await scope(async () => {
          const k = makeCase(gpu, shape, 50);
          const y = ops.batchNorm2d(k.x, k.gamma, k.beta, k.runningMean, k.runningVar, { training: false, eps: 1e-3, variant });
          expectClose(await read(y), ref.batchNormEval(k.xv, shape, k.gv, k.bv, k.rm, k.rv, 1e-3), FWD, `y ${variant} ${shape}`);
          expectClose(await read(k.runningMean), k.rm, { atol: 1e-7, rtol: 1e-7 }, 'running_mean untouched');
          expectClose(await read(k.runningVar), k.rv, { atol: 1e-7, rtol: 1e-7 }, 'running_var untouched');
          disposeCase(k);
        });
      }
    }
  });

  it('training backward (dx through the batch statistics, dgamma, dbeta) matches finite differences', async () => {
    const gpu = await testGpu();
    // [2, 3, 5, 7]: scalar passes; [2, 2, 4, 6]: H*W % 4 == 0, so 'split' takes the vec4 passes;
    // [2, 2, 7, 9]: vec4 elementwise passes that straddle planes.
    for (const shape of [[2, 3, 5, 7], [2, 2, 4, 6], [2, 2, 7, 9]] as Shape4[]) {
      for (const variant of VARIANTS) {
        await scope(async () => {
          const k = makeCase(gpu, shape, 60, { x: true, affine: true });
          const y = ops.batchNorm2d(k.x, k.gamma, k.beta, k.runningMean, k.runningVar, { training: true, eps: EPS, variant });
          const w = randArray(y.size, 61);
          backward(y, gpu.tensor(w, shape));
          const f = (xv: Float64Array, gv: Float64Array, bv: Float64Array) => weightedSum(ref.batchNormTrain(xv, shape, gv, bv, EPS), w);
          const label = `${variant} ${shape}`;
          expectClose(await read(k.x.grad!), finiteDiff((v) => f(v, k.gv, k.bv), k.xv), BWD, `dx ${label}`);
          expectClose(await read(k.gamma.grad!), finiteDiff((v) => f(k.xv, v, k.bv), k.gv), BWD, `dgamma ${label}`);
          expectClose(await read(k.beta.grad!), finiteDiff((v) => f(k.xv, k.gv, v), k.bv), BWD, `dbeta ${label}`);
          disposeCase(k);
        });
      }
    }
  });

  it('training backward on several split slices matches the analytic formula', async () => {
    const gpu = await testGpu();
    for (const shape of [[2, 2, 96, 96], [3, 2, 35, 37]] as Shape4[]) {
      for (const variant of VARIANTS) {
        await scope(async () => {
          const k = makeCase(gpu, shape, 70, { x: true, affine: true }, 3);
          const y = ops.batchNorm2d(k.x, k.gamma, k.beta, k.runningMean, k.runningVar, { training: true, eps: EPS, variant });
          const w = randArray(y.size, 71);
          backward(y, gpu.tensor(w, shape));
          const want = ref.batchNormTrainBackward(k.xv, shape, k.gv, w, EPS);
          const label = `${variant} ${shape}`;
          expectClose(await read(k.x.grad!), want.dx, BWD_ANALYTIC, `dx ${label}`);
          expectClose(await read(k.gamma.grad!), want.dgamma, { atol: 1e-3, rtol: 1e-4 }, `dgamma ${label}`);
          expectClose(await read(k.beta.grad!), want.dbeta, { atol: 1e-3, rtol: 1e-4 }, `dbeta ${label}`);
          disposeCase(k);
        });
      }
    }
  });

  it('eval backward treats the running statistics as constants (finite differences)', async () => {
    const gpu = await testGpu();
    for (const shape of [[3, 3, 5, 7], [2, 3, 4, 2], [4, 3, 3, 3]] as Shape4[]) {
      for (const variant of VARIANTS) {
        await scope(async () => {
          const k = makeCase(gpu, shape, 80, { x: true, affine: true });
          const y = ops.batchNorm2d(k.x, k.gamma, k.beta, k.runningMean, k.runningVar, { training: false, eps: EPS, variant });
          const w = randArray(y.size, 81);
          backward(y, gpu.tensor(w, shape));
          const f = (xv: Float64Array, gv: Float64Array, bv: Float64Array) => weightedSum(ref.batchNormEval(xv, shape, gv, bv, k.rm, k.rv, EPS), w);
          const label = `${variant} ${shape}`;
          expectClose(await read(k.x.grad!), finiteDiff((v) => f(v, k.gv, k.bv), k.xv), BWD, `dx ${label}`);
          expectClose(await read(k.gamma.grad!), finiteDiff((v) => f(k.xv, v, k.bv), k.gv), BWD, `dgamma ${label}`);
          expectClose(await read(k.beta.grad!), finiteDiff((v) => f(k.xv, k.gv, v), k.bv), BWD, `dbeta ${label}`);
          disposeCase(k);
        });
      }
    }
  });

  it('computes only the gradients that are needed (dispatch counts)', async () => {
    const gpu = await testGpu();
    const shape: Shape4 = [2, 3, 5, 7];
    const reduceDispatches = (d: Record<string, number>) => Object.keys(d).filter((n) => n.startsWith('batchnorm.backward_reduce')).length;
    const dxDispatches = (d: Record<string, number>) => Object.keys(d).filter((n) => n.startsWith('batchnorm.dx_')).length;
    const before = gpu.stats().liveBuffers;
    for (const variant of VARIANTS) {
      await scope(async () => {
        // Eval mode, frozen gamma/beta (fine-tuning through a frozen BN): dx only, no reduction.
        let k = makeCase(gpu, shape, 90, { x: true });
        let y = ops.batchNorm2d(k.x, k.gamma, k.beta, k.runningMean, k.runningVar, { training: false, variant });
        gpu.resetCounters();
        backward(y, gpu.tensor(randArray(y.size, 91), shape));
        let d = gpu.stats().dispatches;
        expect(dxDispatches(d)).toBe(1);
        expect(reduceDispatches(d)).toBe(0);
        expect(k.gamma.grad).toBe(null);
        disposeCase(k);

        // Eval mode, trainable gamma/beta, input needs no gradient: the reduction, no dx pass.
        k = makeCase(gpu, shape, 92, { affine: true });
        y = ops.batchNorm2d(k.x, k.gamma, k.beta, k.runningMean, k.runningVar, { training: false, variant });
        gpu.resetCounters();
        backward(y, gpu.tensor(randArray(y.size, 93), shape));
        d = gpu.stats().dispatches;
        expect(dxDispatches(d)).toBe(0);
        expect(reduceDispatches(d)).toBeGreaterThan(0);
        expect(k.x.grad).toBe(null);
        expect(k.gamma.grad!.shape).toEqual([3]);
        disposeCase(k);

        // Training mode, frozen gamma/beta: the reduction is needed by dx itself; no more.
        k = makeCase(gpu, shape, 94, { x: true });
        y = ops.batchNorm2d(k.x, k.gamma, k.beta, k.runningMean, k.runningVar, { training: true, variant });
        gpu.resetCounters();
        backward(y, gpu.tensor(randArray(y.size, 95), shape));
        d = gpu.stats().dispatches;
        expect(dxDispatches(d)).toBe(1);
        expect(d.copy ?? 0).toBe(0);
        expect(k.gamma.grad).toBe(null);
        expect(k.beta.grad).toBe(null);
        disposeCase(k);

        // Nothing needs a gradient: nothing is recorded, and the saved statistics are freed.
        k = makeCase(gpu, shape, 96);
        y = ops.batchNorm2d(k.x, k.gamma, k.beta, k.runningMean, k.runningVar, { training: true, variant });
        expect(y.requiresGrad).toBe(false);
        expect(y.node).toBe(null);
        disposeCase(k);
      });
    }
    expect(gpu.stats().liveBuffers).toBe(before);
  });

  it('rejects bad shapes naming the op and the shapes', async () => {
    const gpu = await testGpu();
    scope(() => {
      const x = gpu.zeros([2, 3, 4, 5]);
      const c3 = gpu.zeros([3]);
      const c4 = gpu.zeros([4]);
      expect(() => ops.batchNorm2d(x, c4, c3, c3, c3, { training: true })).toThrow(/batchNorm2d: gamma \(for input \[2, 3, 4, 5\]\) expected \[3\], got \[4\]/);
      expect(() => ops.batchNorm2d(x, c3, c3, c3, c4, { training: false })).toThrow(/batchNorm2d: runningVar \(for input \[2, 3, 4, 5\]\) expected \[3\], got \[4\]/);
      expect(() => ops.batchNorm2d(gpu.zeros([3, 4, 5]), c3, c3, c3, c3, { training: true })).toThrow(/batchNorm2d: input expected rank 4 \[N, C, H, W\], got \[3, 4, 5\]/);
      expect(() => ops.batchNorm2d(gpu.zeros([1, 3, 1, 1]), c3, c3, c3, c3, { training: true })).toThrow(/batchNorm2d: input in training mode expected more than 1 value per channel, got \[1, 3, 1, 1\]/);
    });
  });
});
