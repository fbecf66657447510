// safetensors, Graft's own weight format (the Hugging Face layout):
//   [u64 little-endian N][N bytes of JSON header][data]
// header: { "__metadata__": {str: str}, name: { dtype, shape, data_offsets: [begin, end] }, ... }
// with offsets relative to the start of the data section. Tensors are row-major, little-endian.
// We write F32 for floats and I64 for integers (PyTorch's num_batches_tracked is a long, and
// load_state_dict copies values into the existing tensor, so either would load; I64 keeps the file
// identical to what torch itself would save).
import type { Module } from '../graph/module.ts';
import { shapeStr } from '../core/index.ts';
import { readStateDict, type HostTensor } from './state-dict.ts';
import { inNode, nodeHost } from '../io/host.ts';
import { readSource, sourceName, type ReadOptions, type WeightSource } from '../io/source.ts';
import {
  decodeBfloat16,
  decodeFloat32,
  decodeFloat64,
  decodeHalf,
  decodeInt,
  fileError,
  LimitCounter,
  numel,
  resolveLimits,
  type WeightFile,
  type WeightLimits,
} from './weight-file.ts';

/** Bytes per element of the dtypes we decode. */
const DTYPE_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** Headers this large are not weight files (the real ones are tens of KB). */
const MAX_HEADER_BYTES = 100 << 20;

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  /** Byte range within the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** Where the data section starts in the file: 8 + header length. */
  dataStart: number;
}

/** Decode and check the header. `fileSize` bounds the offsets (the bytes may be only a prefix of the file). */
export function parseSafetensorsHeader(bytes: Uint8Array, source: string, fileSize = bytes.length, limits?: WeightLimits): SafetensorsHeader {
  const counter = new LimitCounter(source, limits);
  counter.checkFileBytes(fileSize);
  if (fileSize < 8) throw fileError(source, `not a safetensors file: ${fileSize} bytes is too short for the 8-byte header length`);
  const lengthBig = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (lengthBig > BigInt(fileSize - 8) || lengthBig > BigInt(MAX_HEADER_BYTES)) {
    throw fileError(source, `bad safetensors header length ${lengthBig}: the file has ${fileSize} bytes (truncated, or not a safetensors file)`);
  }
  const headerLength = Number(lengthBig);
  if (bytes.length < 8 + headerLength) throw fileError(source, `need ${8 + headerLength} bytes to read the header, have ${bytes.length}`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (e) {
    throw fileError(source, `safetensors header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json) || bytes[8] !== 0x7b) throw fileError(source, 'safetensors header is not a JSON object');
  const dataSize = fileSize - 8 - headerLength;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !Object.values(raw).every((v) => typeof v === 'string')) {
        throw fileError(source, '__metadata__ must map strings to strings');
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    const what = `tensor '${name}'`;
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info !== 'object' || info === null) throw fileError(source, `${what}: header entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = info;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      throw fileError(source, `${what}: unknown dtype ${JSON.stringify(dtype)} (readable: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    }
    const dims = counter.checkShape(shape, what);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      throw fileError(source, `${what}: bad data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataSize) {
      throw fileError(source, `${what}: data_offsets [${begin}, ${end}] out of range: the data section has only ${dataSize} bytes (file truncated?)`);
    }
    const expected = numel(dims) * DTYPE_BYTES[dtype];
    if (end - begin !== expected) {
      throw fileError(source, `${what}: ${end - begin} bytes for shape ${shapeStr(dims)} of ${dtype}, expected ${expected}`);
    }
    counter.add(dims, what);
    entries.set(name, { dtype, shape: [...dims], begin, end });
  }
  // The specification: the tensors' byte ranges tile the data section, in order, with no overlap, no
  // gap and nothing after the last one.
  const ranges = [...entries].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let at = 0;
  for (const [name, e] of ranges) {
    if (e.begin < at) throw fileError(source, `tensor '${name}': data_offsets [${e.begin}, ${e.end}] overlap the previous tensor (which ends at ${at})`);
    if (e.begin > at) throw fileError(source, `tensor '${name}': data_offsets [${e.begin}, ${e.end}] leave a gap of ${e.begin - at} unused bytes before it (at ${at})`);
    at = e.end;
  }
  if (at !== dataSize) throw fileError(source, `${dataSize - at} trailing bytes after the last tensor (the data section has ${dataSize} bytes, the tensors use ${at})`);
  return { entries, metadata, dataStart: 8 + headerLength };
}

/** Decode a whole safetensors file held in memory. F32 tensors are views into `bytes` (no copy) when aligned. */
export function parseSafetensors(bytes: Uint8Array, source = '<bytes>', options: { limits?: WeightLimits } = {}): WeightFile {
  const header = parseSafetensorsHeader(bytes, source, bytes.length, options.limits);
  const tensors = new Map<string, HostTensor>();
  const fileDtypes = new Map<string, string>();
  for (const [name, e] of header.entries) {
    const at = header.dataStart + e.begin;
    const n = numel(e.shape);
    const what = () => `${source}: tensor '${name}'`;
    let t: HostTensor;
    switch (e.dtype) {
      case 'F32': t = { shape: e.shape, dtype: 'f32', data: decodeFloat32(bytes, at, n) }; break;
      case 'F16': t = { shape: e.shape, dtype: 'f32', data: decodeHalf(bytes, at, n) }; break;
      case 'BF16': t = { shape: e.shape, dtype: 'f32', data: decodeBfloat16(bytes, at, n) }; break;
      case 'F64': t = { shape: e.shape, dtype: 'f32', data: decodeFloat64(bytes, at, n) }; break;
      case 'I64': t = { shape: e.shape, dtype: 'i32', data: decodeInt(bytes, at, n, 8, true, what) }; break;
      case 'I32': t = { shape: e.shape, dtype: 'i32', data: decodeInt(bytes, at, n, 4, true, what) }; break;
      case 'I16': t = { shape: e.shape, dtype: 'i32', data: decodeInt(bytes, at, n, 2, true, what) }; break;
      case 'I8': t = { shape: e.shape, dtype: 'i32', data: decodeInt(bytes, at, n, 1, true, what) }; break;
      default: t = { shape: e.shape, dtype: 'i32', data: decodeInt(bytes, at, n, 1, false, what) }; // U8, BOOL
    }
    tensors.set(name, t);
    fileDtypes.set(name, e.dtype);
  }
  return { format: 'safetensors', source, tensors, fileDtypes, metadata: header.metadata, notes: [] };
}

/** Read a safetensors file from a path, URL or bytes (progress and download cache as in readSource). */
export async function readSafetensors(source: WeightSource, options: ReadOptions & { limits?: WeightLimits } = {}): Promise<WeightFile> {
  const max = resolveLimits(options.limits).maxFileBytes;
  return parseSafetensors(await readSource(source, { maxBytes: max, ...options }), sourceName(source), options);
}

/** Only the header of a local file (Node): tensor names, dtypes and shapes without reading the data. */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const io = nodeHost(`reading ${file}`);
  const size = await io.fileSize(file);
  const prefix = await io.readRange(file, 0, Math.min(size, 8));
  if (size < 8) return parseSafetensorsHeader(prefix, file, size);
  const length = Number(new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true));
  const head = length <= Math.min(size - 8, MAX_HEADER_BYTES) ? await io.readRange(file, 0, 8 + length) : prefix;
  return parseSafetensorsHeader(head, file, size);
}

