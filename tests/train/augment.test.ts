// On-GPU augmentation vs CPU references: crop with padding and flip exactly, bilinear resize vs a
// float64 align_corners=False reference and PyTorch's F.interpolate (fixture), normalisation.
import { describe, expect, it } from 'vitest';
import { scope } from '../../src/graph/tensor.ts';
import type { Preprocessing } from '../../src/models/image.ts';
import { augmentation, fromModelPreprocessing, preprocessOnGpu } from '../../src/data/augment.ts';
import { expectClose, randArray, read, testGpu } from '../helpers.ts';
import torch from './fixtures/torch.json';

/** Zero-pad by p, take the window at (oy + p, ox + p), flip: the torchvision definition. */
function cropFlipRef(x: Float64Array, [n, c, h, w]: number[], offsets: Int32Array, oh: number, ow: number): Float64Array {
  const out = new Float64Array(n * c * oh * ow);
  for (let i = 0; i < n; i++) {
    const [oy, ox, flip] = [offsets[3 * i], offsets[3 * i + 1], offsets[3 * i + 2]];
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < oh; y++)
        for (let xo = 0; xo < ow; xo++) {
          // The crop's column before flipping.
          const col = flip ? ow - 1 - xo : xo;
          const sy = y + oy;
          const sx = col + ox;
          const inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
          out[((i * c + ch) * oh + y) * ow + xo] = inside ? x[((i * c + ch) * h + sy) * w + sx] : 0;
        }
  }
  return out;
}

