// Reading TF.js LayersModels from disk: shards split over files, progress, the real darknet-tiny
// files, and quantised weights decoded as TensorFlow.js decodes them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { darknetTiny } from '../../src/models/darknet.ts';
import { decodeManifest, decodeWeight, layersModelToStateDict, readLayersModel, shardLocation, type ManifestWeight } from '../../src/weights/layers-model.ts';
import { randArray, testGpu } from '../helpers.ts';
import { fixtureModel } from './layers-model-fixture.ts';

const DARKNET = '../shared/pretrained/darknet-tiny';

/** Write the fixture as model.json + shard files (group 2 split across two files mid-weight). */
function writeFixture(): { dir: string; expected: ReturnType<typeof layersModelToStateDict>; bytes: number } {
  const m = fixtureModel();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-layers-model-'));
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(m.json));
  const [g1, g2] = m.groupBytes;
  fs.writeFileSync(path.join(dir, 'group1-shard1of1.bin'), g1);
  fs.writeFileSync(path.join(dir, 'group2-shard1of2.bin'), g2.subarray(0, 250));
  fs.writeFileSync(path.join(dir, 'group2-shard2of2.bin'), g2.subarray(250));
  return { dir, expected: layersModelToStateDict(m.json, decodeManifest(m.json, m.groupBytes, 'x'), 'x'), bytes: g1.length + g2.length };
}

const same = (a: Map<string, { shape: number[]; data: ArrayLike<number> }>, b: typeof a) => {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [k, t] of a) {
    expect(t.shape).toEqual(b.get(k)!.shape);
    expect(Array.from(t.data)).toEqual(Array.from(b.get(k)!.data));
  }
};

