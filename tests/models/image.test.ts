// Image preprocessing on the CPU: resizing against half-pixel bilinear (enlarging) and the
// antialiasing triangle filter's exact weights (halving), and pixels -> model input.
import { describe, expect, it } from 'vitest';
import { type Preprocessing, type RawImage, imageToInput, resizeBilinear } from '../../src/models/image.ts';
import { expectClose, randArray } from '../helpers.ts';

const EXACT = { atol: 1e-4, rtol: 1e-6 };

/** Half-pixel-centre bilinear with edge clamping (TF half_pixel_centers, torch align_corners=False). */
function bilinearRef(src: Float64Array, h: number, w: number, c: number, oh: number, ow: number): Float64Array {
  const out = new Float64Array(oh * ow * c);
  const at = (y: number, x: number, ch: number) => src[(Math.min(Math.max(y, 0), h - 1) * w + Math.min(Math.max(x, 0), w - 1)) * c + ch];
  for (let oy = 0; oy < oh; oy++) {
    const y = Math.max((oy + 0.5) * (h / oh) - 0.5, 0);
    const y0 = Math.floor(y);
    for (let ox = 0; ox < ow; ox++) {
      const x = Math.max((ox + 0.5) * (w / ow) - 0.5, 0);
      const x0 = Math.floor(x);
      for (let ch = 0; ch < c; ch++) {
        const top = at(y0, x0, ch) * (1 - (x - x0)) + at(y0, x0 + 1, ch) * (x - x0);
        const bottom = at(y0 + 1, x0, ch) * (1 - (x - x0)) + at(y0 + 1, x0 + 1, ch) * (x - x0);
        out[(oy * ow + ox) * c + ch] = top * (1 - (y - y0)) + bottom * (y - y0);
      }
    }
  }
  return out;
}

/** Halving one axis with the triangle filter of radius 2: weights 1,3,3,1 (/8), at the edges 3,3,1 (/7) and 1,3,3 (/7). */
function halveRef(line: number[]): number[] {
  const out: number[] = [];
  for (let o = 0; o < line.length / 2; o++) {
    const taps = [[2 * o - 1, 1], [2 * o, 3], [2 * o + 1, 3], [2 * o + 2, 1]].filter(([i]) => i >= 0 && i < line.length);
    out.push(taps.reduce((s, [i, wt]) => s + line[i] * wt, 0) / taps.reduce((s, [, wt]) => s + wt, 0));
  }
  return out;
}

const rgbImage = (w: number, h: number, channels: RawImage['channels'], seed: number): RawImage => ({
  data: Uint8Array.from(randArray(w * h * channels, seed, 0, 256), Math.floor),
  width: w,
  height: h,
  channels,
});

describe('resizeBilinear', () => {
  it('enlarging is half-pixel bilinear with clamped edges', () => {
    const [h, w, c] = [5, 4, 3];
    const src = randArray(h * w * c, 1, 0, 255);
    for (const [oh, ow] of [[11, 9], [10, 8], [7, 13]]) {
      expectClose(resizeBilinear(Float32Array.from(src), h, w, c, oh, ow), bilinearRef(src, h, w, c, oh, ow), EXACT, `${h}x${w} -> ${oh}x${ow}`);
    }
  });

  it('halving averages with the antialiasing triangle (1,3,3,1)/8, separably', () => {
    const [h, w] = [6, 8];
    const src = randArray(h * w, 2, 0, 255);
    const rows = Array.from({ length: h }, (_, y) => halveRef(Array.from(src.subarray(y * w, (y + 1) * w))));
    const want = new Float64Array((h / 2) * (w / 2));
    for (let x = 0; x < w / 2; x++) halveRef(rows.map((r) => r[x])).forEach((v, y) => (want[y * (w / 2) + x] = v));
    expectClose(resizeBilinear(Float32Array.from(src), h, w, 1, h / 2, w / 2), want, EXACT, 'halving');
  });

  it('the same size is the identity and a constant image stays constant', () => {
    const src = Float32Array.from(randArray(7 * 5 * 3, 3, 0, 255));
    expect(Array.from(resizeBilinear(src, 7, 5, 3, 7, 5))).toEqual(Array.from(src));
    const flat = resizeBilinear(new Float32Array(30 * 20 * 3).fill(77), 30, 20, 3, 7, 11);
    for (const v of flat) expect(v).toBeCloseTo(77, 4);
  });
});

describe('imageToInput', () => {
  const prep = (over: Partial<Preprocessing>): Preprocessing => ({ size: [3, 2], channels: 'RGB', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], resize: 'bilinear', crop: 'none', ...over });

  it('lays out CHW, scales, subtracts the mean, divides by std, drops alpha, orders BGR when asked', () => {
    const img = rgbImage(2, 3, 4, 4);
    const px = (y: number, x: number, c: number) => img.data[(y * 2 + x) * 4 + c];
    const rgb = imageToInput(img, prep({ mean: [0.1, 0.2, 0.3], std: [0.5, 2, 4] }));
    const bgr = imageToInput(img, prep({ channels: 'BGR', scale: 1, mean: [10, 20, 30] }));
    for (let c = 0; c < 3; c++) for (let y = 0; y < 3; y++) for (let x = 0; x < 2; x++) {
      expect(rgb[(c * 3 + y) * 2 + x]).toBeCloseTo((px(y, x, c) / 255 - [0.1, 0.2, 0.3][c]) / [0.5, 2, 4][c], 5);
      expect(bgr[(c * 3 + y) * 2 + x]).toBeCloseTo(px(y, x, 2 - c) - [10, 20, 30][c], 4);
    }
  });

  it("'center' scales the shorter side to size * 256/224, then crops the middle", () => {
    // 7x7 output: shorter side 8 (= round(7 * 256/224)) is the image's own, so no resampling.
    const img = rgbImage(16, 8, 3, 5);
    const out = imageToInput(img, prep({ size: [7, 7], scale: 1, crop: 'center' }));
    for (let c = 0; c < 3; c++) for (let y = 0; y < 7; y++) for (let x = 0; x < 7; x++) {
      expect(out[(c * 7 + y) * 7 + x]).toBe(img.data[(y * 16 + x + 4) * 3 + c]);
    }
  });

  it('rejects grayscale images and pixel arrays of the wrong length, naming the image', () => {
    expect(() => imageToInput(rgbImage(4, 4, 1, 6), prep({}), 'scan.png')).toThrow(/scan\.png: a grayscale image \(1 channel\), but the model expects RGB \(3 channels\); convert the image to RGB/);
    expect(() => imageToInput(rgbImage(4, 4, 2, 6), prep({}), 'ga.png')).toThrow(/ga\.png: a grayscale image \(2 channels, with alpha\)/);
    expect(() => imageToInput({ data: new Uint8Array(10), width: 2, height: 2, channels: 3 }, prep({}), 'short')).toThrow(/short: 10 bytes for a 2x2 image of 3 channels \(expected 12\)/);
    expect(() => imageToInput({ data: new Uint8Array(20), width: 2, height: 2, channels: 5 as 4 }, prep({}), 'odd')).toThrow(/odd: 5 channels per pixel/);
  });
});
