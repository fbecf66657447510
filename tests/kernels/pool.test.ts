import { describe, expect, it } from 'vitest';
import { backward } from '../../src/graph/autograd.ts';
import { parameter } from '../../src/graph/module.ts';
import * as ops from '../../src/graph/ops.ts';
import { scope } from '../../src/graph/tensor.ts';
import type { MaxPoolVariant } from '../../src/kernels/pool.ts';
import { expectClose, finiteDiff, randArray, read, testGpu, weightedSum } from '../helpers.ts';
import * as ref from '../reference/pool.ts';

const FWD = { atol: 1e-6, rtol: 1e-6 };
const VARIANTS: MaxPoolVariant[] = ['reference', 'rows'];
const BWD = { atol: 2e-3, rtol: 2e-3 };

type Shape4 = [number, number, number, number];
type Pair = [number, number];

/** Distinct values at least 0.006 apart in random order: no ties or near-ties within 2 * FD eps. */
function tieFree(n: number, seed: number): Float64Array {
  const order = Array.from(randArray(n, seed), (r, i) => [r, i] as const).sort((a, b) => a[0] - b[0]);
  const jitter = randArray(n, seed + 1, 0, 0.004);
  const out = new Float64Array(n);
  order.forEach(([, i], rank) => (out[i] = (rank - n / 2) * 0.01 + jitter[i]));
  return out;
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

describe('maxPool2d', () => {
  const cases: { shape: Shape4; k: Pair; s: Pair; p: Pair }[] = [
    { shape: [2, 3, 7, 9], k: [3, 3], s: [2, 2], p: [1, 1] },
    { shape: [3, 5, 13, 11], k: [2, 2], s: [2, 2], p: [0, 0] },
    { shape: [2, 1, 7, 9], k: [3, 3], s: [1, 1], p: [1, 1] },
    { shape: [2, 3, 13, 11], k: [3, 2], s: [2, 1], p: [1, 0] },
    { shape: [2, 17, 8, 8], k: [3, 3], s: [2, 2], p: [1, 1] },
  ];

  it('forward matches the float64 reference (stride 2, padding, non-square windows)', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      for (const [ci, { shape, k, s, p }] of cases.entries()) {
        const xv = randArray(size(shape), 100 + ci, -3, 1);
        const y = ops.maxPool2d(gpu.tensor(xv, shape), { kernel: k, stride: s, padding: p });
        const want = ref.maxPool2d(xv, shape, k, s, p);
        expect(y.shape).toEqual(want.outShape);
        expectClose(await read(y), want.y, FWD, `maxPool2d ${shape} k${k} s${s} p${p}`);
      }
    });
  });

  it('padding acts as -inf: an all-negative input never pools to 0', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const shape: Shape4 = [2, 3, 5, 5];
      const xv = randArray(size(shape), 110, -5, -1);
      const y = await read(ops.maxPool2d(gpu.tensor(xv, shape), { kernel: 3, stride: 2, padding: 1 }));
      expect(Math.max(...y)).toBeLessThan(-1 + 1e-6);
      expectClose(y, ref.maxPool2d(xv, shape, [3, 3], [2, 2], [1, 1]).y, FWD, 'negative input');
    });
  });

  it('backward (every variant) matches finite differences on tie-free inputs (overlapping windows)', async () => {
    const gpu = await testGpu();
    for (const variant of VARIANTS) {
      for (const [ci, { shape, k, s, p }] of cases.slice(0, 4).entries()) {
        await scope(async () => {
          const small: Shape4 = [shape[0], Math.min(shape[1], 3), shape[2], shape[3]];
          const xv = tieFree(size(small), 120 + ci);
          const x = parameter(gpu.tensor(xv, small));
          const y = ops.maxPool2d(x, { kernel: k, stride: s, padding: p, variant });
          const w = randArray(y.size, 130 + ci);
          backward(y, gpu.tensor(w, y.shape));
          const fd = finiteDiff((v) => weightedSum(ref.maxPool2d(v, small, k, s, p).y, w), xv);
          expectClose(await read(x.grad!), fd, BWD, `d maxPool2d ${variant} ${small} k${k} s${s} p${p}`);
          x.grad!.dispose(); x.dispose();
        });
      }
    }
  });

  it('ties send the gradient to the first maximum, as torch (every backward variant)', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const shape: Shape4 = [2, 2, 6, 7];
      // Values from {0, 1, 2}: plenty of ties, including whole windows of equal values.
      const xv = randArray(size(shape), 140, 0, 3).map(Math.floor);
      for (let i = 0; i < 10; i++) xv[i] = 2;
      const want = ref.maxPool2d(xv, shape, [3, 3], [2, 2], [1, 1]);
      for (const variant of VARIANTS) {
        const x = parameter(gpu.tensor(xv, shape));
        const y = ops.maxPool2d(x, { kernel: 3, stride: 2, padding: 1, variant });
        const w = randArray(y.size, 141);
        backward(y, gpu.tensor(w, y.shape));
        expectClose(await read(y), want.y, FWD, `tied forward ${variant}`);
        expectClose(await read(x.grad!), ref.maxPool2dBackward(w, want.argmax, shape, want.outShape), FWD, `tied backward ${variant}`);
        x.grad!.dispose(); x.dispose();
      }
    });
  });

  it('records the argmax only when a gradient is needed', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const xv = randArray(2 * 3 * 7 * 9, 150);
      gpu.resetCounters();
      const y = ops.maxPool2d(gpu.tensor(xv, [2, 3, 7, 9]), { kernel: 2 });
      expect(y.shape).toEqual([2, 3, 3, 4]);
      expect(gpu.stats().dispatches['pool.max_pool']).toBe(1);
      expect(gpu.stats().dispatches['pool.max_pool_argmax'] ?? 0).toBe(0);
      const x = parameter(gpu.tensor(xv, [2, 3, 7, 9]));
      gpu.resetCounters();
      ops.maxPool2d(x, { kernel: 2 });
      expect(gpu.stats().dispatches['pool.max_pool_argmax']).toBe(1);
      x.dispose();
    });
  });

  it('rejects bad shapes and options naming the op', async () => {
    const gpu = await testGpu();
    scope(() => {
      expect(() => ops.maxPool2d(gpu.zeros([3, 7, 9]), { kernel: 2 })).toThrow(/maxPool2d: input expected rank 4 \[N, C, H, W\], got \[3, 7, 9\]/);
      expect(() => ops.maxPool2d(gpu.zeros([1, 1, 2, 9]), { kernel: 3 })).toThrow(/maxPool2d: input .*got \[1, 1, 2, 9\]/);
      expect(() => ops.maxPool2d(gpu.zeros([1, 1, 8, 8]), { kernel: 3, padding: 2 })).toThrow(/maxPool2d: padding \[2,2\] must be at most half the kernel \[3,3\]/);
      expect(() => ops.maxPool2d(gpu.zeros([1, 1, 8, 8]), { kernel: 0 })).toThrow(/maxPool2d: kernel/);
    });
  });
});

