// Named weights ('imagenet'): the registry's published files, the checks (md5 against RFC 1321's
// test suite, sha256 against node:crypto), and the whole path against a local HTTP server serving
// fixture files at the registry's paths: download once, cache, reuse; a wrong checksum and a
// download cut short leave nothing in the cache; a local mirror folder; graft classify --weights imagenet.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { ARCHS, ResNet, resnet18 } from '../../src/models/index.ts';
import { loadPretrained } from '../../src/weights/pretrained.ts';
import { PUBLISHED, type PublishedWeights, md5Hex, publishedWeights, registerWeights, sha256Hex, weightsLocation } from '../../src/weights/registry.ts';
import { encodeSafetensors } from '../../src/weights/safetensors.ts';
import { readStateDict } from '../../src/weights/state-dict.ts';
import { testGpu } from '../helpers.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-registry-'));
/** path -> bytes served; requests seen. */
const files = new Map<string, Uint8Array>();
const requests: string[] = [];
let server: http.Server;
let base = '';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    requests.push(url.pathname);
    const bytes = files.get(url.pathname.slice(1));
    if (!bytes) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': String(bytes.length) });
    // An interrupted download: half the body, then the connection closes.
    if (url.pathname.includes('cut')) res.write(bytes.subarray(0, bytes.length >> 1), () => res.destroy());
    else res.end(bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(tmp, { recursive: true, force: true });
});

const sha256 = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');
const cacheFiles = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).filter((f) => fs.statSync(path.join(dir, String(f))).isFile()) : []);

describe('weights registry: the published files', () => {
  it('every architecture has ImageNet weights; torchvision files carry their sha256 prefix; Keras VGG16/ResNet50 their md5', () => {
    for (const arch of ARCHS) expect(publishedWeights(arch, 'imagenet').arch).toBe(arch);
    expect(weightsLocation(publishedWeights('resnet18'), undefined)).toBe('https://download.pytorch.org/models/resnet18-f37072fd.pth');
    expect(weightsLocation(publishedWeights('vgg16'), undefined)).toBe('https://download.pytorch.org/models/vgg16-397923af.pth');
    for (const p of PUBLISHED.filter((e) => e.publisher === 'torchvision')) expect(p.check).toEqual({ sha256Prefix: /-([0-9a-f]{8})\.pth$/.exec(p.path)![1] });
    expect(weightsLocation(publishedWeights('resnet50', 'imagenet-keras'), undefined)).toBe('https://storage.googleapis.com/tensorflow/keras-applications/resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5');
    expect(publishedWeights('vgg16', 'imagenet-keras').check).toEqual({ md5: '64373286793e3c8b2b4e3219cbf3544b' });
    expect(() => publishedWeights('resnet18', 'imagenet-keras')).toThrow(/no 'imagenet-keras' weights are published for resnet18 \(there are: imagenet\)/);
    expect(() => publishedWeights(undefined)).toThrow(/'imagenet' names published weights: say which architecture/);
    expect(weightsLocation(publishedWeights('resnet18'), 'http://mirror.example/w/')).toBe('http://mirror.example/w/resnet18-f37072fd.pth');
  });

  it('md5 matches RFC 1321 test suite; sha256 matches node:crypto', async () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const rfc: [string, string][] = [
      ['', 'd41d8cd98f00b204e9800998ecf8427e'], ['a', '0cc175b9c0f1b6a831c399e269772661'], ['abc', '900150983cd24fb0d6963f7d28e17f72'],
      ['message digest', 'f96b697d7cb7938d525a2f31aaf161d0'], ['abcdefghijklmnopqrstuvwxyz', 'c3fcd3d76192e4007dfb496cca67e13b'],
      ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 'd174ab98d277d9f5a5611c2c9f419d9f'],
      ['1234567890'.repeat(8), '57edf4a22be3c955ac49da2e2107b67a'],
    ];
    for (const [text, want] of rfc) expect(md5Hex(enc(text))).toBe(want);
    const random = crypto.randomBytes(100_003);
    expect(md5Hex(random)).toBe(crypto.createHash('md5').update(random).digest('hex'));
    expect(await sha256Hex(random)).toBe(sha256(random));
  });
});

