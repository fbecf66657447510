// torch.save files (the zip format, torch >= 1.6): `<archive>/data.pkl` is a pickle whose tensors
// point at storages through persistent ids ('storage', torch.FloatStorage, key, location, numel);
// each storage's raw little-endian bytes are the entry `<archive>/data/<key>`. A tensor is
// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...): element [i0, i1, ...] is
// storage[offset + sum(i_k * stride_k)], so views (transposes, slices) are materialised here.
import { shapeStr } from '../core/index.ts';
import type { HostTensor } from './state-dict.ts';
import { PyGlobal, PyObject, describe, unpickle } from './pickle.ts';
import { readSource, sourceName, type ReadOptions, type WeightSource } from '../io/source.ts';
import { decodeBfloat16, decodeFloat32, decodeFloat64, decodeHalf, decodeInt, fileError, numel, type WeightFile } from './weight-file.ts';
import { ZipArchive } from './zip.ts';

/** torch storage classes: element size and how to decode to f32 / i32. */
const STORAGES: Record<string, { bytes: number; dtype: string; decode: (b: Uint8Array, n: number, what: () => string) => Float32Array | Int32Array }> = {
  FloatStorage: { bytes: 4, dtype: 'float32', decode: (b, n) => decodeFloat32(b, 0, n) },
  HalfStorage: { bytes: 2, dtype: 'float16', decode: (b, n) => decodeHalf(b, 0, n) },
  BFloat16Storage: { bytes: 2, dtype: 'bfloat16', decode: (b, n) => decodeBfloat16(b, 0, n) },
  DoubleStorage: { bytes: 8, dtype: 'float64', decode: (b, n) => decodeFloat64(b, 0, n) },
  LongStorage: { bytes: 8, dtype: 'int64', decode: (b, n, w) => decodeInt(b, 0, n, 8, true, w) },
  IntStorage: { bytes: 4, dtype: 'int32', decode: (b, n, w) => decodeInt(b, 0, n, 4, true, w) },
  ShortStorage: { bytes: 2, dtype: 'int16', decode: (b, n, w) => decodeInt(b, 0, n, 2, true, w) },
  CharStorage: { bytes: 1, dtype: 'int8', decode: (b, n, w) => decodeInt(b, 0, n, 1, true, w) },
  ByteStorage: { bytes: 1, dtype: 'uint8', decode: (b, n, w) => decodeInt(b, 0, n, 1, false, w) },
  BoolStorage: { bytes: 1, dtype: 'bool', decode: (b, n, w) => decodeInt(b, 0, n, 1, false, w) },
};

class StorageRef {
  constructor(readonly key: string, readonly kind: string, readonly numel: number) {}
}

class TensorRef {
  constructor(readonly storage: StorageRef, readonly offset: number, readonly size: number[], readonly stride: number[]) {}
}

/** Keys under which training scripts nest the weights in a checkpoint, in order of preference. */
const CHECKPOINT_KEYS = ['state_dict', 'model_state_dict', 'model', 'net', 'network', 'params', 'model_ema', 'state_dict_ema'];

function rebuildTensor(args: unknown[], source: string): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) throw fileError(source, `_rebuild_tensor: expected a storage, got ${describe(storage)}`);
  const shape = (size as unknown[]).map(Number);
  // Old files may omit strides: contiguous.
  const strides = Array.isArray(stride) ? stride.map(Number) : shape.map((_, i) => numel(shape.slice(i + 1)));
  return new TensorRef(storage, Number(offset), shape, strides);
}

function findGlobal(source: string) {
  return (module: string, name: string): PyGlobal => {
    const full = `${module}.${name}`;
    switch (full) {
      case 'collections.OrderedDict':
        return new PyGlobal(module, name, () => new Map());
      case 'torch._utils._rebuild_tensor':
      case 'torch._utils._rebuild_tensor_v2':
        return new PyGlobal(module, name, (args) => rebuildTensor(args, source));
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        return new PyGlobal(module, name, (args) => args[0]);
      case 'torch._tensor._rebuild_from_type_v2': // (func, type, args, state): a Tensor subclass
        return new PyGlobal(module, name, (args) => {
          const [fn, , inner] = args as [PyGlobal, unknown, unknown[]];
          return fn.call ? fn.call(inner) : new PyObject(fn, inner);
        });
    }
    if (module === 'torch' && name in STORAGES) return new PyGlobal(module, name);
    if (module.startsWith('torch.nn.modules') || (module.startsWith('torch') && name.startsWith('_rebuild'))) {
      const hint = module.startsWith('torch.nn.modules') ? ': this file holds a pickled nn.Module, not a state dict; save model.state_dict() instead' : '';
      throw fileError(source, `unsupported pickle global ${full}${hint}`);
    }
    // Anything else (numpy scalars, argparse.Namespace, torch.device, ...) stays an opaque object:
    // checkpoints carry such values beside the weights, and nothing here needs them.
    return new PyGlobal(module, name);
  };
}

function persistentLoad(source: string) {
  return (pid: unknown): StorageRef => {
    if (!Array.isArray(pid) || pid[0] !== 'storage') throw fileError(source, `unsupported persistent id ${JSON.stringify(pid)}`);
    const [, type, key, , count] = pid as [string, PyGlobal, string, string, number];
    if (!(type instanceof PyGlobal) || !(type.name in STORAGES)) {
      throw fileError(source, `unsupported storage type ${type instanceof PyGlobal ? type.qualifiedName : describe(type)}`);
    }
    return new StorageRef(String(key), type.name, Number(count));
  };
}

