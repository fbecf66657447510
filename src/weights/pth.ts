// torch.save files (the zip format, torch >= 1.6): `<archive>/data.pkl` is a pickle whose tensors
// point at storages through persistent ids ('storage', torch.FloatStorage, key, location, numel);
// each storage's raw little-endian bytes are the entry `<archive>/data/<key>`. A tensor is
// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...): element [i0, i1, ...] is
// storage[offset + sum(i_k * stride_k)], so views (transposes, slices) are materialised here.
import { shapeStr } from '../core/index.ts';
import type { HostTensor } from './state-dict.ts';
import { PyGlobal, PyObject, describe, unpickle } from './pickle.ts';
import { readSource, sourceName, type ReadOptions, type WeightSource } from '../io/source.ts';
import { GraftError } from '../core/index.ts';
import { decodeBfloat16, decodeFloat32, decodeFloat64, decodeHalf, decodeInt, describeValue, fileError, LimitCounter, numel, type WeightFile, type WeightLimits } from './weight-file.ts';
import { ZipArchive, type ZipEntry } from './zip.ts';

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

function rebuildTensor(args: unknown[], source: string, limits: LimitCounter): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) throw fileError(source, `_rebuild_tensor: expected a storage, got ${describe(storage)}`);
  const shape = limits.checkShape(size, `tensor of storage data/${storage.key}`);
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw fileError(source, `tensor of storage data/${storage.key}: bad storage offset ${describeValue(offset)}`);
  }
  // Old files may omit strides: contiguous.
  if (stride === undefined || stride === null) return new TensorRef(storage, offset, shape, shape.map((_, i) => numel(shape.slice(i + 1))));
  if (!Array.isArray(stride) || stride.length !== shape.length || !stride.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw fileError(source, `tensor of storage data/${storage.key}: bad strides (${Array.isArray(stride) ? `[${stride.map(describeValue).join(', ')}]` : describeValue(stride)}) for shape ${shapeStr(shape)}: strides must be non-negative integers, one per dimension`);
  }
  return new TensorRef(storage, offset, shape, stride as number[]);
}

/** Opaque data types checkpoints carry beside the weights: kept as PyObjects, never called. */
const OPAQUE_GLOBALS = new Set([
  'torch.Size', 'torch.device', 'torch.Tensor', 'torch.serialization._get_layout', 'torch.nn.parameter.Parameter',
  'builtins.set', 'builtins.frozenset', 'builtins.bytearray', 'builtins.slice', 'builtins.complex', '_codecs.encode',
  'numpy.core.multiarray.scalar', 'numpy._core.multiarray.scalar', 'numpy.dtype', 'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray._reconstruct', 'numpy.ndarray', 'argparse.Namespace', 'collections.defaultdict',
]);
const TORCH_DTYPES = new Set([
  'float32', 'float', 'float64', 'double', 'float16', 'half', 'bfloat16', 'int64', 'long', 'int32', 'int', 'int16',
  'short', 'int8', 'uint8', 'bool', 'complex64', 'complex128', 'complex32', 'qint8', 'quint8', 'qint32',
  'contiguous_format', 'channels_last', 'preserve_format', 'strided', 'sparse_coo',
]);

/**
 * The allow-list of pickle globals: what torch.save writes for state dicts and training checkpoints
 * (torch's own weights_only list plus the plain data types checkpoints carry). Anything else
 * (os.system, builtins.eval, subprocess.Popen, a pickled nn.Module, ...) is refused by name.
 */
function findGlobal(source: string, limits: LimitCounter) {
  return (module: string, name: string): PyGlobal => {
    const full = `${module}.${name}`;
    switch (full) {
      case 'collections.OrderedDict':
        return new PyGlobal(module, name, () => new Map());
      case 'torch._utils._rebuild_tensor':
      case 'torch._utils._rebuild_tensor_v2':
        return new PyGlobal(module, name, (args) => rebuildTensor(args, source, limits));
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        return new PyGlobal(module, name, (args) => args[0]);
      case 'torch._tensor._rebuild_from_type_v2': // (func, type, args, state): a Tensor subclass
        return new PyGlobal(module, name, (args) => {
          const [fn, , inner] = args;
          if (!(fn instanceof PyGlobal) || !Array.isArray(inner)) throw fileError(source, `_rebuild_from_type_v2: expected a function and its arguments, got ${describe(fn)}`);
          return fn.call ? fn.call(inner) : new PyObject(fn, inner);
        });
    }
    if (module === 'torch' && (name in STORAGES || TORCH_DTYPES.has(name))) return new PyGlobal(module, name);
    // numpy scalars in checkpoints: np.dtype(...) (numpy >= 1.25 also names numpy.dtypes.Float64DType and the like).
    if (OPAQUE_GLOBALS.has(full) || (module === 'numpy.dtypes' && /^[A-Za-z0-9]+DType$/.test(name))) {
      return new PyGlobal(module, name);
    }
    const hint = module.startsWith('torch.nn.modules') ? ': this file holds a pickled nn.Module, not a state dict; save model.state_dict() instead' : ': only the globals torch.save writes for state dicts are allowed';
    throw fileError(source, `unsupported pickle global ${full}${hint}`);
  };
}

function persistentLoad(source: string) {
  return (pid: unknown): StorageRef => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) throw fileError(source, `unsupported persistent id (${describeValue(pid)}): expected ('storage', type, key, location, numel)`);
    const [, type, key, , count] = pid as unknown[];
    if (!(type instanceof PyGlobal) || type.module !== 'torch' || !(type.name in STORAGES)) {
      throw fileError(source, `unsupported storage type ${type instanceof PyGlobal ? type.qualifiedName : describe(type)}`);
    }
    if (typeof key !== 'string' && typeof key !== 'number') throw fileError(source, `storage key is a ${describe(key)}, expected a string`);
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) throw fileError(source, `storage data/${key}: bad element count ${describeValue(count)}`);
    return new StorageRef(String(key), type.name, count);
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