describe('weights registry: download, check, cache', () => {
  let source: ResNet;
  let bytes: Uint8Array;
  const entry = (file: string, check: PublishedWeights['check']): PublishedWeights => ({ arch: 'resnet18', name: 'imagenet', publisher: 'torchvision', base: 'https://download.pytorch.org/models', path: file, check });

  beforeAll(async () => {
    // A reduced-width resnet18 (width 8) as the "published" file; torch files and safetensors are told apart by content.
    const gpu = await testGpu();
    source = new ResNet(18, { gpu, width: 8, seed: 5 });
    bytes = encodeSafetensors(await readStateDict(source));
  });
  afterAll(() => source?.dispose());

  it("models.resnet18({ weights: 'imagenet' }) downloads once (GRAFT_WEIGHTS_BASE_URL), checks, caches, then reads the cache", async () => {
    const gpu = await testGpu();
    const prefix = sha256(bytes).slice(0, 8);
    const file = `resnet18-${prefix}.pth`;
    files.set(file, bytes);
    const unregister = registerWeights(entry(file, { sha256Prefix: prefix }));
    const saved = { base: process.env.GRAFT_WEIGHTS_BASE_URL, cache: process.env.GRAFT_CACHE };
    const cacheDir = path.join(tmp, 'cache-ok');
    process.env.GRAFT_WEIGHTS_BASE_URL = base;
    process.env.GRAFT_CACHE = cacheDir;
    requests.length = 0;
    try {
      const progress: number[] = [];
      const net = await resnet18({ gpu, width: 8, weights: 'imagenet', onProgress: (f) => progress.push(f) });
      const want = await readStateDict(source);
      const got = await readStateDict(net);
      for (const name of ['conv1.weight', 'layer4.1.bn2.running_var', 'fc.bias']) expect([...got.get(name)!.data]).toEqual([...want.get(name)!.data]);
      net.dispose();
      expect(requests).toEqual([`/${file}`]);
      expect(progress.at(-1)).toBe(1);
      expect(cacheFiles(cacheDir)).toHaveLength(1);
      // Again: from the cache, no request.
      const again = new ResNet(18, { gpu, width: 8, init: 'zeros' });
      const report = await loadPretrained(again, 'imagenet');
      expect(report.loaded).toBe(want.size);
      expect(report.source).toBe(`${base}/${file}`);
      again.dispose();
      expect(requests).toHaveLength(1);
    } finally {
      unregister();
      for (const [k, v] of [['GRAFT_WEIGHTS_BASE_URL', saved.base], ['GRAFT_CACHE', saved.cache]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }, 60_000);

  it('a wrong checksum: a clear error, nothing cached; a download cut short: nothing left in the cache', async () => {
    const gpu = await testGpu();
    const cacheDir = path.join(tmp, 'cache-bad');
    files.set('resnet18-00000000.pth', bytes);
    let unregister = registerWeights(entry('resnet18-00000000.pth', { sha256Prefix: '00000000' }));
    const net = new ResNet(18, { gpu, width: 8, init: 'zeros' });
    try {
      await expect(loadPretrained(net, 'imagenet', { cacheDir, baseUrl: base })).rejects.toThrow(
        new RegExp(`127\\.0\\.0\\.1:\\d+/resnet18-00000000\\.pth: the torchvision resnet18 weights fail their check: sha256 ${sha256(bytes)} does not start with 00000000 .*; nothing was cached`),
      );
      expect(cacheFiles(cacheDir)).toEqual([]);
      unregister();
      files.set('resnet18-cut.pth', bytes);
      unregister = registerWeights(entry('resnet18-cut.pth', { sha256Prefix: sha256(bytes).slice(0, 8) }));
      await expect(loadPretrained(net, 'imagenet', { cacheDir, baseUrl: base })).rejects.toThrow(/download of http:\/\/127\.0\.0\.1:\d+\/resnet18-cut\.pth failed after \d+ of \d+ bytes/);
      expect(cacheFiles(cacheDir)).toEqual([]);
    } finally {
      unregister();
      net.dispose();
    }
  }, 60_000);

  it('a local folder as the mirror (GRAFT_WEIGHTS_BASE_URL=<folder>): read and checked, not cached', async () => {
    const gpu = await testGpu();
    const mirror = path.join(tmp, 'mirror');
    fs.mkdirSync(mirror, { recursive: true });
    const prefix = sha256(bytes).slice(0, 8);
    fs.writeFileSync(path.join(mirror, `resnet18-${prefix}.pth`), bytes);
    const unregister = registerWeights(entry(`resnet18-${prefix}.pth`, { sha256Prefix: prefix }));
    const saved = process.env.GRAFT_WEIGHTS_BASE_URL;
    process.env.GRAFT_WEIGHTS_BASE_URL = mirror;
    const cacheDir = path.join(tmp, 'cache-local');
    try {
      const net = await resnet18({ gpu, width: 8, weights: 'imagenet' });
      net.dispose();
      expect(cacheFiles(cacheDir)).toEqual([]);
      fs.writeFileSync(path.join(mirror, `resnet18-${prefix}.pth`), bytes.subarray(0, bytes.length - 1));
      await expect(resnet18({ gpu, width: 8, weights: 'imagenet' })).rejects.toThrow(/fail their check: sha256 [0-9a-f]{64} does not start with/);
    } finally {
      unregister();
      if (saved === undefined) delete process.env.GRAFT_WEIGHTS_BASE_URL;
      else process.env.GRAFT_WEIGHTS_BASE_URL = saved;
    }
  }, 60_000);

  it("graft classify --model resnet18 --weights imagenet <image>: the same path from the command line", async () => {
    const gpu = await testGpu();
    // Full-width resnet18 (the CLI builds the real architecture): zero weights, served under a registered name.
    const full = resnet18({ gpu, init: 'zeros' });
    const fullBytes = encodeSafetensors(await readStateDict(full));
    full.dispose();
    const prefix = sha256(fullBytes).slice(0, 8);
    files.set(`resnet18-${prefix}.pth`, fullBytes);
    const unregister = registerWeights(entry(`resnet18-${prefix}.pth`, { sha256Prefix: prefix }));
    const saved = { base: process.env.GRAFT_WEIGHTS_BASE_URL, cache: process.env.GRAFT_CACHE };
    process.env.GRAFT_WEIGHTS_BASE_URL = base;
    process.env.GRAFT_CACHE = path.join(tmp, 'cache-cli');
    try {
      let out = '';
      let err = '';
      // Any image will do (the weights are zeros): a small PNG made here.
      const image = path.join(tmp, 'grey.png');
      const png = new PNG({ width: 40, height: 30 });
      png.data.fill(128);
      fs.writeFileSync(image, PNG.sync.write(png));
      const code = await main(['classify', '--model', 'resnet18', '--weights', 'imagenet', '--json', '--top', '1', image], { out: (t) => void (out += t), err: (t) => void (err += t) });
      expect(err).toBe('');
      expect(code).toBe(0);
      const r = JSON.parse(out);
      expect(r.model).toBe('resnet18');
      // Zero weights: every class equally likely.
      expect(r.results[0].top[0].probability).toBeCloseTo(1 / 1000, 6);
      expect(requests.filter((q) => q === `/resnet18-${prefix}.pth`)).toHaveLength(1);
      const noArch = await main(['classify', '--weights', 'imagenet', 'x.png'], { out: () => {}, err: (t) => void (err = t) });
      expect(noArch).toBe(2);
      expect(err).toMatch(/^graft classify: --weights imagenet needs --model/);
    } finally {
      unregister();
      for (const [k, v] of [['GRAFT_WEIGHTS_BASE_URL', saved.base], ['GRAFT_CACHE', saved.cache]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }, 120_000);
});