export interface SaveOptions {
  /** Recorded in __metadata__ as `arch`. */
  arch?: string;
  /** More __metadata__ entries (values must be strings). */
  metadata?: Record<string, string>;
}

/** The bytes of a safetensors file: f32 -> F32, i32 -> I64, in the map's order. */
export function encodeSafetensors(entries: Map<string, HostTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    if (t.data.length !== numel(t.shape)) throw fileError(name, `${t.data.length} values for shape ${shapeStr(t.shape)}`);
    const bytes = t.data.length * (t.dtype === 'f32' ? 4 : 8);
    header[name] = { dtype: t.dtype === 'f32' ? 'F32' : 'I64', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  // Pad the header with spaces so the data section starts 8-byte aligned (zero-copy F32 views).
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const t of entries.values()) {
    if (t.dtype === 'f32') {
      for (let i = 0; i < t.data.length; i++, at += 4) view.setFloat32(at, t.data[i], true);
    } else {
      for (let i = 0; i < t.data.length; i++, at += 8) view.setBigInt64(at, BigInt(Math.trunc(t.data[i])), true);
    }
  }
  return out;
}

/**
 * Save a module's state dict (or host tensors) as safetensors with __metadata__ { format: 'pt', arch }.
 * In Node, `path` is written atomically (temp file + rename). Always returns the bytes (in the browser,
 * hand them to a download link or the Cache API).
 */
export async function saveSafetensors(source: Module | Map<string, HostTensor>, path?: string, options: SaveOptions = {}): Promise<Uint8Array> {
  const entries = source instanceof Map ? source : await readStateDict(source);
  const arch = options.arch ?? (source instanceof Map ? undefined : (source as { arch?: unknown }).arch);
  const metadata: Record<string, string> = { format: 'pt', ...(typeof arch === 'string' ? { arch } : {}), ...options.metadata };
  const bytes = encodeSafetensors(entries, metadata);
  if (path !== undefined) {
    if (!inNode) throw fileError(path, 'saving to a path needs Node; in the browser, call saveSafetensors(model) and use the returned bytes');
    await nodeHost(`writing ${path}`).writeFileAtomic(path, bytes);
  }
  return bytes;
}