export interface ParsePthOptions {
  limits?: WeightLimits;
}

/** Decode a torch.save archive held in memory. */
export async function parsePth(bytes: Uint8Array, source = '<bytes>', options: ParsePthOptions = {}): Promise<WeightFile> {
  try {
    return await parsePthChecked(bytes, source, options);
  } catch (e) {
    if (e instanceof GraftError) throw e;
    // A bug's raw JS error still names the file and stays one line.
    throw fileError(source, `cannot read this torch.save file (${(e as Error).message})`);
  }
}

async function parsePthChecked(bytes: Uint8Array, source: string, options: ParsePthOptions): Promise<WeightFile> {
  const limits = new LimitCounter(source, options.limits);
  limits.checkFileBytes(bytes.length);
  const zip = new ZipArchive(bytes, source);
  const pkl = zip.find('data.pkl');
  if (!pkl) throw fileError(source, `zip archive has no data.pkl (entries: ${[...zip.entries.keys()].slice(0, 8).join(', ')}): not a torch.save file`);
  const prefix = pkl.name.slice(0, pkl.name.length - 'data.pkl'.length);
  // Decompressed bytes count against the file-size limit, entry by entry, before inflating.
  let inflated = 0;
  const read = (entry: ZipEntry) => {
    inflated += entry.size;
    limits.checkFileBytes(inflated, `the archive's entries (decompressed, up to '${entry.name}')`);
    const ratio = limits.limits.maxInflateRatio;
    if (entry.method !== 0 && entry.size > entry.compressedSize * ratio + (1 << 20)) {
      throw fileError(source, `entry '${entry.name}' would inflate ${entry.compressedSize} bytes to ${entry.size}, more than ${ratio} times (a zip bomb?); raise limits.maxInflateRatio to read it`);
    }
    return zip.read(entry);
  };
  const byteorder = zip.find('byteorder');
  if (byteorder && byteorder.size < 64 && new TextDecoder().decode(await read(byteorder)).trim() === 'big') {
    throw fileError(source, 'saved on a big-endian machine (byteorder = big): not supported');
  }
  const root = unpickle(await read(pkl), { findGlobal: findGlobal(source, limits), persistentLoad: persistentLoad(source) }, source);
  const notes: string[] = [];
  const refs = findStateDict(root, source, notes);

  // Validate every tensor against its storage before reading any storage.
  const sizes = new Map<string, number>();
  for (const [name, t] of refs) {
    limits.add(t.size, `tensor '${name}'`);
    const n = numel(t.size);
    const what = `tensor '${name}' ${shapeStr(t.size)} (offset ${t.offset}, strides ${shapeStr(t.stride)})`;
    if (n > 0) {
      const last = t.offset + t.size.reduce((acc, d, i) => acc + (d - 1) * t.stride[i], 0);
      if (last >= t.storage.numel) throw fileError(source, `${what} reads past its storage of ${t.storage.numel} elements`);
    }
    if (n > t.storage.numel) {
      throw fileError(source, `${what} has ${n} elements but its storage holds only ${t.storage.numel}: a broadcast view; save t.contiguous() instead`);
    }
    const known = sizes.get(t.storage.key);
    if (known !== undefined && known !== t.storage.numel) throw fileError(source, `storage data/${t.storage.key} is declared with ${known} and ${t.storage.numel} elements`);
    sizes.set(t.storage.key, t.storage.numel);
  }

  const decoded = new Map<string, Float32Array | Int32Array>();
  const storageData = async (s: StorageRef, tensorName: string) => {
    let all = decoded.get(s.key);
    if (all) return all;
    const entry = zip.entries.get(`${prefix}data/${s.key}`);
    if (!entry) throw fileError(source, `storage data/${s.key} of tensor '${tensorName}' is missing from the archive`);
    const kind = STORAGES[s.kind];
    const needed = s.numel * kind.bytes;
    // torch writes a storage's bytes exactly: a different size is a broken (or hostile) archive.
    if (entry.size !== needed) {
      throw fileError(source, `storage data/${s.key} (tensor '${tensorName}') has ${entry.size} bytes, expected ${needed} (${s.numel} x ${kind.dtype})`);
    }
    const raw = await read(entry);
    all = kind.decode(raw, s.numel, () => `${source}: storage data/${s.key}`);
    decoded.set(s.key, all);
    return all;
  };

  const tensors = new Map<string, HostTensor>();
  const fileDtypes = new Map<string, string>();
  for (const [name, t] of refs) {
    const all = await storageData(t.storage, name);
    const data = numel(t.size) === 0 ? new (all.constructor as Float32ArrayConstructor | Int32ArrayConstructor)(0) : materialise(all, t);
    tensors.set(name, { shape: t.size, dtype: data instanceof Float32Array ? 'f32' : 'i32', data });
    fileDtypes.set(name, STORAGES[t.storage.kind].dtype);
  }
  return { format: 'pth', source, tensors, fileDtypes, metadata: {}, notes };
}

/** Read a torch.save (.pth / .pt / .bin) file from a path, URL or bytes. */
export async function readPth(source: WeightSource, options: ReadOptions & ParsePthOptions = {}): Promise<WeightFile> {
  const limits = new LimitCounter(sourceName(source), options.limits).limits;
  return parsePth(await readSource(source, { maxBytes: limits.maxFileBytes, ...options }), sourceName(source), options);
}
