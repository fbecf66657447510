// Named weights: `loadPretrained(net, 'imagenet')` (or `models.resnet50({ gpu, weights: 'imagenet' })`)
// finds the file its publisher put online, downloads it once (with progress), checks it, caches it
// and hands its bytes to the existing readers.
//
// The files: torchvision's ImageNet weights for every VGG and ResNet (download.pytorch.org/models;
// the 8 hex digits in each file name are the start of the file's sha256, which torch.hub checks with
// check_hash=True; full sha256 values and sizes are not published beside them, so Graft checks that
// prefix), Keras's VGG16 and ResNet50 (storage.googleapis.com/tensorflow/keras-applications; the md5
// Keras's own get_file checks, from keras/applications/{vgg16,resnet}.py), and darknet-tiny as ml5.js
// publishes it (a TF.js folder: no checksum is published).
//
// A mirror or a local folder: GRAFT_WEIGHTS_BASE_URL (or the baseUrl option) replaces every
// publisher's base; files are then looked for at <base>/<path>, paths as listed here.
// Caching: the verified bytes only (Node: the cache folder; browser: the Cache API), so a file that
// fails its check or a download cut short never lands in the cache. A cached file is checked again
// when read.
import { GraftError } from '../core/index.ts';
import { inNode, nodeHost } from '../io/host.ts';
import { type ReadOptions, download, isUrl, readSource } from '../io/source.ts';

export const WEIGHT_NAMES = ['imagenet', 'imagenet-keras'] as const;
export type WeightsName = (typeof WEIGHT_NAMES)[number];

export type WeightsCheck = { sha256Prefix: string } | { md5: string } | null;

export interface PublishedWeights {
  arch: string;
  name: WeightsName;
  publisher: 'torchvision' | 'keras' | 'ml5';
  /** The publisher's base URL. */
  base: string;
  /** The file under the base (and under a mirror's base). */
  path: string;
  check: WeightsCheck;
  /** A TF.js LayersModel folder (model.json + shards) rather than one file. */
  folder?: boolean;
}

const TORCHVISION = 'https://download.pytorch.org/models';
const KERAS = 'https://storage.googleapis.com/tensorflow/keras-applications';
const ML5 = 'https://cdn.jsdelivr.net/gh/ml5js/ml5-data-and-models@master/models/darknetclassifier';

/** torchvision's IMAGENET1K_V1 files (torchvision.models.*_Weights.IMAGENET1K_V1.url). */
const TORCHVISION_FILES: Record<string, string> = {
  vgg11: 'vgg11-8a719046.pth', vgg13: 'vgg13-19584684.pth', vgg16: 'vgg16-397923af.pth', vgg19: 'vgg19-dcbb9e9d.pth',
  vgg11_bn: 'vgg11_bn-6002323d.pth', vgg13_bn: 'vgg13_bn-abd245e5.pth', vgg16_bn: 'vgg16_bn-6c64b313.pth', vgg19_bn: 'vgg19_bn-c79401a0.pth',
  resnet18: 'resnet18-f37072fd.pth', resnet34: 'resnet34-b627a593.pth', resnet50: 'resnet50-0676ba61.pth',
  resnet101: 'resnet101-63fe2227.pth', resnet152: 'resnet152-394f9c45.pth',
};

export const PUBLISHED: readonly PublishedWeights[] = Object.freeze([
  ...Object.entries(TORCHVISION_FILES).map(([arch, file]): PublishedWeights => ({
    arch, name: 'imagenet', publisher: 'torchvision', base: TORCHVISION, path: file, check: { sha256Prefix: /-([0-9a-f]{8})\.pth$/.exec(file)![1] },
  })),
  { arch: 'vgg16', name: 'imagenet-keras', publisher: 'keras', base: KERAS, path: 'vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5', check: { md5: '64373286793e3c8b2b4e3219cbf3544b' } },
  { arch: 'resnet50', name: 'imagenet-keras', publisher: 'keras', base: KERAS, path: 'resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5', check: { md5: '2cb95161c43110f7111970584f804107' } },
  { arch: 'darknet-tiny', name: 'imagenet', publisher: 'ml5', base: ML5, path: 'darknettiny/model.json', check: null, folder: true },
]);

const registered: PublishedWeights[] = [];

/**
 * Add (or, for the same arch and name, replace) a published file: your own fine-tuned release, or
 * another checksum on a mirror. Returns a function that removes it again.
 */
export function registerWeights(entry: PublishedWeights): () => void {
  registered.unshift(entry);
  return () => {
    const at = registered.indexOf(entry);
    if (at >= 0) registered.splice(at, 1);
  };
}

export function isWeightsName(source: unknown): source is WeightsName {
  return typeof source === 'string' && (WEIGHT_NAMES as readonly string[]).includes(source);
}

/** The published file for an architecture and a name ('imagenet': torchvision's, or ml5's darknet-tiny). */
export function publishedWeights(arch: string | undefined, name: WeightsName = 'imagenet'): PublishedWeights {
  if (!arch) throw new GraftError(`'${name}' names published weights: say which architecture they are for (loadPretrained on a model, or --model)`);
  const all = [...registered, ...PUBLISHED];
  const entry = all.find((p) => p.arch === arch && p.name === name);
  if (!entry) {
    const names = all.filter((p) => p.arch === arch).map((p) => p.name);
    throw new GraftError(`no '${name}' weights are published for ${arch}${names.length ? ` (there are: ${names.join(', ')})` : ''}`);
  }
  return entry;
}

function envBase(): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.GRAFT_WEIGHTS_BASE_URL || undefined;
}

