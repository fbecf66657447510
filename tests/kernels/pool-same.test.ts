// Max pooling with TensorFlow's 'same' padding and explicit per-side padding, against a float64
// reference written from TF's definition (OH = ceil(H / s); the odd padding pixel at the bottom/right).
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/graph/autograd.ts';
import { parameter } from '../../src/graph/module.ts';
import * as ops from '../../src/graph/ops.ts';
import { scope } from '../../src/graph/tensor.ts';
import type { MaxPoolPadding, MaxPoolVariant } from '../../src/kernels/pool.ts';
import { MaxPool2d } from '../../src/models/layers.ts';
import { expectClose, finiteDiff, randArray, read, testGpu, weightedSum } from '../helpers.ts';

type Shape4 = [number, number, number, number];
type Pair = [number, number];
type Sides = [number, number, number, number];

const FWD = { atol: 1e-6, rtol: 1e-6 };
const BWD = { atol: 2e-3, rtol: 2e-3 };
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** TF's SAME padding for one axis: [before, after]. */
function tfSame(len: number, k: number, s: number): [number, number] {
  const out = Math.ceil(len / s);
  const total = Math.max((out - 1) * s + k - len, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** Max over the in-bounds part of each window; windows start at o*s - before. */
function refMaxPool(x: Float64Array, [n, c, h, w]: Shape4, [kh, kw]: Pair, [sh, sw]: Pair, [top, bottom, left, right]: Sides) {
  const oh = Math.floor((h + top + bottom - kh) / sh) + 1;
  const ow = Math.floor((w + left + right - kw) / sw) + 1;
  const y = new Float64Array(n * c * oh * ow);
  for (let p = 0; p < n * c; p++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let best = -Infinity;
        for (let iy = oy * sh - top; iy < oy * sh - top + kh; iy++) {
          for (let ix = ox * sw - left; ix < ox * sw - left + kw; ix++) {
            if (iy >= 0 && iy < h && ix >= 0 && ix < w) best = Math.max(best, x[(p * h + iy) * w + ix]);
          }
        }
        y[(p * oh + oy) * ow + ox] = best;
      }
    }
  }
  return { y, outShape: [n, c, oh, ow] };
}