const isTensorDict = (v: unknown): v is Map<unknown, unknown> => v instanceof Map && [...v.values()].some((x) => x instanceof TensorRef);

/** The name -> tensor map inside whatever was saved: a state dict, or a checkpoint dict holding one. */
function findStateDict(root: unknown, source: string, notes: string[]): Map<string, TensorRef> {
  let dict: Map<unknown, unknown> | null = null;
  if (root instanceof Map) {
    const nested = CHECKPOINT_KEYS.find((k) => isTensorDict(root.get(k)));
    if (nested && ![...root.values()].every((v) => v instanceof TensorRef)) {
      dict = root.get(nested) as Map<unknown, unknown>;
      const others = [...root.keys()].filter((k) => k !== nested).map(String);
      notes.push(`read the '${nested}' entry of a checkpoint${others.length ? ` (also holds: ${others.join(', ')})` : ''}`);
    } else if (isTensorDict(root) || root.size === 0) dict = root;
  }
  if (!dict) throw fileError(source, `no state dict found: the file holds a ${describe(root)}${root instanceof Map ? ` with keys ${[...root.keys()].slice(0, 10).join(', ')}` : ''}`);
  const out = new Map<string, TensorRef>();
  const skipped: string[] = [];
  for (const [k, v] of dict) {
    if (v instanceof TensorRef) out.set(String(k), v);
    else skipped.push(`${String(k)} (${describe(v)})`);
  }
  if (skipped.length) notes.push(`skipped non-tensor entries: ${skipped.join(', ')}`);
  return out;
}

/** Element order of a strided view: gather storage[offset + sum(i_k * stride_k)] row-major. */
function materialise<T extends Float32Array | Int32Array>(all: T, t: TensorRef): T {
  const n = numel(t.size);
  const contiguous = t.size.every((d, i) => d === 1 || t.stride[i] === numel(t.size.slice(i + 1)));
  if (contiguous) return all.subarray(t.offset, t.offset + n) as T;
  const out = new (all.constructor as { new (n: number): T })(n);
  const rank = t.size.length;
  const index = new Array<number>(rank).fill(0);
  let at = t.offset;
  for (let i = 0; i < n; i++) {
    out[i] = all[at];
    // Odometer increment of the multi-index, keeping `at` in step.
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++;
      at += t.stride[d];
      if (index[d] < t.size[d]) break;
      at -= t.stride[d] * t.size[d];
      index[d] = 0;
    }
  }
  return out;
}

/** Decode a torch.save archive held in memory. */
export async function parsePth(bytes: Uint8Array, source = '<bytes>'): Promise<WeightFile> {
  const zip = new ZipArchive(bytes, source);
  const pkl = zip.find('data.pkl');
  if (!pkl) throw fileError(source, `zip archive has no data.pkl (entries: ${[...zip.entries.keys()].slice(0, 8).join(', ')}): not a torch.save file`);
  const prefix = pkl.name.slice(0, pkl.name.length - 'data.pkl'.length);
  const byteorder = zip.find('byteorder');
  if (byteorder && new TextDecoder().decode(await zip.read(byteorder)).trim() === 'big') {
    throw fileError(source, 'saved on a big-endian machine (byteorder = big): not supported');
  }
  const root = unpickle(await zip.read(pkl), { findGlobal: findGlobal(source), persistentLoad: persistentLoad(source) }, source);
  const notes: string[] = [];
  const refs = findStateDict(root, source, notes);

  const decoded = new Map<string, Float32Array | Int32Array>();
  const storageData = async (s: StorageRef, tensorName: string) => {
    let all = decoded.get(s.key);
    if (all) return all;
    const entry = zip.entries.get(`${prefix}data/${s.key}`);
    if (!entry) throw fileError(source, `storage data/${s.key} of tensor '${tensorName}' is missing from the archive`);
    const raw = await zip.read(entry);
    const kind = STORAGES[s.kind];
    const needed = s.numel * kind.bytes;
    if (raw.length < needed) {
      throw fileError(source, `storage data/${s.key} (tensor '${tensorName}') is truncated: ${raw.length} bytes, expected ${needed} (${s.numel} x ${kind.dtype})`);
    }
    all = kind.decode(raw, s.numel, () => `${source}: storage data/${s.key}`);
    decoded.set(s.key, all);
    return all;
  };

  const tensors = new Map<string, HostTensor>();
  const fileDtypes = new Map<string, string>();
  for (const [name, t] of refs) {
    const n = numel(t.size);
    const last = t.offset + t.size.reduce((acc, d, i) => acc + (d - 1) * t.stride[i], 0);
    if (n > 0 && (t.offset < 0 || last >= t.storage.numel)) {
      throw fileError(source, `tensor '${name}' ${shapeStr(t.size)} (offset ${t.offset}, strides ${shapeStr(t.stride)}) reads past its storage of ${t.storage.numel} elements`);
    }
    const all = await storageData(t.storage, name);
    const data = n === 0 ? new (all.constructor as Float32ArrayConstructor | Int32ArrayConstructor)(0) : materialise(all, t);
    tensors.set(name, { shape: t.size, dtype: data instanceof Float32Array ? 'f32' : 'i32', data });
    fileDtypes.set(name, STORAGES[t.storage.kind].dtype);
  }
  return { format: 'pth', source, tensors, fileDtypes, metadata: {}, notes };
}

/** Read a torch.save (.pth / .pt / .bin) file from a path, URL or bytes. */
export async function readPth(source: WeightSource, options: ReadOptions = {}): Promise<WeightFile> {
  return parsePth(await readSource(source, options), sourceName(source));
}
