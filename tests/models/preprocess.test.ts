// preprocess(model, image): the torchvision convention against torchvision itself (fixture from
// weights-tools/golden.py), the caffe and tf conventions against float64 arithmetic by hand, input
// forms and bad input.
import { describe, expect, it } from 'vitest';
import { scope } from '../../src/graph/tensor.ts';
import type { Preprocessing } from '../../src/models/image.ts';
import { PREPROCESSING, preprocess, preprocessPixels } from '../../src/models/preprocess.ts';
import { ResNet } from '../../src/models/resnet.ts';
import fixture from '../fixtures/golden/preprocess.json';
import { expectClose, testGpu } from '../helpers.ts';
import { decodeF32, nameKey } from './golden-weights.ts';

/** golden.py's image bytes: (i * 618035 + key('image')) % 1000003 % 256. */
function fixtureImage(height: number, width: number): Uint8Array {
  const data = new Uint8Array(height * width * 3);
  const key = nameKey('image');
  for (let i = 0; i < data.length; i++) data[i] = ((i * 618035 + key) % 1000003) % 256;
  return data;
}

describe('preprocess', () => {
  for (const c of fixture.cases) {
    it(`torchvision convention: ${c.height}x${c.width} -> Resize(${Math.round((c.size * 256) / 224)}) + CenterCrop(${c.size}) matches torchvision`, () => {
      const prep: Preprocessing = { ...PREPROCESSING.torchvision, size: [c.size, c.size] };
      const out = preprocessPixels(prep, { data: fixtureImage(c.height, c.width), width: c.width, height: c.height });
      expect(out.length).toBe(3 * c.size * c.size);
      const n = out.length;
      const expected = decodeF32(c.output.values);
      const picked = Float64Array.from(expected, (_, j) => out[(j * 1000003) % n]);
      // One byte is 1/255/0.225 = 0.017 after normalisation; float32 resampling agrees to ~1e-5.
      expectClose(picked, expected, { atol: 1e-4, rtol: 0 }, `preprocess ${c.height}x${c.width}`);
      const sum = out.reduce((s, v) => s + v, 0);
      expect(Math.abs(sum - c.output.sum) / c.output.abssum).toBeLessThan(1e-5);
    });
  }

  it('caffe convention: BGR order, minus the BGR mean, no scaling (no resize at the model size)', () => {
    const prep: Preprocessing = { ...PREPROCESSING.caffe, size: [2, 3] };
    // RGBA pixels of a 3x2 image; alpha is dropped.
    const rgba = Uint8ClampedArray.from({ length: 24 }, (_, i) => (i * 37 + 11) % 256);
    const out = preprocessPixels(prep, { data: rgba, width: 3, height: 2 });
    const expected = new Float64Array(18);
    const mean = [103.939, 116.779, 123.68];
    for (let c = 0; c < 3; c++) for (let p = 0; p < 6; p++) expected[c * 6 + p] = rgba[p * 4 + (2 - c)] - mean[c];
    expectClose(out, expected, { atol: 1e-4, rtol: 0 }, 'caffe');
  });

  it('tf convention: RGB scaled to [-1, 1]', () => {
    const prep: Preprocessing = { ...PREPROCESSING.tf, size: [1, 2] };
    const out = preprocessPixels(prep, { data: Uint8Array.from([0, 255, 51, 102, 204, 153]), width: 2, height: 1 });
    expectClose(out, [-1, 102 / 127.5 - 1, 1, 204 / 127.5 - 1, 51 / 127.5 - 1, 153 / 127.5 - 1], { atol: 1e-6, rtol: 0 }, 'tf');
  });

  it("uses the model's preprocessing and device: [N, 3, H, W] for one image or a list", async () => {
    const gpu = await testGpu();
    const net = new ResNet(18, { gpu, width: 8, classes: 4, init: 'zeros' });
    try {
      expect(net.preprocessing).toEqual(PREPROCESSING.torchvision);
      net.preprocessing = { ...PREPROCESSING.caffe, size: [4, 4] };
      const image = { data: new Uint8Array(4 * 4 * 3).fill(200), width: 4, height: 4 };
      await scope(async () => {
        const one = preprocess(net, image);
        expect(one.shape).toEqual([1, 3, 4, 4]);
        const two = preprocess(net, [image, image]);
        expect(two.shape).toEqual([2, 3, 4, 4]);
        const values = await two.data();
        expect(values[0]).toBeCloseTo(200 - 103.939, 4);
        expect(values[16]).toBeCloseTo(200 - 116.779, 4);
        expect(values[3 * 16 + 32]).toBeCloseTo(200 - 123.68, 4);
      });
    } finally {
      net.dispose();
    }
  });

  // Browser image objects; Node has no canvas, so there the test is skipped.
  const inBrowser = typeof OffscreenCanvas !== 'undefined' && typeof ImageData !== 'undefined';
  (inBrowser ? it : it.skip)(`takes ImageData, canvases and ImageBitmaps (browser only)${inBrowser ? '' : ' (skipped: no OffscreenCanvas / ImageData here; it runs in the Chrome suite)'}`, async () => {
    const prep: Preprocessing = { ...PREPROCESSING.tf, size: [2, 2] };
    const rgba = new Uint8ClampedArray(16);
    for (let p = 0; p < 4; p++) rgba.set([p * 60, 255 - p * 60, 128, 255], p * 4);
    const expected = preprocessPixels(prep, { data: rgba, width: 2, height: 2 });
    const imageData = new ImageData(rgba, 2, 2);
    expectClose(preprocessPixels(prep, imageData), expected, { atol: 1e-6, rtol: 0 }, 'ImageData');
    const canvas = new OffscreenCanvas(2, 2);
    canvas.getContext('2d')!.putImageData(imageData, 0, 0);
    expectClose(preprocessPixels(prep, canvas), expected, { atol: 1e-6, rtol: 0 }, 'OffscreenCanvas');
    const bitmap = await createImageBitmap(imageData);
    expectClose(preprocessPixels(prep, bitmap), expected, { atol: 1e-6, rtol: 0 }, 'ImageBitmap');
    bitmap.close();
  });

  it('names the problem with bad pixels', () => {
    expect(() => preprocessPixels(PREPROCESSING.tf, { data: new Uint8Array(10), width: 2, height: 2 })).toThrow(/10 bytes for 2x2 pixels/);
    expect(() => preprocessPixels(PREPROCESSING.tf, [])).toThrow(/no images/);
  });
});
