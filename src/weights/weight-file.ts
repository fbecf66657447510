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