describe('adaptiveAvgPool2d / globalAvgPool', () => {
  // Not divisible (7 -> 3, 10 -> 4, 13 -> 4), upsampling (3 -> 5), identity, and global.
  const cases: { shape: Shape4; out: Pair }[] = [
    { shape: [2, 3, 7, 10], out: [3, 4] },
    { shape: [3, 5, 13, 11], out: [4, 3] },
    { shape: [2, 1, 3, 3], out: [5, 5] },
    { shape: [2, 17, 7, 9], out: [7, 9] },
    { shape: [3, 3, 7, 9], out: [1, 1] },
  ];

  it('forward matches the float64 reference', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      for (const [ci, { shape, out }] of cases.entries()) {
        const xv = randArray(size(shape), 200 + ci);
        const y = ops.adaptiveAvgPool2d(gpu.tensor(xv, shape), out);
        const want = ref.adaptiveAvgPool2d(xv, shape, out);
        expect(y.shape).toEqual(want.outShape);
        expectClose(await read(y), want.y, FWD, `adaptiveAvgPool2d ${shape} -> ${out}`);
      }
    });
  });

  it('globalAvgPool returns [N, C, 1, 1] means', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const shape: Shape4 = [2, 5, 13, 11];
      const xv = randArray(size(shape), 210);
      const y = ops.globalAvgPool(gpu.tensor(xv, shape));
      expect(y.shape).toEqual([2, 5, 1, 1]);
      expectClose(await read(y), ref.adaptiveAvgPool2d(xv, shape, [1, 1]).y, FWD, 'globalAvgPool');
    });
  });

  it('backward matches finite differences (overlapping and repeated bins)', async () => {
    const gpu = await testGpu();
    for (const [ci, { shape, out }] of cases.entries()) {
      await scope(async () => {
        const small: Shape4 = [shape[0], Math.min(shape[1], 2), shape[2], shape[3]];
        const xv = randArray(size(small), 220 + ci);
        const x = parameter(gpu.tensor(xv, small));
        const y = ci === cases.length - 1 ? ops.globalAvgPool(x) : ops.adaptiveAvgPool2d(x, out);
        const w = randArray(y.size, 230 + ci);
        backward(y, gpu.tensor(w, y.shape));
        const fd = finiteDiff((v) => weightedSum(ref.adaptiveAvgPool2d(v, small, out).y, w), xv);
        expectClose(await read(x.grad!), fd, BWD, `d adaptiveAvgPool2d ${small} -> ${out}`);
        x.grad!.dispose(); x.dispose();
      });
    }
  });

  it('rejects bad shapes naming the op', async () => {
    const gpu = await testGpu();
    scope(() => {
      expect(() => ops.adaptiveAvgPool2d(gpu.zeros([2, 3, 4]), [1, 1])).toThrow(/adaptiveAvgPool2d: input expected rank 4 \[N, C, H, W\], got \[2, 3, 4\]/);
      expect(() => ops.globalAvgPool(gpu.zeros([6, 4]))).toThrow(/globalAvgPool: input expected rank 4 \[N, C, H, W\], got \[6, 4\]/);
      expect(() => ops.adaptiveAvgPool2d(gpu.zeros([1, 1, 4, 4]), [0, 2])).toThrow(/adaptiveAvgPool2d: output size expected \[oh, ow\] of positive integers, got \[0, 2\]/);
    });
  });
});
