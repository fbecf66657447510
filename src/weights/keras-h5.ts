// Keras HDF5 weight files (keras-applications' vgg16/vgg19/resnet50 `.h5`, or a model.save_weights /
// model.save file): read with h5wasm and mapped to torchvision names and layouts by keras-map.ts.
// File layout: root attr `layer_names`; one group per layer with attr `weight_names`, each naming a
// dataset inside the group: Keras 1 `block1_conv1/block1_conv1_W_1:0`, Keras 2
// `block1_conv1/block1_conv1/kernel:0`. A full model.save file nests all of it under `model_weights`.
import { mapKerasLayers, type KerasLayer, type KerasWeight } from './keras-map.ts';
import { readSource, sourceName, type ReadOptions, type WeightSource } from '../io/source.ts';
import { hasNodeHost, inNode, nodeHost } from '../io/host.ts';
import { fileError, LimitCounter, type WeightFile, type WeightLimits } from './weight-file.ts';

type H5 = typeof import('h5wasm');
type H5Group = InstanceType<H5['Group']>;

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** Where the superblock is: offset 0, or 512, 1024, 2048, ... after a user block; -1 if none. */
function superblockAt(bytes: Uint8Array): number {
  for (let at = 0; at + 8 <= bytes.length && at <= 1 << 20; at = at ? at * 2 : 512) {
    if (HDF5_SIGNATURE.every((b, i) => bytes[at + i] === b)) return at;
  }
  return -1;
}

export function isHdf5(bytes: Uint8Array): boolean {
  return superblockAt(bytes) >= 0;
}

/**
 * The file size the superblock declares (its end-of-file address plus the base address), or null
 * when the superblock cannot be read. Superblock v0/v1: version at +8, size of offsets at +13, base
 * address at +24 (v0) or +28 (v1), then free-space, end-of-file addresses. v2/v3: size of offsets at
 * +9, base address at +12, then extension, end-of-file addresses.
 */
function declaredSize(bytes: Uint8Array, at: number): number | null {
  const version = bytes[at + 8];
  const offsetSize = version <= 1 ? bytes[at + 13] : bytes[at + 9];
  if (offsetSize !== 8 && offsetSize !== 4) return null;
  const base = version === 0 ? at + 24 : version === 1 ? at + 28 : version <= 3 ? at + 12 : -1;
  if (base < 0 || base + 3 * offsetSize > bytes.length) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read = (p: number) => (offsetSize === 8 ? Number(view.getBigUint64(p, true)) : view.getUint32(p, true));
  return read(base) + read(base + 2 * offsetSize);
}

type H5Fs = { writeFile(path: string, data: Uint8Array): void; unlink(path: string): void; readdir(path: string): string[] };
type H5Instance = { h5: H5; fs: H5Fs };
let h5Ready: Promise<H5Instance> | null = null;
let instances = 0;
function loadH5(): Promise<H5Instance> {
  h5Ready ??= (async () => {
    // The first instance is the package's own; after a trap (below), Node loads a fresh copy of the
    // module (its own WebAssembly state). Browsers cannot: there, .h5 reading stops after a trap.
    const fresh = instances++ > 0 && inNode && hasNodeHost() ? nodeHost('h5wasm').importFresh : undefined;
    const h5 = (fresh ? await fresh('h5wasm', 'dist/node/hdf5_hl.js') : await import('h5wasm')) as H5;
    const module = await h5.ready;
    // HDF5 prints its error stack (up to hundreds of HDF5-DIAG lines) through console.error; this
    // handler turns it into a thrown Error instead, which the reader reduces to one line.
    (module as unknown as { activate_throwing_error_handler?: () => void }).activate_throwing_error_handler?.();
    return { h5, fs: module.FS as unknown as H5Fs };
  })();
  return h5Ready;
}

/** Fresh instances after traps: each broken one stays in memory (ES modules are never unloaded), so a few at most. */
const MAX_INSTANCES = 5;

/** h5wasm trapped (a WebAssembly RuntimeError) on `source`: its state is broken; use a fresh one from now on, or stop. */
function retire(source: string): void {
  h5Ready = null;
  if (!(inNode && hasNodeHost() && nodeHost('h5wasm').importFresh) || instances >= MAX_INSTANCES) poisoned = source;
}

