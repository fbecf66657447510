import { describe, expect, it } from 'vitest';
import { backward } from '../../src/graph/autograd.ts';
import { parameter } from '../../src/graph/module.ts';
import * as ops from '../../src/graph/ops.ts';
import { Tensor, scope } from '../../src/graph/tensor.ts';
import { type GpuData, type Runtime } from '../../src/kernels/runtime/index.ts';
import * as sm from '../../src/kernels/softmax.ts';
import { expectClose, finiteDiff, randArray, read, testGpu, weightedSum } from '../helpers.ts';
import * as ref from '../reference/softmax.ts';

// Softmax outputs are in [0, 1]; a few float32 ulps of 1.
const FWD = { atol: 1e-6, rtol: 1e-5 };
// Losses of logits up to +-80: lse - x[label] loses the low bits of two numbers near 80
// (ulp(80) = 7.6e-6), so the absolute tolerance is a few ulps of 80.
const LOSS = { atol: 3e-5, rtol: 1e-5 };
// Gradients against central differences (float64, eps 1e-3: truncation ~1e-7) and against the
// analytic float64 gradient.
const BWD = { atol: 1e-5, rtol: 1e-4 };

// Values as the GPU sees them, so that the float64 references see the same inputs.
const f32 = (a: Float64Array): Float64Array => Float64Array.from(new Float32Array(a));
const randLabels = (n: number, c: number, seed: number): number[] => Array.from(randArray(n, seed, 0, c), (v) => Math.min(c - 1, Math.floor(v)));

const SHAPES: [number, number][] = [];
for (const n of [1, 3, 17]) for (const c of [2, 3, 10, 12, 1000, 1001]) SHAPES.push([n, c]);

/** Every variant that applies to C: the auto choice, reference, vec4 (C % 4 == 0), workgroup (several TPR). */
function variants(c: number): sm.RowOptions[] {
  const v: sm.RowOptions[] = [{}, { variant: 'reference' }, { variant: 'workgroup' }, { variant: 'workgroup', threadsPerRow: 1 }, { variant: 'workgroup', threadsPerRow: 4 }];
  if (c >= 256) v.push({ variant: 'workgroup', threadsPerRow: 256 });
  if (c % 4 === 0) v.push({ variant: 'vec4' });
  return v;
}
/** A kernel result as a scope-tracked tensor (disposed with the test's scope). */
const wrap = (d: GpuData): Tensor => new Tensor(kernelRt, d);
let kernelRt: Runtime;
const label = (o: sm.RowOptions) => `${o.variant ?? 'auto'}${o.threadsPerRow ? `/tpr${o.threadsPerRow}` : ''}`;

/** Analytic float64 gradient of the loss w.r.t. logits, times upstream g ([1] or [N]). */
function crossEntropyGrad(x: Float64Array, labels: number[], c: number, eps: number, reduction: ref.Reduction, g: ArrayLike<number>): Float64Array {
  const n = labels.length;
  const p = ref.softmax(x, c);
  return p.map((v, i) => {
    const r = Math.floor(i / c);
    const target = (i % c === labels[r] ? 1 - eps : 0) + eps / c;
    const gr = reduction === 'none' ? g[r] : g[0];
    return (v - target) * gr * (reduction === 'mean' ? 1 / n : 1);
  });
}