/** Distinct values in random order (no ties, so finite differences are clean). */
function tieFree(n: number, seed: number): Float64Array {
  const order = Array.from(randArray(n, seed), (r, i) => [r, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Float64Array(n);
  order.forEach(([, i], rank) => (out[i] = (rank - n / 2) * 0.01));
  return out;
}

const cases: { shape: Shape4; k: Pair; s: Pair; padding: MaxPoolPadding; sides: Sides }[] = [
  // Odd H and W, 2x2 stride 2: one extra row and column of padding at the bottom/right.
  { shape: [2, 3, 7, 9], k: [2, 2], s: [2, 2], padding: 'same', sides: [...tfSame(7, 2, 2), ...tfSame(9, 2, 2)] },
  // Stride-1 2x2 pool: TF pads bottom/right only, output as large as the input.
  { shape: [2, 2, 8, 6], k: [2, 2], s: [1, 1], padding: 'same', sides: [...tfSame(8, 2, 1), ...tfSame(6, 2, 1)] },
  // 3x3 stride 2: symmetric on H = 7, asymmetric on W = 6.
  { shape: [1, 2, 7, 6], k: [3, 3], s: [2, 2], padding: 'same', sides: [...tfSame(7, 3, 2), ...tfSame(6, 3, 2)] },
  // Even H, W with a 2x2 stride-2 pool: no padding at all.
  { shape: [1, 3, 8, 10], k: [2, 2], s: [2, 2], padding: 'same', sides: [0, 0, 0, 0] },
  // Explicit per-side padding.
  { shape: [2, 2, 5, 7], k: [3, 2], s: [1, 2], padding: [0, 2, 1, 0], sides: [0, 2, 1, 0] },
];

describe("maxPool2d with 'same' and per-side padding", () => {
  it('the reference padding follows TF: the odd pixel goes to the bottom/right', () => {
    expect(tfSame(7, 2, 2)).toEqual([0, 1]);
    expect(tfSame(8, 2, 1)).toEqual([0, 1]);
    expect(tfSame(6, 3, 2)).toEqual([0, 1]);
    expect(tfSame(7, 3, 2)).toEqual([1, 1]);
  });

  it('forward matches the float64 reference (shape and values)', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      for (const [ci, { shape, k, s, padding, sides }] of cases.entries()) {
        // All-negative inputs: a padded position read as 0 instead of -inf would show.
        const xv = randArray(size(shape), 300 + ci, -4, -1);
        const y = ops.maxPool2d(gpu.tensor(xv, shape), { kernel: k, stride: s, padding });
        const want = refMaxPool(xv, shape, k, s, sides);
        expect(y.shape).toEqual(want.outShape);
        expectClose(await read(y), want.y, FWD, `maxPool2d ${shape} k${k} s${s} ${JSON.stringify(padding)}`);
      }
    });
  });

  it("'same' output size is ceil(H / stride)", async () => {
    const gpu = await testGpu();
    scope(() => {
      expect(ops.maxPool2d(gpu.zeros([1, 1, 13, 14]), { kernel: 2, padding: 'same' }).shape).toEqual([1, 1, 7, 7]);
      expect(ops.maxPool2d(gpu.zeros([1, 1, 13, 14]), { kernel: 2, stride: 1, padding: 'same' }).shape).toEqual([1, 1, 13, 14]);
      expect(ops.maxPool2d(gpu.zeros([1, 1, 5, 5]), { kernel: 3, stride: 3, padding: 'same' }).shape).toEqual([1, 1, 2, 2]);
    });
  });

  it('backward (every variant) matches finite differences', async () => {
    const gpu = await testGpu();
    for (const variant of ['reference', 'rows'] as MaxPoolVariant[]) {
      for (const [ci, { shape, k, s, padding, sides }] of cases.entries()) {
        await scope(async () => {
          const small: Shape4 = [1, 2, shape[2], shape[3]];
          const xv = tieFree(size(small), 320 + ci);
          const x = parameter(gpu.tensor(xv, small));
          const y = ops.maxPool2d(x, { kernel: k, stride: s, padding, variant });
          const w = randArray(y.size, 330 + ci);
          backward(y, gpu.tensor(w, y.shape));
          const fd = finiteDiff((v) => weightedSum(refMaxPool(v, small, k, s, sides).y, w), xv);
          expectClose(await read(x.grad!), fd, BWD, `d maxPool2d ${variant} ${small} k${k} s${s} ${JSON.stringify(padding)}`);
          x.grad!.dispose();
          x.dispose();
        });
      }
    }
  });

  it("the MaxPool2d layer takes 'same'", async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const shape: Shape4 = [1, 2, 5, 5];
      const xv = randArray(size(shape), 340, -2, -1);
      const y = new MaxPool2d(2, 2, 'same').forward(gpu.tensor(xv, shape));
      expectClose(await read(y), refMaxPool(xv, shape, [2, 2], [2, 2], [0, 1, 0, 1]).y, FWD, 'MaxPool2d same');
    });
  });

  it('rejects padding that would leave a window wholly in the padding, or of an unknown form', async () => {
    const gpu = await testGpu();
    scope(() => {
      const x = gpu.zeros([1, 1, 8, 8]);
      expect(() => ops.maxPool2d(x, { kernel: 2, padding: [0, 2, 0, 0] })).toThrow(/maxPool2d: padding \[0,2,0,0\] must be less than the kernel \[2,2\] on each side/);
      expect(() => ops.maxPool2d(x, { kernel: 2, padding: [0, -1, 0, 0] })).toThrow(/maxPool2d: padding \[0,-1,0,0\] must be integers >= 0/);
      expect(() => ops.maxPool2d(x, { kernel: 2, padding: 'valid' as MaxPoolPadding })).toThrow(/maxPool2d: padding must be .* or 'same', got "valid"/);
    });
  });
});
