// IDX files (the MNIST / Fashion-MNIST format), raw or gzip-compressed:
//   [0, 0, type, ndims] [ndims big-endian u32 sizes] [data, big-endian, row-major]
// type 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64.
// Paths are read in Node, URLs through fetch (both worlds); gzip through DecompressionStream.
import { GraftError } from '../core/index.ts';
import { readBytes } from '../io/files.ts';
import { ArrayDataset } from './data.ts';

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dims: number[];
  data: IdxData;
}

const TYPES: Record<number, { name: string; bytes: number }> = {
  0x08: { name: 'u8', bytes: 1 },
  0x09: { name: 'i8', bytes: 1 },
  0x0b: { name: 'i16', bytes: 2 },
  0x0c: { name: 'i32', bytes: 4 },
  0x0d: { name: 'f32', bytes: 4 },
  0x0e: { name: 'f64', bytes: 8 },
};

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

async function gunzip(bytes: Uint8Array, source: string): Promise<Uint8Array> {
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new GraftError(`${source}: gzip data is corrupt or truncated (${(e as Error).message})`);
  }
}

/** Decode IDX bytes (gunzipped first when they start with the gzip magic). */
export async function parseIdx(input: Uint8Array, source = 'IDX data'): Promise<IdxArray> {
  const bytes = isGzip(input) ? await gunzip(input, source) : input;
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new GraftError(`${source}: not an IDX file (magic ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ') || 'missing: empty file'}, expected 00 00 <type> <ndims>)`);
  }
  const type = TYPES[bytes[2]];
  if (!type) throw new GraftError(`${source}: unknown IDX element type 0x${bytes[2].toString(16)} (known: 08 u8, 09 i8, 0b i16, 0c i32, 0d f32, 0e f64)`);
  const ndims = bytes[3];
  const headerBytes = 4 + 4 * ndims;
  if (ndims === 0 || bytes.length < headerBytes) throw new GraftError(`${source}: IDX header of ${ndims} dimensions is truncated (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * type.bytes;
  if (bytes.length !== expected) {
    throw new GraftError(`${source}: IDX ${type.name} data of dims [${dims.join(', ')}] needs ${expected} bytes, the file has ${bytes.length}${bytes.length < expected ? ' (truncated)' : ''}`);
  }
  const at = headerBytes;
  let data: IdxData;
  switch (type.name) {
    case 'u8': data = bytes.slice(at, at + count); break;
    case 'i8': data = new Int8Array(bytes.slice(at, at + count).buffer); break;
    case 'i16': data = Int16Array.from({ length: count }, (_, i) => view.getInt16(at + 2 * i, false)); break;
    case 'i32': data = Int32Array.from({ length: count }, (_, i) => view.getInt32(at + 4 * i, false)); break;
    case 'f32': data = Float32Array.from({ length: count }, (_, i) => view.getFloat32(at + 4 * i, false)); break;
    default: data = Float64Array.from({ length: count }, (_, i) => view.getFloat64(at + 8 * i, false));
  }
  return { dims, data };
}

/** Read an IDX file from a path (Node) or URL. */
export async function readIdx(source: string | URL | Uint8Array): Promise<IdxArray> {
  if (source instanceof Uint8Array) return parseIdx(source);
  return parseIdx(await readBytes(source), String(source));
}

export interface IdxDatasetOptions {
  classNames?: readonly string[];
  /** Keep only the first `limit` items. */
  limit?: number;
  name?: string;
}

/**
 * An image dataset from an IDX image file [N, H, W] (or [N, C, H, W]) of u8 pixels and an IDX
 * label file [N]: items [1, H, W] (or [C, H, W]) scaled to [0, 1].
 */
export async function idxDataset(images: string | URL | Uint8Array, labels: string | URL | Uint8Array, o: IdxDatasetOptions = {}): Promise<ArrayDataset> {
  const name = o.name ?? (typeof images === 'string' || images instanceof URL ? String(images) : 'IDX dataset');
  const [img, lab] = await Promise.all([readIdx(images), readIdx(labels)]);
  if (img.dims.length !== 3 && img.dims.length !== 4) throw new GraftError(`${name}: IDX images must have dims [N, H, W] or [N, C, H, W], got [${img.dims.join(', ')}]`);
  if (lab.dims.length !== 1) throw new GraftError(`${name}: IDX labels must have dims [N], got [${lab.dims.join(', ')}]`);
  if (img.dims[0] !== lab.dims[0]) throw new GraftError(`${name}: ${img.dims[0]} images but ${lab.dims[0]} labels`);
  const [n, ...rest] = img.dims;
  const shape = (rest.length === 2 ? [1, rest[0], rest[1]] : rest) as [number, number, number];
  const keep = Math.min(n, o.limit ?? n);
  const size = shape[0] * shape[1] * shape[2];
  const pixels = img.data instanceof Uint8Array || img.data instanceof Float32Array || img.data instanceof Float64Array ? img.data : Float32Array.from(img.data);
  return new ArrayDataset({
    images: pixels.subarray(0, keep * size),
    labels: lab.data.subarray(0, keep),
    shape,
    numClasses: o.classNames?.length,
    classNames: o.classNames,
    name,
  });
}

export const FASHION_MNIST_CLASSES = Object.freeze(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);

/** Where Debian's dataset-fashion-mnist package puts the files. */
export const FASHION_MNIST_DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';

/** Fashion-MNIST's train (60000) or test (10000) split from a folder of the four .gz IDX files. */
export async function fashionMnist(dir: string = FASHION_MNIST_DEBIAN_DIR, split: 'train' | 'test' = 'train', o: Omit<IdxDatasetOptions, 'classNames'> = {}): Promise<ArrayDataset> {
  const prefix = split === 'train' ? 'train' : 't10k';
  const base = dir.endsWith('/') ? dir : dir + '/';
  return idxDataset(`${base}${prefix}-images-idx3-ubyte.gz`, `${base}${prefix}-labels-idx1-ubyte.gz`, { classNames: FASHION_MNIST_CLASSES, name: `Fashion-MNIST ${split}`, ...o });
}