describe('softmax', () => {
  it('forward matches float64 for every variant on awkward shapes with logits up to +-80', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      for (const [n, c] of SHAPES) {
        const xv = f32(randArray(n * c, n * 100 + c, -80, 80));
        const x = gpu.tensor(xv, [n, c]);
        const expected = ref.softmax(xv, c);
        for (const o of variants(c)) expectClose(await read(ops.softmax(x, o)), expected, FWD, `softmax [${n}, ${c}] ${label(o)}`);
      }
    });
  });

  it('softmax over the last axis of a rank-3 tensor', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const xv = f32(randArray(2 * 5 * 7, 9, -4, 4));
      expectClose(await read(ops.softmax(gpu.tensor(xv, [2, 5, 7]))), ref.softmax(xv, 7), FWD, 'softmax [2, 5, 7]');
    });
  });

  it('backward kernel matches y * (dy - sum(dy * y)) for every variant', async () => {
    const gpu = await testGpu();
    kernelRt = gpu.rt;
    await scope(async () => {
      for (const [n, c] of [[3, 1000], [17, 1001], [17, 10], [1, 3]] as const) {
        const yv = f32(ref.softmax(randArray(n * c, n + c, -5, 5), c));
        const dyv = f32(randArray(n * c, n * c, -1, 1));
        const expected = new Float64Array(n * c);
        for (let r = 0; r < n; r++) {
          let d = 0;
          for (let j = 0; j < c; j++) d += dyv[r * c + j] * yv[r * c + j];
          for (let j = 0; j < c; j++) expected[r * c + j] = yv[r * c + j] * (dyv[r * c + j] - d);
        }
        const y = gpu.tensor(yv, [n, c]);
        const dy = gpu.tensor(dyv, [n, c]);
        for (const o of variants(c)) expectClose(await read(wrap(sm.softmaxBackward(gpu.rt, dy, y, o))), expected, { atol: 1e-7, rtol: 1e-5 }, `softmaxBackward [${n}, ${c}] ${label(o)}`);
      }
    });
  });

  it('backward rule against central finite differences (every variant)', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      for (const [n, c] of [[3, 10], [2, 12], [1, 3]] as const) {
        const xv = f32(randArray(n * c, 7 * c, -3, 3));
        const w = randArray(n * c, 8 * c);
        for (const o of variants(c)) {
          const x = parameter(gpu.tensor(xv, [n, c]));
          backward(ops.softmax(x, o), gpu.tensor(w, [n, c]));
          expectClose(await read(x.grad!), finiteDiff((v) => weightedSum(ref.softmax(v, c), w), xv), BWD, `d softmax [${n}, ${c}] ${label(o)}`);
          x.grad!.dispose(); x.dispose();
        }
      }
    });
  });
});

