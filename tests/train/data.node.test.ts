// Node readers: Fashion-MNIST from Debian's dataset-fashion-mnist files (checked against values
// read with Python's gzip + numpy), and a folder of PNG and JPEG images per class (mixed sizes,
// gray and RGBA, corrupt files).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { classCounts } from '../../src/data/data.ts';
import { FASHION_MNIST_DEBIAN_DIR, fashionMnist } from '../../src/data/idx.ts';
import { imageFolder, imageFolderSplit } from '../../src/data/image-folder.ts';
import jpeg from 'jpeg-js';

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

  /** A w x h PNG whose red channel is `value`; colorType 2 (RGB) or 0 (gray: `value` everywhere). */
  function writePng(file: string, w: number, h: number, value: number, gray = false): void {
    const png = new PNG({ width: w, height: h, colorType: gray ? 0 : 2, inputColorType: 6, inputHasAlpha: true });
    for (let i = 0; i < w * h; i++) png.data.set(gray ? [value, value, value, 255] : [value, 2 * (i % 100), 7, 255], i * 4);
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

  /** A w x h baseline JPEG of one colour (jpeg-js's encoder, quality 95). */
  function writeJpeg(file: string, w: number, h: number, rgb: [number, number, number]): void {
    const data = Buffer.alloc(w * h * 4);
    for (let i = 0; i < w * h; i++) data.set([...rgb, 255], i * 4);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, jpeg.encode({ data, width: w, height: h }, 95).data);
  }

  it('without a size: another size is named in the error (with the remedy); gray is copied to RGB; lazy does the same', async () => {
    const dir = path.join(root, 'bad-size');
    writePng(path.join(dir, 'a', '1.png'), 4, 3, 0);
    writePng(path.join(dir, 'b', '2.png'), 5, 3, 0);
    await expect(imageFolder(dir)).rejects.toThrow(/b\/2.png: image is 5x3 \(WxH\), expected 4x3 like the others \(give a size to resize every image\)/);
    const gray = path.join(root, 'gray');
    writePng(path.join(gray, 'a', '1.png'), 4, 3, 0);
    writePng(path.join(gray, 'b', '2.png'), 4, 3, 90, true);
    const ds = await imageFolder(gray);
    expect([...ds.itemShape]).toEqual([3, 3, 4]);
    const x = await ds.read([1]);
    for (const c of [0, 1, 2]) expect(Math.round(x[c * 12] * 255)).toBe(90);
    const lazy = await imageFolder(gray, { lazy: true });
    expect([...(await lazy.read([1]))]).toEqual([...x]);
    const luma = await imageFolder(gray, { channels: 1 });
    expect([...luma.itemShape]).toEqual([1, 3, 4]);
    fs.mkdirSync(path.join(root, 'empty', 'a'), { recursive: true });
    await expect(imageFolder(path.join(root, 'empty'))).rejects.toThrow(/class folder .*empty\/a has no \.png\/\.jpg\/\.jpeg images/);
    await expect(imageFolder(path.join(root, 'missing'))).rejects.toThrow(/cannot read .*missing \(no such folder\)/);
  });

  it('JPEG and PNG of mixed sizes, RGBA and gray, resized to `size` on load (Keras image_size)', async () => {
    const dir = path.join(root, 'mixed');
    writeJpeg(path.join(dir, 'red', 'big.JPG'), 40, 30, [250, 10, 10]);
    writeJpeg(path.join(dir, 'red', 'small.jpeg'), 7, 9, [240, 0, 0]);
    writePng(path.join(dir, 'gray', 'g.png'), 13, 5, 128, true);
    // RGBA PNG: alpha dropped.
    const rgba = new PNG({ width: 6, height: 6 });
    for (let i = 0; i < 36; i++) rgba.data.set([20, 200, 20, 100], i * 4);
    fs.writeFileSync(path.join(dir, 'gray', 'alpha.png'), PNG.sync.write(rgba));
    const ds = await imageFolder(dir, { size: 8 });
    expect(ds.classNames).toEqual(['gray', 'red']);
    expect(ds.length).toBe(4);
    expect([...ds.itemShape]).toEqual([3, 8, 8]);
    expect(ds.skipped).toEqual([]);
    const px = async (i: number) => {
      const v = await ds.read([i]);
      return [0, 1, 2].map((c) => Math.round(v[c * 64 + 27] * 255)); // pixel (3, 3) of each plane
    };
    // Sorted within a class: gray/alpha.png, gray/g.png, red/big.JPG, red/small.jpeg.
    expect(await px(0)).toEqual([20, 200, 20]);
    expect(await px(1)).toEqual([128, 128, 128]);
    // JPEG is lossy: within a few levels of the encoded colour.
    for (const [i, want] of [[2, [250, 10, 10]], [3, [240, 0, 0]]] as const) (await px(i)).forEach((v, c) => expect(Math.abs(v - want[c])).toBeLessThanOrEqual(6));
    const rect = await imageFolder(dir, { size: [4, 10] });
    expect([...rect.itemShape]).toEqual([3, 4, 10]);
  });

  it('a corrupt file is refused by name, or skipped and listed with onError: skip; a stratified split', async () => {
    const dir = path.join(root, 'corrupt');
    for (let i = 0; i < 5; i++) {
      writeJpeg(path.join(dir, 'a', `${i}.jpg`), 10, 10, [10, 10, 10]);
      writePng(path.join(dir, 'b', `${i}.png`), 12, 8, 200);
    }
    fs.writeFileSync(path.join(dir, 'b', 'broken.png'), Buffer.from('this is not a png'));
    fs.writeFileSync(path.join(dir, 'a', 'cut.jpg'), fs.readFileSync(path.join(dir, 'a', '0.jpg')).subarray(0, 40));
    await expect(imageFolder(dir, { size: 8 })).rejects.toThrow(/imageFolder: .*a\/cut\.jpg: .*\(onError: 'skip' leaves such files out\)/);
    const ds = await imageFolder(dir, { size: 8, onError: 'skip' });
    expect(ds.length).toBe(10);
    expect(ds.skipped.map((s) => path.relative(dir, s.file)).sort()).toEqual(['a/cut.jpg', 'b/broken.png']);
    expect(ds.skipped.find((s) => s.file.endsWith('broken.png'))!.error).toMatch(/broken\.png: not a PNG or JPEG image/);
    const { train, validation } = await imageFolderSplit(dir, { size: 8, onError: 'skip', valFraction: 0.4, seed: 3 });
    const count = (d: { length: number; label(i: number): number }, c: number) => Array.from({ length: d.length }, (_, i) => d.label(i)).filter((l) => l === c).length;
    expect([count(validation, 0), count(validation, 1)]).toEqual([2, 2]);
    expect([count(train, 0), count(train, 1)]).toEqual([3, 3]);
  });

  it('is exported from the package', async () => {
    const pkg = await import('../../src/index.ts');
    expect(pkg.imageFolder).toBe(imageFolder);
    expect(typeof pkg.imageFolderSplit).toBe('function');
  });
});