describe('readLayersModel from files', () => {
  it('reads a folder, its model.json, or a file: URL, joining split shards, with progress to 1', async () => {
    const { dir, expected, bytes } = writeFixture();
    const seen: [number, number, number][] = [];
    same(await readLayersModel(dir, { onProgress: (f, loaded, total) => seen.push([f, loaded, total]) }), expected);
    same(await readLayersModel(path.join(dir, 'model.json')), expected);
    same(await readLayersModel(pathToFileURL(path.join(dir, 'model.json'))), expected);
    expect(seen[0]).toEqual([0, 0, bytes]);
    expect(seen[seen.length - 1]).toEqual([1, bytes, bytes]);
    for (let i = 1; i < seen.length; i++) expect(seen[i][1]).toBeGreaterThanOrEqual(seen[i - 1][1]);
    fs.rmSync(dir, { recursive: true });
  });

  it("a shard path that leaves the model's folder is refused before anything is read", async () => {
    const { dir } = writeFixture();
    const file = path.join(dir, 'model.json');
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    for (const evil of ['../../../../etc/passwd', '/etc/passwd', 'file:///etc/passwd', 'sub/../../x.bin', '%2e%2e/x.bin', 'C:\\x.bin', '..\\x.bin']) {
      json.weightsManifest[0].paths[0] = evil;
      fs.writeFileSync(file, JSON.stringify(json));
      await expect(readLayersModel(dir)).rejects.toThrow(/model\.json: shard path '.*' leaves the model's folder: shard paths must be relative/);
    }
    fs.rmSync(dir, { recursive: true });
  });

  it('blob: shards are taken only from a manifest that is itself a blob: URL (files picked in a page)', () => {
    expect(shardLocation('blob:http://localhost/abc', 'blob:http://localhost/def')).toBe('blob:http://localhost/def');
    expect(() => shardLocation('/models/darknet/model.json', 'blob:http://localhost/def')).toThrow(/shard path 'blob:.*' leaves the model's folder/);
    expect(() => shardLocation('https://example.org/m/model.json', 'blob:http://localhost/def')).toThrow(/leaves the model's folder/);
    expect(() => shardLocation('blob:http://localhost/abc', 'file:///etc/passwd')).toThrow(/leaves the model's folder/);
  });

  it('a missing or truncated shard, or a folder without model.json, is an error naming the file', async () => {
    const { dir } = writeFixture();
    fs.rmSync(path.join(dir, 'group2-shard2of2.bin'));
    await expect(readLayersModel(dir)).rejects.toThrow(new RegExp(`model\\.json: shard 'group2-shard2of2\\.bin' listed in the weights manifest: .*no such file: .*group2-shard2of2\\.bin`));
    fs.writeFileSync(path.join(dir, 'group2-shard2of2.bin'), new Uint8Array(10));
    await expect(readLayersModel(dir)).rejects.toThrow(/model\.json: weight group 2 \(group2-shard1of2\.bin \+ group2-shard2of2\.bin\) holds 260 bytes, .* need 656: the shard is too short/);
    fs.rmSync(path.join(dir, 'model.json'));
    await expect(readLayersModel(dir)).rejects.toThrow(/no such file: .*graft-layers-model-.*model\.json/);
    fs.rmSync(dir, { recursive: true });
  });

  it('quantised weights decode exactly as TensorFlow.js decodes them', async () => {
    await tf.setBackend('cpu');
    const specs: ManifestWeight[] = [
      { name: 'a', shape: [3, 5], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.013, min: -1.7 } },
      { name: 'b', shape: [7], dtype: 'float32', quantization: { dtype: 'uint16', scale: 1.5e-4, min: 0.25 } },
      { name: 'c', shape: [2, 3], dtype: 'float32', quantization: { dtype: 'float16' } },
      { name: 'd', shape: [4], dtype: 'float32' },
    ];
    const r = randArray(64, 9, 0, 1);
    const parts = [
      Uint8Array.from({ length: 15 }, (_, i) => Math.floor(r[i] * 256)),
      new Uint8Array(Uint16Array.from({ length: 7 }, (_, i) => Math.floor(r[20 + i] * 65536)).buffer),
      new Uint8Array(Uint16Array.from({ length: 6 }, (_, i) => Math.floor(r[30 + i] * 0x7bff) | (i % 2 ? 0x8000 : 0)).buffer),
      new Uint8Array(Float32Array.from({ length: 4 }, (_, i) => r[40 + i] - 0.5).buffer),
    ];
    const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    parts.reduce((at, p) => (all.set(p, at), at + p.length), 0);
    const theirs = tf.io.decodeWeights(all.buffer, specs as tf.io.WeightsManifestEntry[]);
    let at = 0;
    for (const [i, spec] of specs.entries()) {
      const mine = decodeWeight(spec, all.subarray(at, at + parts[i].length), 'q');
      at += parts[i].length;
      expect(mine.shape).toEqual(theirs[spec.name].shape);
      expect(Array.from(mine.data)).toEqual(Array.from(theirs[spec.name].dataSync()));
    }
  });
});

describe('the real darknet-tiny LayersModel', () => {
  it('converts to exactly the names and shapes of darknetTiny()', async () => {
    const gpu = await testGpu();
    const sd = await readLayersModel(DARKNET);
    const net = darknetTiny({ gpu });
    const want = net.stateDict();
    expect([...sd.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [k, t] of want) expect(sd.get(k)!.data.length).toBe(t.size);
    expect(sd.get('features.17.conv.weight')!.shape).toEqual([512, 64, 3, 3]);
    expect(sd.get('classifier.weight')!.shape).toEqual([1000, 128]);
    net.dispose();
  });

  it('the first kernel is the shard bytes transposed HWIO -> OIHW', async () => {
    const sd = await readLayersModel(DARKNET);
    const json = JSON.parse(fs.readFileSync(path.join(DARKNET, 'model.json'), 'utf8'));
    const group = json.weightsManifest.find((g: { weights: { name: string }[] }) => g.weights[0].name === 'conv2d_1/kernel');
    const raw = new Float32Array(new Uint8Array(fs.readFileSync(path.join(DARKNET, group.paths[0]))).buffer); // [3, 3, 3, 16]
    const w = sd.get('features.0.conv.weight')!.data;
    for (const [o, i, y, x] of [[0, 0, 0, 0], [15, 2, 2, 2], [7, 1, 0, 2], [3, 2, 1, 0]]) expect(w[((o * 3 + i) * 3 + y) * 3 + x]).toBe(raw[((y * 3 + x) * 3 + i) * 16 + o]);
  });
});