describe('softmaxCrossEntropy', () => {
  it('forward matches float64: every variant, label smoothing 0 and 0.1, mean / sum / none, logits up to +-80', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      for (const [n, c] of SHAPES) {
        const xv = f32(randArray(n * c, n * 31 + c, -80, 80));
        const lv = randLabels(n, c, n + c);
        const x = gpu.tensor(xv, [n, c]);
        const labels = ops.labels(gpu, lv, c);
        for (const o of variants(c)) {
          for (const labelSmoothing of [0, 0.1]) {
            for (const reduction of ['mean', 'sum', 'none'] as const) {
              const loss = ops.softmaxCrossEntropy(x, labels, { ...o, labelSmoothing, reduction });
              expect(loss.shape).toEqual(reduction === 'none' ? [n] : [1]);
              expectClose(await read(loss), ref.crossEntropy(xv, lv, c, labelSmoothing, reduction), { ...LOSS, atol: LOSS.atol * (reduction === 'sum' ? n : 1) }, `CE [${n}, ${c}] ${label(o)} eps ${labelSmoothing} ${reduction}`);
            }
          }
        }
      }
    });
  });

  it('backward kernel matches the analytic gradient on large rows (vec4 and scalar, several chunk lengths)', async () => {
    const gpu = await testGpu();
    kernelRt = gpu.rt;
    await scope(async () => {
      for (const [n, c] of [[17, 1000], [3, 1001], [3, 12], [17, 2]] as const) {
        const xv = f32(randArray(n * c, n + 5 * c, -80, 80));
        const lv = randLabels(n, c, c);
        const x = gpu.tensor(xv, [n, c]);
        const labels = ops.labels(gpu, lv, c);
        const { lse } = sm.crossEntropy(gpu.rt, x, labels, { labelSmoothing: 0.1 });
        const lseT = wrap(lse);
        const gv = f32(randArray(n, 3 * c, 0.5, 2));
        const g = gpu.tensor(gv, [n]);
        const expected = crossEntropyGrad(xv, lv, c, 0.1, 'none', gv);
        for (const vec4 of c % 4 === 0 ? [false, true] : [false]) {
          for (const chunkLen of [1, 3, 16, 1024]) {
            const d = wrap(sm.crossEntropyBackward(gpu.rt, x, labels, lseT, g, { labelSmoothing: 0.1, vec4, chunkLen }));
            expectClose(await read(d), expected, { atol: 1e-7, rtol: 1e-4 }, `CE backward [${n}, ${c}] vec4 ${vec4} chunk ${chunkLen}`);
          }
        }
      }
    });
  });

  it('backward rule against central finite differences: smoothing, reductions, variants', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      for (const [n, c] of [[3, 10], [2, 12], [1, 3], [4, 2]] as const) {
        const xv = f32(randArray(n * c, 11 * c + n, -3, 3));
        const lv = randLabels(n, c, 5 * c);
        const labels = ops.labels(gpu, lv, c);
        for (const o of variants(c)) {
          for (const labelSmoothing of [0, 0.1]) {
            for (const reduction of ['mean', 'sum', 'none'] as const) {
              const w = randArray(reduction === 'none' ? n : 1, 13 * c + n, 0.5, 1.5);
              const x = parameter(gpu.tensor(xv, [n, c]));
              const loss = ops.softmaxCrossEntropy(x, labels, { ...o, labelSmoothing, reduction });
              backward(loss, gpu.tensor(w, loss.shape));
              const fd = finiteDiff((v) => weightedSum(ref.crossEntropy(v, lv, c, labelSmoothing, reduction), w), xv);
              expectClose(await read(x.grad!), fd, BWD, `d CE [${n}, ${c}] ${label(o)} eps ${labelSmoothing} ${reduction}`);
              x.grad!.dispose(); x.dispose();
            }
          }
        }
      }
    });
  });

  it('labels outside [0, C) give NaN losses and NaN gradient rows; labels() checks on the CPU', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      for (const c of [3, 12]) {
        const xv = f32(randArray(4 * c, c, -2, 2));
        const lv = [1, c, -1, 0];
        for (const o of variants(c)) {
          const x = parameter(gpu.tensor(xv, [4, c]));
          const labels = gpu.tensor(lv, [4], 'i32');
          const rows = await read(ops.softmaxCrossEntropy(x, labels, { ...o, reduction: 'none' }));
          expect([Number.isNaN(rows[0]), Number.isNaN(rows[1]), Number.isNaN(rows[2]), Number.isNaN(rows[3])]).toEqual([false, true, true, false]);
          const mean = ops.softmaxCrossEntropy(x, labels, o);
          expect(Number.isNaN(await mean.item())).toBe(true);
          backward(mean);
          const grad = await read(x.grad!);
          for (let r = 0; r < 4; r++) expect(Number.isNaN(grad[r * c])).toBe(r === 1 || r === 2);
          x.grad!.dispose(); x.dispose();
        }
      }
      expect(() => ops.labels(gpu, [0, 2, 5, 1], 5)).toThrow(/labels: label at index 2 is 5, outside \[0, 5\)/);
      expect(() => ops.labels(gpu, [0, -1], 5)).toThrow(/labels: label at index 1 is -1/);
      expect(() => ops.labels(gpu, [0.5], 5)).toThrow(/labels: label at index 0 is 0.5/);
      const ok = ops.labels(gpu, [0, 4, 2], 5);
      expect(ok.dtype).toBe('i32');
      expect(Array.from(await ok.data())).toEqual([0, 4, 2]);
    });
  });

  it('labels never get a gradient dispatch; a frozen-logits path gets none', async () => {
    const gpu = await testGpu();
    const softmaxDispatches = (d: Record<string, number>) => Object.entries(d).filter(([k]) => k.startsWith('softmax.')).reduce((s, [, v]) => s + v, 0);
    await scope(async () => {
      const xv = randArray(5 * 12, 3);
      const labels = ops.labels(gpu, [0, 11, 3, 4, 5], 12);
      // Trainable logits: the backward is exactly one cross-entropy-backward dispatch.
      const x = parameter(gpu.tensor(xv, [5, 12]));
      const loss = ops.softmaxCrossEntropy(x, labels, { labelSmoothing: 0.1 });
      gpu.resetCounters();
      backward(loss);
      expect(softmaxDispatches(gpu.stats().dispatches)).toBe(1);
      expect(labels.grad).toBe(null);
      x.grad!.dispose(); x.dispose();
      // Frozen logits beside a trainable branch: nothing of this family runs in the backward.
      const frozen = parameter(gpu.tensor(xv, [5, 12]), false);
      const w = parameter(gpu.tensor([0.5], [1]));
      const frozenLoss = ops.add(ops.softmaxCrossEntropy(frozen, labels), ops.sum(ops.softmax(frozen)));
      expect(frozenLoss.requiresGrad).toBe(false);
      const total = ops.add(frozenLoss, w);
      gpu.resetCounters();
      backward(total);
      expect(softmaxDispatches(gpu.stats().dispatches)).toBe(0);
      expect(frozen.grad).toBe(null);
      expect(await w.grad!.item()).toBe(1);
      w.grad!.dispose(); w.dispose(); frozen.dispose();
    });
  });

  it('rejects bad dtypes, shapes and options naming the op and the shapes', async () => {
    const gpu = await testGpu();
    scope(() => {
      const x = gpu.zeros([3, 10]);
      expect(() => ops.softmaxCrossEntropy(x, gpu.tensor([0, 1, 2], [3]))).toThrow(/softmaxCrossEntropy: labels expected dtype i32, got f32/);
      expect(() => ops.softmaxCrossEntropy(x, gpu.tensor([0, 1, 2, 3], [4], 'i32'))).toThrow(/softmaxCrossEntropy: labels \(for logits \[3, 10\]\) expected \[3\], got \[4\]/);
      expect(() => ops.softmaxCrossEntropy(x, gpu.tensor([0, 1, 2], [3, 1], 'i32'))).toThrow(/softmaxCrossEntropy: labels .* expected \[3\], got \[3, 1\]/);
      expect(() => ops.softmaxCrossEntropy(gpu.zeros([30]), gpu.tensor([0], [1], 'i32'))).toThrow(/softmaxCrossEntropy: logits expected \[N, C\].*, got \[30\]/);
      const labels = gpu.tensor([0, 1, 2], [3], 'i32');
      expect(() => ops.softmaxCrossEntropy(labels as never, labels)).toThrow(/softmaxCrossEntropy: logits expected dtype f32, got i32/);
      expect(() => ops.softmaxCrossEntropy(x, labels, { labelSmoothing: 1.5 })).toThrow(/labelSmoothing must be in \[0, 1\], got 1.5/);
      expect(() => ops.softmaxCrossEntropy(x, labels, { reduction: 'avg' as never })).toThrow(/reduction must be 'mean', 'sum' or 'none', got 'avg'/);
      expect(() => ops.softmaxCrossEntropy(x, labels, { variant: 'vec4' })).toThrow(/variant 'vec4' needs C % 4 == 0, got C = 10/);
      expect(() => ops.softmax(x, { variant: 'workgroup', threadsPerRow: 3 })).toThrow(/softmax: threadsPerRow must be a power of two/);
      expect(() => ops.softmax(gpu.tensor([1, 2], [2], 'i32'))).toThrow(/softmax: input expected dtype f32, got i32/);
    });
  });

  it('rows beyond the per-dimension workgroup limit are all computed (2-D grid)', async () => {
    const gpu = await testGpu();
    // A small dispatch limit forces the y dimension of the grid for every variant (restored after):
    // 6000 rows are 375 workgroups of 16 rows and 24 of 256 rows, all above 20 and within 20^2.
    const limits = gpu.rt.report.limits;
    const saved = limits.maxComputeWorkgroupsPerDimension;
    limits.maxComputeWorkgroupsPerDimension = 20;
    try {
      await scope(async () => {
        const [n, c] = [6000, 12];
        const xv = f32(randArray(n * c, 77, -5, 5));
        const lv = randLabels(n, c, 78);
        const x = gpu.tensor(xv, [n, c]);
        const labels = ops.labels(gpu, lv, c);
        for (const o of variants(c)) {
          expectClose(await read(ops.softmax(x, o)), ref.softmax(xv, c), FWD, `softmax 2-D grid ${label(o)}`);
          expectClose(await read(ops.softmaxCrossEntropy(x, labels, { ...o, reduction: 'none' })), ref.crossEntropyRows(xv, lv, c, 0), LOSS, `CE 2-D grid ${label(o)}`);
        }
        const xp = parameter(gpu.tensor(xv, [n, c]));
        backward(ops.softmaxCrossEntropy(xp, labels));
        expectClose(await read(xp.grad!), crossEntropyGrad(xv, lv, c, 0, 'mean', [1]), { atol: 1e-8, rtol: 1e-4 }, 'CE backward 2-D grid');
        xp.grad!.dispose(); xp.dispose();
      });
    } finally {
      limits.maxComputeWorkgroupsPerDimension = saved;
    }
  });
});