/** How many h5wasm instances this process loaded, and the file that broke the last one allowed (null: none). */
export function hdf5ReaderState(): { instances: number; maxInstances: number; brokenBy: string | null } {
  return { instances, maxInstances: MAX_INSTANCES, brokenBy: poisoned };
}

/** Run h5wasm's synchronous calls; in Node with stderr swallowed (its abort() prints a line through a console.error it bound at load). */
function quietly<T>(fn: () => T): T {
  const quiet = inNode && hasNodeHost() ? nodeHost('h5wasm').quietStderr : undefined;
  return quiet ? quiet(fn) : fn();
}

/** The first line of an HDF5 error, without the library's source paths. */
function hdf5Problem(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const detail = lines.find((l) => /^#\d+:/.test(l))?.replace(/^#\d+:\s*\S+ line \d+ in /, '') ?? lines[0] ?? 'unknown error';
  return detail.length > 200 ? `${detail.slice(0, 200)}...` : detail;
}

let fileCounter = 0;
/** The file on which h5wasm trapped (a WebAssembly RuntimeError): its state is broken from then on. */
let poisoned: string | null = null;
const isTrap = (e: unknown) => typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError;

function stringList(value: unknown): string[] {
  const list = Array.isArray(value) ? value : value === null || value === undefined ? [] : [value];
  return list.map((v) => (v instanceof Uint8Array ? new TextDecoder().decode(v) : String(v)));
}

/** Every dataset under a group, depth first, as paths relative to it (files without weight_names). */
function datasetPaths(h5: H5, group: H5Group, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of group.keys()) {
    const child = group.get(name);
    if (child instanceof h5.Dataset) out.push(prefix + name);
    else if (child instanceof h5.Group) out.push(...datasetPaths(h5, child, `${prefix}${name}/`));
  }
  return out;
}

/** Layers and their weights, in file order, as stored (Keras layouts). */
function readLayers(h5: H5, file: InstanceType<H5['File']>, source: string, limits: LimitCounter, fileBytes: number): { layers: KerasLayer[]; attrs: Record<string, string> } {
  let root: H5Group = file;
  const weights = file.get('model_weights');
  if (weights instanceof h5.Group) root = weights;
  const attrs: Record<string, string> = {};
  for (const holder of [file, root]) {
    for (const [k, a] of Object.entries(holder.attrs)) attrs[k] = stringList(a.value).join(',');
  }
  const layerNames = root.attrs.layer_names ? stringList(root.attrs.layer_names.value) : root.keys();
  const layers: KerasLayer[] = [];
  for (const name of layerNames) {
    const g = root.get(name);
    if (!(g instanceof h5.Group)) throw fileError(source, `layer '${name}' is listed in layer_names but has no group`);
    const names = g.attrs.weight_names ? stringList(g.attrs.weight_names.value) : datasetPaths(h5, g);
    const list: KerasWeight[] = [];
    for (const weightName of names) {
      const d = g.get(weightName);
      if (!(d instanceof h5.Dataset)) throw fileError(source, `weight '${weightName}' of layer '${name}' is missing`);
      // Check the declared shape before h5wasm allocates for it.
      const shape = limits.checkShape(d.shape ?? [], `weight '${weightName}' of layer '${name}'`);
      limits.add(shape, `weight '${weightName}' of layer '${name}'`);
      // Uncompressed data must be in the file: HDF5 would otherwise hand out fill values for a
      // dataset of any declared size (a few hundred bytes could ask for gigabytes).
      const need = shape.reduce((a, b) => a * b, 1) * (d.metadata.size ?? 4);
      const compressed = (d.filters?.length ?? 0) > 0;
      if (need > fileBytes * (compressed ? 1032 : 1)) {
        throw fileError(source, `weight '${weightName}' of layer '${name}' declares ${need} bytes of data, more than the file's ${fileBytes}${compressed ? ' could hold compressed' : ''}`);
      }
      const value = d.value;
      if (!(value instanceof Float32Array || value instanceof Float64Array || value instanceof Uint16Array)) {
        throw fileError(source, `weight '${weightName}' of layer '${name}' has dtype ${JSON.stringify(d.dtype)} (expected float32 or float64)`);
      }
      if (value instanceof Uint16Array) throw fileError(source, `weight '${weightName}' of layer '${name}' is float16: convert the file to float32 first`);
      list.push({
        name: weightName,
        shape: d.shape ?? [],
        data: value instanceof Float32Array ? value : Float32Array.from(value),
        dtype: value instanceof Float32Array ? 'float32' : 'float64',
      });
    }
    if (list.length) layers.push({ name, weights: list });
  }
  return { layers, attrs };
}

