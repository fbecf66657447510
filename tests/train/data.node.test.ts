// Node readers: Fashion-MNIST from Debian's dataset-fashion-mnist files (checked against values
// read with Python's gzip + numpy), and a folder of PNG images per class.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { classCounts } from '../../src/data/data.ts';
import { FASHION_MNIST_DEBIAN_DIR, fashionMnist } from '../../src/data/idx.ts';
import { imageFolder } from '../../src/data/image-folder.ts';

const hasFashion = fs.existsSync(path.join(FASHION_MNIST_DEBIAN_DIR, 't10k-images-idx3-ubyte.gz'));

describe('Fashion-MNIST (Debian dataset-fashion-mnist)', () => {
  // Skipped, not failed, where the Debian package is not installed.
  (hasFashion ? it : it.skip)(`the test split: 10000 items [1, 28, 28], 1000 per class, pixel sums as numpy reads them${hasFashion ? '' : ` (skipped: Debian's dataset-fashion-mnist is not installed, no ${FASHION_MNIST_DEBIAN_DIR})`}`, async () => {
    const ds = await fashionMnist(FASHION_MNIST_DEBIAN_DIR, 'test');
    expect(ds.length).toBe(10000);
    expect([...ds.itemShape]).toEqual([1, 28, 28]);
    expect(ds.classNames![9]).toBe('Ankle boot');
    expect(Array.from({ length: 10 }, (_, i) => ds.label(i))).toEqual([9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    expect(classCounts(ds)).toEqual(new Array(10).fill(1000));
    const sum255 = async (i: number) => [...(await ds.read([i]))].reduce((s, v) => s + Math.round(v * 255), 0);
    expect(await sum255(0)).toBe(33456);
    expect(await sum255(1234)).toBe(63457);
    const limited = await fashionMnist(FASHION_MNIST_DEBIAN_DIR, 'test', { limit: 100 });
    expect(limited.length).toBe(100);
  });
});

describe('imageFolder', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-images-'));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  /** A w x h PNG whose red channel is `value`; colorType 2 (RGB) or 0 (gray). */
  function writePng(file: string, w: number, h: number, value: number, gray = false): void {
    const png = new PNG({ width: w, height: h, colorType: gray ? 0 : 2, inputColorType: 6, inputHasAlpha: true });
    for (let i = 0; i < w * h; i++) png.data.set([value, 2 * (i % 100), 7, 255], i * 4);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, PNG.sync.write(png, { colorType: gray ? 0 : 2, inputColorType: 6 }));
  }

  it('classes are the sorted sub-folders; pixels become CHW values in [0, 1]; lazy reads the same', async () => {
    const dir = path.join(root, 'ok');
    writePng(path.join(dir, 'dog', 'b.png'), 4, 3, 30);
    writePng(path.join(dir, 'dog', 'a.png'), 4, 3, 20);
    writePng(path.join(dir, 'cat', 'x.png'), 4, 3, 10);
    fs.writeFileSync(path.join(dir, 'cat', 'notes.txt'), 'not an image');
    const ds = await imageFolder(dir);
    expect(ds.classNames).toEqual(['cat', 'dog']);
    expect(ds.length).toBe(3);
    expect([0, 1, 2].map((i) => ds.label(i))).toEqual([0, 1, 1]);
    expect([...ds.itemShape]).toEqual([3, 3, 4]);
    const x = await ds.read([1]); // dog/a.png
    expect(Math.round(x[0] * 255)).toBe(20); // red plane
    expect(Math.round(x[12 + 5] * 255)).toBe(10); // green plane, pixel 5: 2 * 5
    expect(Math.round(x[24] * 255)).toBe(7); // blue plane
    const lazy = await imageFolder(dir, { lazy: true });
    expect([...(await lazy.read([2, 0]))]).toEqual([...(await ds.read([2, 0]))]);
  });

  it('a PNG of another size or channel count, or an empty folder, is named in the error', async () => {
    const dir = path.join(root, 'bad-size');
    writePng(path.join(dir, 'a', '1.png'), 4, 3, 0);
    writePng(path.join(dir, 'b', '2.png'), 5, 3, 0);
    await expect(imageFolder(dir)).rejects.toThrow(/b\/2.png: image is 5x3 \(WxH\), expected 4x3/);
    const gray = path.join(root, 'bad-channels');
    writePng(path.join(gray, 'a', '1.png'), 4, 3, 0);
    writePng(path.join(gray, 'b', '2.png'), 4, 3, 0, true);
    await expect(imageFolder(gray)).rejects.toThrow(/b\/2.png: image has 1 channel \(grayscale\), expected 3 channels \(RGB\)/);
    const lazy = await imageFolder(gray, { lazy: true });
    await expect(lazy.read([1])).rejects.toThrow(/2.png: image has 1 channel/);
    fs.mkdirSync(path.join(root, 'empty', 'a'), { recursive: true });
    await expect(imageFolder(path.join(root, 'empty'))).rejects.toThrow(/class folder .*empty\/a has no .png images/);
    await expect(imageFolder(path.join(root, 'missing'))).rejects.toThrow(/cannot read .*missing \(no such folder\)/);
  });
});
