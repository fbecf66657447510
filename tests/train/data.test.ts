// Datasets, the DataLoader, splits and IDX parsing (no files: bytes built here), images from
// RawImages; bad input gets errors naming the item.
import { describe, expect, it } from 'vitest';
import { scope } from '../../src/graph/tensor.ts';
import type { RawImage } from '../../src/models/image.ts';
import { DataLoader, arrayDataset, classCounts, kFold, loaderDataset, subset, trainValSplit } from '../../src/data/data.ts';
import { idxDataset, parseIdx } from '../../src/data/idx.ts';
import { imageDataset } from '../../src/data/images.ts';
import { uploadBatch } from '../../src/data/data.ts';
import { testGpu } from '../helpers.ts';

/** n items of shape [1, 2, 2] whose values encode the item index; labels i % classes. */
function toy(n: number, classes = 3) {
  const images = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) images.fill(i % 256, i * 4, i * 4 + 4);
  return arrayDataset({ images, labels: Array.from({ length: n }, (_, i) => i % classes), shape: [1, 2, 2], name: 'toy' });
}

/** IDX bytes written by hand (big-endian), independent of the parser. */
function idxBytes(type: number, dims: number[], values: number[]): Uint8Array {
  const size = { 8: 1, 9: 1, 11: 2, 12: 4, 13: 4, 14: 8 }[type]!;
  const out = new Uint8Array(4 + 4 * dims.length + values.length * size);
  const v = new DataView(out.buffer);
  out.set([0, 0, type, dims.length]);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  const at = 4 + 4 * dims.length;
  values.forEach((x, i) => {
    if (type === 8) v.setUint8(at + i, x);
    else if (type === 9) v.setInt8(at + i, x);
    else if (type === 11) v.setInt16(at + 2 * i, x, false);
    else if (type === 12) v.setInt32(at + 4 * i, x, false);
    else if (type === 13) v.setFloat32(at + 4 * i, x, false);
    else v.setFloat64(at + 8 * i, x, false);
  });
  return out;
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe('datasets', () => {
  it('an array dataset reads items scaled to [0, 1] in the order asked', async () => {
    const ds = toy(10);
    expect(ds.length).toBe(10);
    expect(ds.numClasses).toBe(3);
    expect([...(await ds.read([7, 2]))]).toEqual([7, 7, 7, 7, 2, 2, 2, 2].map((v) => Math.fround(v / 255)));
    expect(classCounts(ds)).toEqual([4, 3, 3]);
  });

  it('bad input: empty, labels out of range, wrong image count, wrong item size of a loader', async () => {
    expect(() => arrayDataset({ images: new Uint8Array(0), labels: [], shape: [1, 2, 2] })).toThrow(/the dataset is empty/);
    expect(() => arrayDataset({ images: new Uint8Array(8), labels: [0, 5], shape: [1, 2, 2], numClasses: 3, itemNames: ['a.png', 'b.png'] })).toThrow(/label of b.png is 5, outside \[0, 3\)/);
    expect(() => arrayDataset({ images: new Uint8Array(8), labels: [0, -1], shape: [1, 2, 2] })).toThrow(/label of item 1 is -1/);
    expect(() => arrayDataset({ images: new Uint8Array(7), labels: [0, 1], shape: [1, 2, 2] })).toThrow(/7 image values for 2 labels of shape \[1, 2, 2\] \(expected 8\)/);
    const ds = loaderDataset({ labels: [0, 1, 1], shape: [1, 2, 2], load: (i) => new Float32Array(i === 2 ? 3 : 4), name: 'lazy' });
    expect((await ds.read([0, 1])).length).toBe(8);
    await expect(ds.read([2])).rejects.toThrow(/lazy: item 2 has 3 values, expected 4 for shape \[1, 2, 2\]/);
    await expect(ds.read([3])).rejects.toThrow(/index 3 out of range \(3 items\)/);
  });

  it('a subset maps indices and labels to its base', async () => {
    const ds = toy(10);
    const s = subset(ds, [9, 4, 5]);
    expect([0, 1, 2].map((i) => s.label(i))).toEqual([0, 1, 2]);
    expect([...(await s.read([1]))][0]).toBeCloseTo(4 / 255, 6);
    expect(() => subset(ds, [10])).toThrow(/index 10 out of range of toy/);
  });
});

describe('DataLoader', () => {
  it('batches every item once per epoch, seeded: same seed and epoch, same order', async () => {
    const ds = toy(10);
    const collect = async (dl: DataLoader, epoch: number) => {
      const seen: number[][] = [];
      for await (const b of dl.batches(epoch)) {
        seen.push([...b.indices]);
        // The values of each item encode its index, the labels index % 3.
        b.indices.forEach((idx, k) => {
          expect(b.x[k * 4]).toBeCloseTo(idx / 255, 6);
          expect(b.y[k]).toBe(idx % 3);
        });
      }
      return seen;
    };
    const a = new DataLoader(ds, { batchSize: 4, shuffle: true, seed: 7 });
    const e0 = await collect(a, 0);
    expect(e0.map((b) => b.length)).toEqual([4, 4, 2]);
    expect(e0.flat().sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(e0.flat()).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await collect(new DataLoader(ds, { batchSize: 4, shuffle: true, seed: 7 }), 0)).toEqual(e0);
    expect(await collect(a, 1)).not.toEqual(e0);
    expect(await collect(new DataLoader(ds, { batchSize: 4, shuffle: true, seed: 8 }), 0)).not.toEqual(e0);
    const plain = await collect(new DataLoader(ds, { batchSize: 3, dropLast: true }), 5);
    expect(plain).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8]]);
  });

  it('uploads a batch as x [B, C, H, W] f32 and y [B] i32', async () => {
    const gpu = await testGpu();
    const dl = new DataLoader(toy(5), { batchSize: 2 });
    const first = (await dl.batches(0).next()).value!;
    await scope(async () => {
      const { x, y } = uploadBatch(gpu, first);
      expect([...x.shape]).toEqual([2, 1, 2, 2]);
      expect(y.dtype).toBe('i32');
      expect([...(await y.data())]).toEqual([0, 1]);
    });
    // A hand-written Dataset is checked batch by batch.
    const custom = { name: 'custom', length: 3, itemShape: [1, 1, 2] as const, numClasses: 2, classNames: null, label: (i: number) => i, read: async (ix: readonly number[]) => new Float32Array(ix.length * (ix.includes(1) ? 1 : 2)) };
    const it1 = new DataLoader(custom, { batchSize: 1 }).batches(0);
    expect((await it1.next()).value!.y[0]).toBe(0);
    await expect(it1.next()).rejects.toThrow(/custom gave 1 values for 1 items of shape \[1, 1, 2\] \(expected 2\)/);
    const it2 = new DataLoader({ ...custom, read: async (ix: readonly number[]) => new Float32Array(ix.length * 2) }, { batchSize: 3 }).batches(0);
    await expect(it2.next()).rejects.toThrow(/label of item 2 is 2, outside \[0, 2\)/);
    expect(() => new DataLoader(toy(5), { batchSize: 0 })).toThrow(/batchSize must be a positive integer, got 0/);
    expect(() => new DataLoader(toy(5), { batchSize: 6, dropLast: true })).toThrow(/leaves no batch/);
  });
});

