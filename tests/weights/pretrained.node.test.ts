// loadPretrained / readWeights from paths and URLs: a local HTTP server on 127.0.0.1 serves the
// fixtures (no test touches the network), downloads report progress and are cached in a folder;
// atomic saves; strict and non-strict key reports; `graft convert` and `graft inspect`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/graph/gpu.ts';
import { Module } from '../../src/graph/module.ts';
import type { Tensor } from '../../src/graph/tensor.ts';
import { BatchNorm2d, Conv2d, Linear } from '../../src/models/layers.ts';
import { loadPretrained, readWeights } from '../../src/weights/pretrained.ts';
import { readStateDict } from '../../src/weights/state-dict.ts';
import { encodeSafetensors, parseSafetensors, readSafetensors, saveSafetensors } from '../../src/weights/safetensors.ts';
import type { ProgressInfo } from '../../src/io/source.ts';
import { testGpu } from '../helpers.ts';
import { compareAll, expectedTensors, fixture, sameTensor } from './fixtures.ts';

const FIXTURES = path.resolve('tests/fixtures/weights');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-weights-'));
let server: http.Server;
let base = '';
const requests: string[] = [];

beforeAll(async () => {
  server = http.createServer(async (req, res) => {
    requests.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://x');
    const file = path.join(FIXTURES, path.basename(url.pathname));
    if (!fs.existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    const bytes = fs.readFileSync(file);
    if (url.searchParams.has('short')) {
      // Promise the whole file, send half, hang up.
      res.writeHead(200, { 'content-length': bytes.length });
      res.write(bytes.subarray(0, bytes.length >> 1), () => res.destroy());
      return;
    }
    res.writeHead(200, { 'content-length': bytes.length, 'content-type': 'application/octet-stream' });
    // Four chunks, apart in time, so that progress is reported more than once.
    const step = Math.ceil(bytes.length / 4);
    for (let at = 0; at < bytes.length; at += step) {
      res.write(bytes.subarray(at, at + step));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(tmp, { recursive: true, force: true });
});

class TinyNet extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly fc: Linear;
  constructor(gpu: Gpu, width = 4) {
    super();
    this.conv1 = this.addModule('conv1', new Conv2d(gpu, 3, width, 3, { bias: false }));
    this.bn1 = this.addModule('bn1', new BatchNorm2d(gpu, width));
    this.fc = this.addModule('fc', new Linear(gpu, width, 2));
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}

describe('weights from a URL (local server)', () => {
  it('downloads with progress, caches in a folder, and serves the second call from the cache', async () => {
    const cacheDir = path.join(tmp, 'cache-a');
    const url = `${base}/tiny.safetensors`;
    const size = fs.statSync(path.join(FIXTURES, 'tiny.safetensors')).size;
    const first: [number, ProgressInfo][] = [];
    requests.length = 0;
    const a = await readWeights(url, { cacheDir, onProgress: (f, info) => first.push([f, { ...info }]) });
    expect(compareAll(a.tensors, (await expectedTensors()).safetensors)).toEqual([]);
    expect(requests).toEqual(['/tiny.safetensors']);
    expect(first.length).toBeGreaterThanOrEqual(4);
    expect(first[0][0]).toBe(0);
    expect(first[first.length - 1]).toEqual([1, { loaded: size, total: size, source: url, fromCache: false }]);
    for (let i = 1; i < first.length; i++) expect(first[i][1].loaded).toBeGreaterThanOrEqual(first[i - 1][1].loaded);
    // One file in the cache folder, holding exactly the download; no temp files left behind.
    const cached = fs.readdirSync(cacheDir);
    expect(cached).toHaveLength(1);
    expect(cached[0]).toMatch(/^[0-9a-f]{24}-tiny\.safetensors$/);
    expect(fs.readFileSync(path.join(cacheDir, cached[0]))).toEqual(fs.readFileSync(path.join(FIXTURES, 'tiny.safetensors')));

    const second: [number, ProgressInfo][] = [];
    const b = await readWeights(url, { cacheDir, onProgress: (f, info) => second.push([f, { ...info }]) });
    expect(requests).toHaveLength(1);
    expect(second).toEqual([[1, { loaded: size, total: size, source: url, fromCache: true }]]);
    expect(compareAll(b.tensors, (await expectedTensors()).safetensors)).toEqual([]);

    await readWeights(url, { cacheDir, cache: false });
    expect(requests).toHaveLength(2);
  });

  it('uses $GRAFT_CACHE when no folder is given; loadPretrained loads a saved file by path', async () => {
    const gpu = await testGpu();
    const cacheDir = path.join(tmp, 'cache-env');
    const saved = process.env.GRAFT_CACHE;
    process.env.GRAFT_CACHE = cacheDir;
    try {
      // The weights of a TinyNet, served as a torch-like checkpoint would be: saved as safetensors here.
      const source = new TinyNet(gpu);
      const file = path.join(tmp, 'tinynet.safetensors');
      await saveSafetensors(source, file);
      const target = new TinyNet(gpu);
      const report = await loadPretrained(target, file);
      expect(report.loaded).toBe(8);
      const want = await readStateDict(source);
      const got = await readStateDict(target);
      for (const [name, t] of want) expect(sameTensor(name, got.get(name), { shape: t.shape, values: t.data })).toBeNull();
      source.dispose();
      target.dispose();

      requests.length = 0;
      const ckpt = await readWeights(`${base}/checkpoint.pth?v=1`);
      expect(compareAll(ckpt.tensors, (await expectedTensors()).checkpoint)).toEqual([]);
      expect(fs.readdirSync(cacheDir)).toHaveLength(1);
      await readWeights(`${base}/checkpoint.pth?v=1`);
      expect(requests).toHaveLength(1);
    } finally {
      if (saved === undefined) delete process.env.GRAFT_CACHE;
      else process.env.GRAFT_CACHE = saved;
    }
  });

  it('HTTP errors and cut-off downloads name the URL, and nothing is cached', async () => {
    const cacheDir = path.join(tmp, 'cache-bad');
    await expect(readWeights(`${base}/missing.safetensors`, { cacheDir })).rejects.toThrow(/127\.0\.0\.1:\d+\/missing\.safetensors: HTTP 404/);
    await expect(readWeights(`${base}/keras-resnet50.h5?short`, { cacheDir })).rejects.toThrow(/download of http:\/\/127\.0\.0\.1:\d+\/keras-resnet50\.h5\?short failed after \d+ of 364856 bytes/);
    expect(fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir) : []).toEqual([]);
  });
});

describe('loadPretrained key checks', () => {
  it('strict: one error lists every missing, unexpected and mis-shaped key, and nothing is written', async () => {
    const gpu = await testGpu();
    const model = new TinyNet(gpu);
    const before = await readStateDict(model);
    const wider = new TinyNet(gpu, 6);
    const entries = new Map([...(await readStateDict(wider))].filter(([k]) => k !== 'fc.bias'));
    entries.set('extra.weight', { shape: [1], dtype: 'f32', data: new Float32Array(1) });
    const other = await saveSafetensors(entries);
    wider.dispose();
    const error = await loadPretrained(model, other).then(() => null, (e: Error) => e.message);
    expect(error).toMatch(/missing \(1\): fc\.bias/);
    expect(error).toMatch(/unexpected \(1\): extra\.weight/);
    expect(error).toMatch(/mis-shaped \(6\): conv1\.weight: expected \[4, 3, 3, 3\], got \[6, 3, 3, 3\]/);
    expect(error).toMatch(/fc\.weight: expected \[2, 4\], got \[2, 6\]/);
    const after = await readStateDict(model);
    for (const [name, t] of before) expect(sameTensor(name, after.get(name), { shape: t.shape, values: t.data })).toBeNull();

    const report = await loadPretrained(model, other, { strict: false });
    expect(report.missing).toEqual(['fc.bias']);
    expect(report.unexpected).toEqual(['extra.weight']);
    expect(report.mismatched).toHaveLength(6);
    expect(report.loaded).toBe(1); // bn1.num_batches_tracked: the only key whose shape matches
    model.dispose();
  });

  it('a file without num_batches_tracked (torch < 0.4.1, torchvision classics) loads strictly, counters set to 0', async () => {
    const gpu = await testGpu();
    const source = new TinyNet(gpu);
    const model = new TinyNet(gpu);
    const entries = await readStateDict(source);
    entries.delete('bn1.num_batches_tracked');
    const report = await loadPretrained(model, encodeSafetensors(entries));
    expect(report.loaded).toBe(8);
    expect(report.notes.join()).toMatch(/no num_batches_tracked: set 1 BatchNorm counters to 0/);
    expect(Array.from((await readStateDict(model)).get('bn1.num_batches_tracked')!.data)).toEqual([0]);
    source.dispose();
    model.dispose();
  });

  it("strips nn.DataParallel's 'module.' prefix", async () => {
    const bytes = encodeSafetensors(new Map([['module.fc.bias', { shape: [2], dtype: 'f32', data: Float32Array.from([1, 2]) }]]));
    const file = await readWeights(bytes);
    expect([...file.tensors.keys()]).toEqual(['fc.bias']);
    expect(file.notes.join()).toMatch(/dropped the 'module\.' prefix/);
  });
});

describe('saving', () => {
  it('writes atomically: the file appears whole, no temp file remains, and an existing file is replaced', async () => {
    const out = path.join(tmp, 'sub', 'saved.safetensors');
    const entries = new Map([['w', { shape: [2], dtype: 'f32' as const, data: Float32Array.from([1, 2]) }]]);
    await saveSafetensors(entries, out);
    await saveSafetensors(new Map([['w', { shape: [3], dtype: 'f32' as const, data: Float32Array.from([4, 5, 6]) }]]), out);
    expect(fs.readdirSync(path.dirname(out))).toEqual(['saved.safetensors']);
    const back = await readSafetensors(out);
    expect(Array.from(back.tensors.get('w')!.data)).toEqual([4, 5, 6]);
    expect(() => parseSafetensors(fs.readFileSync(out).subarray(0, 20), out)).toThrow(/saved\.safetensors/);
  });
});

describe('graft convert / inspect', () => {
  const graft = (...args: string[]) => spawnSync(process.execPath, ['scripts/graft.js', ...args], { encoding: 'utf8', timeout: 60_000 });

  it('convert: Keras .h5 -> safetensors with the same tensors as the reader, metadata recorded', async () => {
    const out = path.join(tmp, 'resnet50.safetensors');
    const run = graft('convert', fixture('keras-resnet50.h5'), out);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/keras-h5, 320 tensors/);
    expect(run.stdout).toMatch(/wrote .*resnet50\.safetensors: 320 tensors/);
    const converted = await readSafetensors(out);
    expect(converted.metadata).toMatchObject({ format: 'pt', arch: 'resnet50', preprocessing: 'caffe', converted_from: 'keras-resnet50.h5' });
    const expected = (await readSafetensors(fixture('keras-resnet50.expected.safetensors'))).tensors;
    for (const [name, t] of expected) expect(sameTensor(name, converted.tensors.get(name), { shape: t.shape, values: t.data })).toBeNull();
    expect(converted.fileDtypes.get('bn1.num_batches_tracked')).toBe('I64');
  });

  it('convert: .pth -> safetensors; a bad input fails with its message and writes nothing', async () => {
    const out = path.join(tmp, 'tiny.safetensors');
    expect(graft('convert', fixture('tiny.pth'), out).status).toBe(0);
    expect(compareAll((await readSafetensors(out)).tensors, (await expectedTensors()).pth)).toEqual([]);
    const bad = path.join(tmp, 'never.safetensors');
    const run = graft('convert', fixture('truncated-storage.pth'), bad);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/truncated-storage\.pth: storage data\/0 \(tensor .*\) has 40 bytes, expected 96/);
    expect(fs.existsSync(bad)).toBe(false);
  });

  it('inspect: lists name, shape and file dtype', () => {
    const run = graft('inspect', fixture('tiny.safetensors'));
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/safetensors, 9 tensors, 31 values/);
    expect(run.stdout).toMatch(/b\.f16\s+\[6\]\s+F16/);
    expect(run.stdout).toMatch(/e\.i64\s+\[\]\s+I64/);
    const pth = graft('inspect', fixture('tiny.pth'), '--json');
    const listed = JSON.parse(pth.stdout);
    expect(listed.format).toBe('pth');
    expect(listed.tensors.find((t: { name: string }) => t.name === 'half')).toEqual({ name: 'half', shape: [5], dtype: 'float16' });
  });

  it('inspect --arch: the reduced-width Keras ResNet50 has every resnet50 key, mis-shaped; exit status 1', () => {
    const run = graft('inspect', fixture('keras-resnet50.h5'), '--arch', 'resnet50');
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/against resnet50 \(320 keys\): 53 match/);
    expect(run.stdout).not.toMatch(/missing|unexpected/);
    expect(run.stdout).toMatch(/mis-shaped \(267\):\n\s+conv1\.weight: expected \[64, 3, 7, 7\], got \[2, 3, 7, 7\]/);
    const unknown = graft('inspect', fixture('tiny.pth'), '--arch', 'resnet9');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown --arch 'resnet9' \(known: .*resnet50/);
  });

  const darknet = '../shared/pretrained/darknet-tiny/model.json';
  (fs.existsSync(darknet) ? it : it.skip)(`convert: TF.js model.json (darknet-tiny) -> safetensors, checked against the darknet-tiny keys${fs.existsSync(darknet) ? '' : ' (skipped: ../shared/pretrained/darknet-tiny is not here)'}`, async () => {
    const out = path.join(tmp, 'darknet.safetensors');
    const run = graft('convert', darknet, out, '--arch', 'darknet-tiny');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/against darknet-tiny \(92 keys\): 92 match/);
    const converted = await readSafetensors(out);
    expect(converted.metadata).toMatchObject({ format: 'pt', arch: 'darknet-tiny', converted_from: 'model.json' });
    const { readLayersModel } = await import('../../src/weights/layers-model.ts');
    const direct = await readLayersModel(darknet);
    expect(converted.tensors.size).toBe(direct.size);
    for (const [name, t] of direct) expect(sameTensor(name, converted.tensors.get(name), { shape: t.shape, values: t.data })).toBeNull();
  });

  it('inspect: a corrupt file fails with its name', () => {
    const bad = path.join(tmp, 'bad.safetensors');
    fs.writeFileSync(bad, Buffer.from([200, 0, 0, 0, 0, 0, 0, 0, 0x7b]));
    const run = graft('inspect', bad);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/bad\.safetensors: bad safetensors header length 200: the file has 9 bytes/);
  });
});