/** Bilinear resize with align_corners=False (half-pixel centres, clamped at the edges), float64. */
function resizeRef(x: Float64Array, [n, c, h, w]: number[], oh: number, ow: number): Float64Array {
  const out = new Float64Array(n * c * oh * ow);
  const src = (o: number, scale: number, len: number): [number, number, number] => {
    const s = Math.max((o + 0.5) * scale - 0.5, 0);
    const i0 = Math.min(Math.floor(s), len - 1);
    return [i0, Math.min(i0 + 1, len - 1), s - i0];
  };
  for (let p = 0; p < n * c; p++)
    for (let y = 0; y < oh; y++)
      for (let xo = 0; xo < ow; xo++) {
        const [y0, y1, ly] = src(y, h / oh, h);
        const [x0, x1, lx] = src(xo, w / ow, w);
        const at = (yy: number, xx: number) => x[p * h * w + yy * w + xx];
        out[(p * oh + y) * ow + xo] = (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
      }
  return out;
}

describe('random crop with padding and horizontal flip', () => {
  it('matches the CPU definition exactly for the drawn offsets, with a crop smaller than the image', async () => {
    const gpu = await testGpu();
    const shape = [5, 2, 6, 7];
    const x = randArray(shape.reduce((a, b) => a * b), 3);
    const aug = augmentation({ randomCrop: { padding: 2, size: [4, 5] }, horizontalFlip: true });
    const seed = 1234;
    const d = aug.draw(5, 6, 7, seed);
    // Offsets lie in [-p, h + p - size] and both flip states occur in this batch.
    for (let i = 0; i < 5; i++) {
      expect(d.offsets[3 * i]).toBeGreaterThanOrEqual(-2);
      expect(d.offsets[3 * i]).toBeLessThanOrEqual(6 + 2 - 4);
      expect(d.offsets[3 * i + 1]).toBeLessThanOrEqual(7 + 2 - 5);
    }
    const flips = [0, 1, 2, 3, 4].map((i) => d.offsets[3 * i + 2]);
    expect(flips).toContain(0);
    expect(flips).toContain(1);
    const got = await scope(async () => read(aug.apply(gpu.tensor(x, shape), seed)));
    expect(got).toEqual(cropFlipRef(Float64Array.from(Float32Array.from(x)), shape, d.offsets, 4, 5));
  });

  it('is seeded: the same seed gives the same batch, another seed another; flips are about half', async () => {
    const gpu = await testGpu();
    const shape = [4, 1, 5, 5];
    const x = randArray(100, 8);
    const aug = augmentation({ randomCrop: { padding: 1 }, horizontalFlip: true });
    const [a, b, c] = await scope(async () => {
      const t = gpu.tensor(x, shape);
      return Promise.all([read(aug.apply(t, 1)), read(aug.apply(t, 1)), read(aug.apply(t, 2))]);
    });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    let flips = 0;
    for (let s = 0; s < 50; s++) {
      const d = aug.draw(20, 5, 5, s);
      for (let i = 0; i < 20; i++) flips += d.offsets[3 * i + 2];
    }
    expect(flips / 1000).toBeGreaterThan(0.45);
    expect(flips / 1000).toBeLessThan(0.55);
  });

  it('bad options are named', () => {
    expect(() => augmentation({ randomCrop: { padding: -1 } })).toThrow(/padding must be an integer >= 0, got -1/);
    expect(() => augmentation({ horizontalFlip: 2 })).toThrow(/horizontalFlip probability must be in \[0, 1\], got 2/);
    expect(() => augmentation({ randomCrop: { size: [9, 9] } }).draw(1, 4, 4, 0)).toThrow(/crop 9x9 is larger than the 4x4 image padded by 0/);
  });
});

describe('bilinear resize (align_corners = False)', () => {
  it('vs PyTorch F.interpolate (fixture), down and up', async () => {
    const gpu = await testGpu();
    const { input, shape, outputs } = torch.resize;
    for (const [size, expected] of Object.entries(outputs)) {
      const [oh, ow] = size.split('x').map(Number);
      const got = await scope(async () => read(augmentation({ resize: [oh, ow] }).apply(gpu.tensor(input, shape), 0)));
      expectClose(got, expected, { atol: 2e-6, rtol: 1e-5 }, `resize to ${size}`);
    }
  });

  it('vs a float64 reference on awkward sizes, followed by crop and flip', async () => {
    const gpu = await testGpu();
    const shape = [2, 3, 7, 9];
    const x = Float64Array.from(Float32Array.from(randArray(2 * 3 * 7 * 9, 12)));
    const aug = augmentation({ resize: [13, 5], randomCrop: { padding: 1, size: [12, 5] }, horizontalFlip: 0.5 });
    const got = await scope(async () => read(aug.apply(gpu.tensor(x, shape), 99)));
    const resized = resizeRef(x, shape, 13, 5);
    const expected = cropFlipRef(resized, [2, 3, 13, 5], aug.draw(2, 13, 5, 99).offsets, 12, 5);
    expectClose(got, expected, { atol: 2e-6, rtol: 1e-5 }, 'resize + crop + flip');
  });
});

describe('preprocessing on the GPU', () => {
  it("a model's Preprocessing: [0, 1] batches, resize, BGR order, (v * 255 * scale - mean) / std", async () => {
    const gpu = await testGpu();
    const prep: Preprocessing = { size: [4, 6], channels: 'BGR', scale: 1, mean: [103.9, 116.8, 123.7], std: [57.4, 57.1, 58.4], resize: 'bilinear', crop: 'none' };
    const shape = [2, 3, 5, 5];
    const x = Float64Array.from(Float32Array.from(randArray(150, 4, 0, 1)));
    const got = await scope(async () => read(preprocessOnGpu(gpu.tensor(x, shape), fromModelPreprocessing(prep))));
    const r = resizeRef(x, shape, 4, 6);
    const expected = new Float64Array(2 * 3 * 24);
    for (let n = 0; n < 2; n++)
      for (let c = 0; c < 3; c++)
        for (let i = 0; i < 24; i++) expected[(n * 3 + c) * 24 + i] = (r[(n * 3 + (2 - c)) * 24 + i] * 255 - prep.mean[c]) / prep.std[c];
    expectClose(got, expected, { atol: 1e-4, rtol: 1e-5 }, 'preprocess');
  });

  it("centre crop as the model's Preprocessing: the shorter side to size * 256/224, then the central window", async () => {
    const gpu = await testGpu();
    const prep: Preprocessing = { size: [7, 7], channels: 'RGB', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], resize: 'bilinear', crop: 'center' };
    const shape = [1, 3, 6, 9];
    const x = Float64Array.from(Float32Array.from(randArray(162, 14, 0, 1)));
    const got = await scope(async () => read(preprocessOnGpu(gpu.tensor(x, shape), fromModelPreprocessing(prep))));
    // round(7 * 256 / 224) = 8: 6x9 -> 8x12, then rows 0..6 and columns 2..8.
    const r = resizeRef(x, shape, 8, 12);
    const expected = new Float64Array(3 * 49);
    for (let c = 0; c < 3; c++) for (let y = 0; y < 7; y++) for (let xo = 0; xo < 7; xo++) expected[(c * 7 + y) * 7 + xo] = r[(c * 8 + y) * 12 + xo + 2];
    expectClose(got, expected, { atol: 2e-6, rtol: 1e-5 }, 'centre crop');
  });

  it('a gray batch becomes 3 channels; bad mean/std are named', async () => {
    const gpu = await testGpu();
    const x = randArray(2 * 4, 6, 0, 1);
    const p = { mean: [0.1, 0.2, 0.3], std: [0.5, 0.25, 2] };
    const got = await scope(async () => read(preprocessOnGpu(gpu.tensor(x, [2, 1, 2, 2]), p)));
    const expected = new Float64Array(24);
    for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) for (let i = 0; i < 4; i++) expected[(n * 3 + c) * 4 + i] = (Math.fround(x[n * 4 + i]) - p.mean[c]) / p.std[c];
    expectClose(got, expected, { atol: 1e-6, rtol: 1e-5 }, 'gray to RGB');
    await scope(async () => {
      const t = gpu.tensor(randArray(2 * 2 * 4, 1), [2, 2, 2, 2]);
      expect(() => preprocessOnGpu(t, p)).toThrow(/has 2 channel\(s\); cannot make 3 output channels from input channels \[0, 1, 2\]/);
      expect(() => preprocessOnGpu(t, { mean: [0, 0], std: [1] })).toThrow(/mean and std need one value per output channel/);
      expect(() => preprocessOnGpu(t, { mean: [0, 0], std: [1, 0] })).toThrow(/std must not be 0/);
    });
  });
});