describe('splits', () => {
  it('trainValSplit: disjoint, complete, seeded, stratified keeps class shares', () => {
    const ds = toy(60, 3);
    const { train, val } = trainValSplit(ds, { valFraction: 0.25, seed: 3, stratified: true });
    expect(train.length + val.length).toBe(60);
    expect(new Set([...train.indices, ...val.indices]).size).toBe(60);
    expect(classCounts(val)).toEqual([5, 5, 5]);
    expect([...trainValSplit(ds, { valFraction: 0.25, seed: 3, stratified: true }).val.indices]).toEqual([...val.indices]);
    expect([...trainValSplit(ds, { valFraction: 0.25, seed: 4 }).val.indices]).not.toEqual([...val.indices]);
    expect(() => trainValSplit(ds, { valFraction: 1 })).toThrow(/valFraction must be in \(0, 1\)/);
    expect(() => trainValSplit(toy(2), { valFraction: 0.1 })).toThrow(/leaves an empty validation part/);
  });

  it('kFold: each item validates exactly once; stratified folds are balanced per class', () => {
    const ds = toy(30, 3);
    const folds = kFold(ds, 5, { seed: 1, stratified: true });
    expect(folds).toHaveLength(5);
    const valAll = folds.flatMap((f) => [...f.val.indices]).sort((a, b) => a - b);
    expect(valAll).toEqual(Array.from({ length: 30 }, (_, i) => i));
    for (const f of folds) {
      expect(f.train.length + f.val.length).toBe(30);
      expect(classCounts(f.val)).toEqual([2, 2, 2]);
      const inVal = new Set(f.val.indices);
      expect([...f.train.indices].some((i) => inVal.has(i))).toBe(false);
    }
    expect(() => kFold(ds, 1)).toThrow(/k must be an integer >= 2/);
    expect(() => kFold(toy(3), 4)).toThrow(/4 folds of toy with only 3 items/);
  });
});