/** Decode a Keras HDF5 file held in memory and map it to torchvision names (the arch is detected from the layer names). */
export async function parseKerasH5(bytes: Uint8Array, source = '<bytes>', options: { arch?: string; limits?: WeightLimits } = {}): Promise<WeightFile> {
  new LimitCounter(source, options.limits).checkFileBytes(bytes.length);
  const superblock = superblockAt(bytes);
  if (superblock < 0) throw fileError(source, 'not an HDF5 file (no HDF5 signature)');
  const size = declaredSize(bytes, superblock);
  if (size !== null && size > bytes.length) throw fileError(source, `HDF5 file is truncated: its superblock declares ${size} bytes, the file has ${bytes.length}`);
  if (poisoned) {
    throw fileError(source, `cannot read HDF5 files any more here: the HDF5 library (h5wasm) crashed on ${poisoned} and its state is unusable; ${inNode ? 'restart the process' : 'reload the page'}`);
  }
  const { h5, fs } = await loadH5();
  let trapped = false;
  // h5wasm reads from its in-memory file system: copy the bytes in, open, and remove them again.
  const path = `/graft-weights-${++fileCounter}.h5`;
  fs.writeFile(path, bytes);
  let file: InstanceType<H5['File']> | null = null;
  try {
    try {
      file = quietly(() => new h5.File(path, 'r'));
    } catch (e) {
      if (isTrap(e)) trapped = true;
      throw fileError(source, `HDF5 file cannot be opened (corrupt): ${hdf5Problem(e)}`);
    }
    if (file.file_id < 0n) {
      file = null;
      throw fileError(source, 'HDF5 file cannot be opened (corrupt)');
    }
    let read: ReturnType<typeof readLayers>;
    try {
      const opened = file;
      read = quietly(() => readLayers(h5, opened, source, new LimitCounter(source, options.limits), bytes.length));
    } catch (e) {
      if ((e as Error).name === 'GraftError') throw e;
      if (isTrap(e)) trapped = true;
      throw fileError(source, `HDF5 file is corrupt: ${hdf5Problem(e)}`);
    }
    const { layers, attrs } = read;
    if (attrs.backend === 'theano') {
      throw fileError(source, "Theano-ordered Keras weights (backend 'theano') are not supported: use the tf_dim_ordering file");
    }
    const modelConfig = attrs.model_config ? safeJson(attrs.model_config) : null;
    const mapped = mapKerasLayers(layers, { source, arch: options.arch, modelConfig });
    return { format: 'keras-h5', source, tensors: mapped.tensors, fileDtypes: mapped.fileDtypes, metadata: mapped.metadata, notes: mapped.notes };
  } finally {
    // A corrupt file can fail to close; its bytes still leave the in-memory file system.
    try {
      const opened = file;
      if (opened) quietly(() => opened.close());
    } catch (e) {
      if (isTrap(e)) trapped = true;
    }
    try {
      fs.unlink(path);
    } catch {
      /* gone */
    }
    if (trapped) retire(source);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Read a Keras `.h5` weight file from a path, URL or bytes and map it to torchvision names. */
export async function readKerasH5(source: WeightSource, options: ReadOptions & { arch?: string; limits?: WeightLimits } = {}): Promise<WeightFile> {
  const max = new LimitCounter(sourceName(source), options.limits).limits.maxFileBytes;
  return parseKerasH5(await readSource(source, { maxBytes: max, ...options }), sourceName(source), options);
}