/** Where the file is fetched from: <base>/<path>, base being the option, $GRAFT_WEIGHTS_BASE_URL or the publisher's. */
export function weightsLocation(entry: PublishedWeights, baseUrl = envBase()): string {
  const base = (baseUrl ?? entry.base).replace(/\/+$/, '');
  return `${base}/${entry.path}`;
}

// ---- checks ----------------------------------------------------------------------------------

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new GraftError('checking a download needs Web Crypto (crypto.subtle), which this environment lacks');
  return hex(new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)));
}

// MD5 (RFC 1321) for the two Keras files, whose publisher gives md5 only. Web Crypto has no MD5;
// this is the textbook algorithm, checked against the RFC's test suite in tests/weights/registry.
const MD5_SHIFT = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const MD5_K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0);

export function md5Hex(bytes: Uint8Array): string {
  const padded = new Uint8Array((((bytes.length + 8) >> 6) + 1) * 64);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, (bytes.length * 8) >>> 0, true);
  view.setUint32(padded.length - 4, Math.floor(bytes.length / 2 ** 29), true);
  let [a0, b0, c0, d0] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  const m = new Uint32Array(16);
  for (let at = 0; at < padded.length; at += 64) {
    for (let i = 0; i < 16; i++) m[i] = view.getUint32(at + 4 * i, true);
    let [a, b, c, d] = [a0, b0, c0, d0];
    for (let i = 0; i < 64; i++) {
      const round = i >> 4;
      const f = round === 0 ? (b & c) | (~b & d) : round === 1 ? (d & b) | (~d & c) : round === 2 ? b ^ c ^ d : c ^ (b | ~d);
      const g = round === 0 ? i : round === 1 ? (5 * i + 1) % 16 : round === 2 ? (3 * i + 5) % 16 : (7 * i) % 16;
      const sum = (a + f + MD5_K[i] + m[g]) >>> 0;
      const s = MD5_SHIFT[round * 4 + (i % 4)];
      [a, d, c] = [d, c, b];
      b = (b + ((sum << s) | (sum >>> (32 - s)))) >>> 0;
    }
    [a0, b0, c0, d0] = [(a0 + a) >>> 0, (b0 + b) >>> 0, (c0 + c) >>> 0, (d0 + d) >>> 0];
  }
  const out = new Uint8Array(16);
  const ov = new DataView(out.buffer);
  [a0, b0, c0, d0].forEach((v, i) => ov.setUint32(4 * i, v, true));
  return hex(out);
}

/** null when the bytes pass the entry's check, else what is wrong. */
export async function checkWeights(entry: PublishedWeights, bytes: Uint8Array): Promise<string | null> {
  const check = entry.check;
  if (!check) return null;
  if ('sha256Prefix' in check) {
    const got = await sha256Hex(bytes);
    return got.startsWith(check.sha256Prefix) ? null : `sha256 ${got} does not start with ${check.sha256Prefix} (the hash in torchvision's file name)`;
  }
  const got = md5Hex(bytes);
  return got === check.md5 ? null : `md5 ${got} is not ${check.md5} (Keras's published hash)`;
}

// ---- fetching --------------------------------------------------------------------------------

const BROWSER_CACHE = 'graft-weights-v1'; // the same Cache API store as src/io/source.ts

async function cacheRead(url: string, o: ReadOptions): Promise<Uint8Array | null> {
  if (inNode) return nodeHost('the download cache').cacheRead(url, o.cacheDir);
  if (typeof caches === 'undefined') return null;
  const hit = await (await caches.open(BROWSER_CACHE)).match(url);
  return hit ? new Uint8Array(await hit.arrayBuffer()) : null;
}

async function cacheWrite(url: string, bytes: Uint8Array, o: ReadOptions): Promise<void> {
  if (inNode) return nodeHost('the download cache').cacheWrite(url, bytes, o.cacheDir);
  if (typeof caches === 'undefined') return;
  const headers = { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) };
  await (await caches.open(BROWSER_CACHE)).put(url, new Response(bytes as Uint8Array<ArrayBuffer>, { headers }));
}

async function cacheDelete(url: string, o: ReadOptions): Promise<void> {
  if (inNode) return nodeHost('the download cache').cacheClear(url, o.cacheDir);
  if (typeof caches !== 'undefined') await (await caches.open(BROWSER_CACHE)).delete(url);
}

export interface FetchedWeights {
  /** Where they came from (URL or path). */
  location: string;
  /** The checked bytes; null for a TF.js folder (read by its URL: location). */
  bytes: Uint8Array | null;
  fromCache: boolean;
}

/**
 * The entry's file, checked: from the cache, else downloaded (or read from a local mirror folder),
 * checked, then cached. A file that fails its check is refused and not cached (nor kept if cached).
 */
export async function fetchPublished(entry: PublishedWeights, o: ReadOptions & { baseUrl?: string } = {}): Promise<FetchedWeights> {
  const location = weightsLocation(entry, o.baseUrl);
  if (entry.folder) return { location, bytes: null, fromCache: false };
  const remote = isUrl(location) && /^https?:/i.test(location);
  const useCache = remote && o.cache !== false;
  if (useCache) {
    const cached = await cacheRead(location, o);
    if (cached) {
      if (!(await checkWeights(entry, cached))) {
        o.onProgress?.(1, { loaded: cached.length, total: cached.length, source: location, fromCache: true });
        return { location, bytes: cached, fromCache: true };
      }
      await cacheDelete(location, o); // damaged in the cache: fetch it again
    }
  }
  const bytes = remote ? await download(location, o) : await readSource(location, { ...o, cache: false });
  const problem = await checkWeights(entry, bytes);
  if (problem) throw new GraftError(`${location}: the ${entry.publisher} ${entry.arch} weights fail their check: ${problem}; nothing was cached`);
  if (useCache) await cacheWrite(location, bytes, o);
  return { location, bytes, fromCache: false };
}