describe('IDX files', () => {
  it('parses every element type, raw and gzip', async () => {
    expect(await parseIdx(idxBytes(0x08, [2, 3], [0, 1, 2, 253, 254, 255]))).toEqual({ dims: [2, 3], data: Uint8Array.from([0, 1, 2, 253, 254, 255]) });
    expect([...(await parseIdx(idxBytes(0x09, [2], [-5, 7]))).data]).toEqual([-5, 7]);
    expect([...(await parseIdx(idxBytes(0x0b, [2], [-300, 300]))).data]).toEqual([-300, 300]);
    expect([...(await parseIdx(idxBytes(0x0c, [2], [-70000, 70000]))).data]).toEqual([-70000, 70000]);
    expect([...(await parseIdx(idxBytes(0x0d, [2], [1.5, -2.25]))).data]).toEqual([1.5, -2.25]);
    expect([...(await parseIdx(idxBytes(0x0e, [1], [Math.PI]))).data]).toEqual([Math.PI]);
    const zipped = await gzip(idxBytes(0x08, [1, 2, 2], [1, 2, 3, 4]));
    expect((await parseIdx(zipped)).dims).toEqual([1, 2, 2]);
  });

  it('bad files: magic, type, truncation; an IDX dataset checks image and label counts', async () => {
    await expect(parseIdx(new Uint8Array([1, 2, 3, 4]), 'x.idx')).rejects.toThrow(/x.idx: not an IDX file \(magic 01 02 03 04/);
    await expect(parseIdx(new Uint8Array([0, 0, 0x07, 1, 0, 0, 0, 1, 0]))).rejects.toThrow(/unknown IDX element type 0x7/);
    await expect(parseIdx(idxBytes(0x08, [2, 3], [1, 2, 3, 4, 5, 6]).subarray(0, 16), 'cut.idx')).rejects.toThrow(/cut.idx: IDX u8 data of dims \[2, 3\] needs 18 bytes, the file has 16 \(truncated\)/);
    const images = idxBytes(0x08, [3, 2, 2], new Array(12).fill(255));
    const ds = await idxDataset(images, idxBytes(0x08, [3], [2, 0, 1]));
    expect([...ds.itemShape]).toEqual([1, 2, 2]);
    expect([...(await ds.read([0]))]).toEqual([1, 1, 1, 1]);
    await expect(idxDataset(images, idxBytes(0x08, [2], [0, 1]))).rejects.toThrow(/3 images but 2 labels/);
    await expect(idxDataset(images, idxBytes(0x08, [3], [0, 1, 12]), { classNames: ['a', 'b', 'c'] })).rejects.toThrow(/label of item 2 is 12, outside \[0, 3\)/);
  });
});

describe('image datasets', () => {
  const rgba = (w: number, h: number, v: (x: number, y: number, c: number) => number): RawImage => {
    const data = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 4; c++) data[(y * w + x) * 4 + c] = v(x, y, c);
    return { data, width: w, height: h, channels: 4 };
  };

  it('RGBA images become CHW RGB items (alpha dropped)', async () => {
    const ds = await imageDataset([rgba(3, 2, (x, y, c) => 10 * c + x + 3 * y), rgba(3, 2, () => 255)], [1, 0]);
    expect([...ds.itemShape]).toEqual([3, 2, 3]);
    const x = await ds.read([0]);
    // Channel c, pixel (x, y) = (10c + x + 3y) / 255.
    expect([...x].map((v) => Math.round(v * 255))).toEqual([0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 24, 25]);
  });

  // Browser only: Node has no createImageBitmap.
  (typeof createImageBitmap === 'function' ? it : it.skip)(`ImageBitmaps (browser) become CHW items${typeof createImageBitmap === 'function' ? '' : ' (skipped: no createImageBitmap here; it runs in the Chrome suite)'}`, async () => {
    const data = new Uint8ClampedArray(2 * 2 * 4);
    for (let i = 0; i < 4; i++) data.set([10 * i, 100 + i, 200, 255], 4 * i);
    const bitmap = await createImageBitmap(new ImageData(data, 2, 2));
    const ds = await imageDataset([bitmap, bitmap], [0, 1]);
    expect([...ds.itemShape]).toEqual([3, 2, 2]);
    expect([...(await ds.read([1]))].map((v) => Math.round(v * 255))).toEqual([0, 10, 20, 30, 100, 101, 102, 103, 200, 200, 200, 200]);
  });

  it('an image of another size or channel count is named in the error', async () => {
    const gray: RawImage = { data: new Uint8Array(6), width: 3, height: 2, channels: 1 };
    await expect(imageDataset([rgba(3, 2, () => 0), rgba(2, 2, () => 0)], [0, 1], { names: ['a.png', 'b.png'] })).rejects.toThrow(/b.png: image is 2x2 \(WxH\), expected 3x2/);
    await expect(imageDataset([rgba(3, 2, () => 0), gray], [0, 1])).rejects.toThrow(/image 1: image has 1 channel \(grayscale\), expected 3 channels \(RGB\)/);
    await expect(imageDataset([], [])).rejects.toThrow(/no images \(the dataset is empty\)/);
  });
});
