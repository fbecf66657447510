// What every weight-file reader returns, and the number conversions they share (half and bfloat16
// to float32, 64-bit integers to int32 with a range check).
import { GraftError } from '../core/index.ts';
import type { HostTensor } from './state-dict.ts';

export type WeightFormat = 'safetensors' | 'pth' | 'keras-h5' | 'layers-model';

export interface WeightFile {
  format: WeightFormat;
  /** Where it came from, for messages. */
  source: string;
  /** Tensors by name, decoded to f32 / i32, in file order. */
  tensors: Map<string, HostTensor>;
  /** The dtype each tensor had in the file (F16, BF16, I64, float32, ...), for `graft inspect`. */
  fileDtypes: Map<string, string>;
  /** safetensors __metadata__, or what a converter records (arch, preprocessing, ...). */
  metadata: Record<string, string>;
  /** What a converter changed or could not match, for a person to read. */
  notes: string[];
}

/** Errors about a weight file always start with its name. */
export function fileError(source: string, problem: string): GraftError {
  return new GraftError(`${source}: ${problem}`);
}

export { numel } from '../core/index.ts';

export const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** IEEE half (binary16) bits -> float32 value. Exact: every half is a float32. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Little-endian half floats starting at `offset` of `bytes`. */
export function decodeHalf(bytes: Uint8Array, offset: number, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * 2);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
  return out;
}

/** bfloat16 is the top half of a float32: shift its bits up. */
export function decodeBfloat16(bytes: Uint8Array, offset: number, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * 2);
  const out = new Float32Array(count);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < count; i++) bits[i] = view.getUint16(i * 2, true) << 16;
  return out;
}

export function decodeFloat32(bytes: Uint8Array, offset: number, count: number): Float32Array {
  const at = bytes.byteOffset + offset;
  // Aligned: a view into the file's buffer, no copy (weight files are hundreds of MB).
  if (hostIsLittleEndian && at % 4 === 0) return new Float32Array(bytes.buffer, at, count);
  const view = new DataView(bytes.buffer, at, count * 4);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

export function decodeFloat64(bytes: Uint8Array, offset: number, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * 8);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}

/** Little-endian signed or unsigned integers of `width` bytes -> int32. 64-bit values must fit. */
export function decodeInt(bytes: Uint8Array, offset: number, count: number, width: 1 | 2 | 4 | 8, signed: boolean, what: () => string): Int32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * width);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    let v: number;
    if (width === 8) {
      const big = signed ? view.getBigInt64(i * 8, true) : view.getBigUint64(i * 8, true);
      if (big > 2147483647n || big < -2147483648n) throw new GraftError(`${what()}: value ${big} at index ${i} does not fit in int32`);
      v = Number(big);
    } else if (width === 4) v = signed ? view.getInt32(i * 4, true) : view.getUint32(i * 4, true);
    else if (width === 2) v = signed ? view.getInt16(i * 2, true) : view.getUint16(i * 2, true);
    else v = signed ? view.getInt8(i) : view.getUint8(i);
    if (v > 2147483647) throw new GraftError(`${what()}: value ${v} at index ${i} does not fit in int32`);
    out[i] = v;
  }
  return out;
}

/**
 * Limits every reader checks before it allocates, so that a small hostile file cannot take the
 * process's memory or time. The defaults admit the largest files Graft targets (VGG16's 553 MB .pth,
 * ResNet-152); raise them through `limits` in the read options for bigger files.
 */
export interface WeightLimits {
  /** Bytes of the file, and of all its decompressed entries together (default 2 GiB). */
  maxFileBytes?: number;
  /** Tensors in one file (default 100 000). */
  maxTensors?: number;
  /** Elements over all tensors together (default 2^29 = 536 870 912, 2 GiB of float32). */
  maxElements?: number;
  /**
   * A compressed entry (a zip repacked with deflate) may inflate to at most this many times its
   * compressed size, plus 1 MiB (default 64; weights compress about 1.1:1, a zip bomb 1000:1).
   */
  maxInflateRatio?: number;
}

export const DEFAULT_LIMITS: Required<WeightLimits> = { maxFileBytes: 2 ** 31, maxTensors: 100_000, maxElements: 2 ** 29, maxInflateRatio: 64 };

export function resolveLimits(limits: WeightLimits = {}): Required<WeightLimits> {
  return { ...DEFAULT_LIMITS, ...Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) };
}

/** Keeps the running tensor and element counts of one file against its limits. */
export class LimitCounter {
  private tensors = 0;
  private elements = 0;
  readonly limits: Required<WeightLimits>;
  constructor(private readonly source: string, limits?: WeightLimits) {
    this.limits = resolveLimits(limits);
  }
  /** A shape must be a list of non-negative integers whose product stays within maxElements. */
  checkShape(shape: unknown, what: string): number[] {
    if (!Array.isArray(shape) || shape.length > 32) throw fileError(this.source, `${what}: bad shape (${describeValue(shape)})`);
    let n = 1;
    for (const d of shape) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) throw fileError(this.source, `${what}: bad shape: dimension ${describeValue(d)} is not a non-negative integer`);
      n *= d;
    }
    if (n > this.limits.maxElements) {
      throw fileError(this.source, `${what}: shape [${shape.join(', ')}] has ${n} elements, over the limit of ${this.limits.maxElements} (raise limits.maxElements to read it)`);
    }
    return shape as number[];
  }
  add(shape: readonly number[], what: string): void {
    this.tensors++;
    this.elements += shape.reduce((a, b) => a * b, 1);
    if (this.tensors > this.limits.maxTensors) throw fileError(this.source, `more than ${this.limits.maxTensors} tensors, the limit (raise limits.maxTensors to read it)`);
    if (this.elements > this.limits.maxElements) {
      throw fileError(this.source, `${what} brings the total to ${this.elements} elements, over the limit of ${this.limits.maxElements} (raise limits.maxElements to read it)`);
    }
  }
  checkFileBytes(bytes: number, what = 'the file'): void {
    if (bytes > this.limits.maxFileBytes) throw fileError(this.source, `${what} has ${bytes} bytes, over the limit of ${this.limits.maxFileBytes} (raise limits.maxFileBytes to read it)`);
  }
}

/** A short, non-recursive description of any value for messages (never serialises a structure). */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (v instanceof Map) return `a dict of ${v.size}`;
  return `a ${(v as object).constructor?.name ?? typeof v}`;
}
