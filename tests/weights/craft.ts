// Building weight files byte by byte for the hostile-input tests and the fuzzers: zip archives (stored
// or deflated entries, with real CRCs), torch.save pickles (state dicts whose tensors may carry any
// shape, stride, offset or storage), and a CRC refresher for tests that patch bytes in place.
import { crc32 } from '../../src/weights/zip.ts';

export interface CraftEntry {
  name: string;
  data: Uint8Array;
  /** Raw-deflated bytes to store instead (method 8); `data` is then the inflated content for the CRC and size. */
  deflated?: Uint8Array;
  /** Override the sizes / CRC the headers declare. */
  declaredSize?: number;
  crc?: number;
}

/** A zip archive (no zip64) whose stored entries start 64-byte aligned, as torch writes them. */
export function zipBytes(entries: CraftEntry[]): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let at = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const body = e.deflated ?? e.data;
    const crc = e.crc ?? crc32(e.data);
    const size = e.declaredSize ?? e.data.length;
    // Pad the local header's extra field so that the data starts 64-byte aligned.
    const pad = (64 - ((at + 30 + name.length + 4) % 64)) % 64;
    const local = new Uint8Array(30 + name.length + 4 + pad);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, e.deflated ? 8 : 0, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, size, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, 4 + pad, true);
    local.set(name, 30);
    lv.setUint16(30 + name.length, 0xcafe, true);
    lv.setUint16(32 + name.length, pad, true);
    const c = new Uint8Array(46 + name.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, e.deflated ? 8 : 0, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, at, true);
    c.set(name, 46);
    central.push(c);
    parts.push(local, body);
    at += local.length + body.length;
  }
  const dirSize = central.reduce((s, c) => s + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, dirSize, true);
  ev.setUint32(16, at, true);
  return concat([...parts, ...central, eocd]);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
}

/** Recompute the CRC of every stored entry after a test patched bytes in place. */
export function refreshCrcs(bytes: Uint8Array): Uint8Array {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = bytes.length - 22;
  while (eocd > 0 && v.getUint32(eocd, true) !== 0x06054b50) eocd--;
  let at = v.getUint32(eocd + 16, true);
  for (let i = 0; i < v.getUint16(eocd + 10, true); i++) {
    const local = v.getUint32(at + 42, true);
    if (v.getUint16(at + 10, true) === 0) {
      const start = local + 30 + v.getUint16(local + 26, true) + v.getUint16(local + 28, true);
      const crc = crc32(bytes.subarray(start, start + v.getUint32(at + 20, true)));
      v.setUint32(at + 16, crc, true);
      v.setUint32(local + 14, crc, true);
    }
    at += 46 + v.getUint16(at + 28, true) + v.getUint16(at + 30, true) + v.getUint16(at + 32, true);
  }
  return bytes;
}

// --- pickles ---------------------------------------------------------------------------------------

/** Pickle opcodes as bytes, with helpers for the values a state dict holds. */
export class Pickler {
  private out: number[] = [0x80, 2];
  raw(...b: number[]): this {
    this.out.push(...b);
    return this;
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    this.out.push(0x58, ...u32(b.length), ...b);
    return this;
  }
  int(n: number): this {
    if (Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31) this.out.push(0x4a, ...i32(n));
    else if (Number.isInteger(n)) {
      // LONG1: little-endian two's complement
      const bytes: number[] = [];
      let v = BigInt(n);
      for (let i = 0; i < 8; i++, v >>= 8n) bytes.push(Number(v & 0xffn));
      this.out.push(0x8a, 8, ...bytes);
    } else {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setFloat64(0, n, false);
      this.out.push(0x47, ...b);
    }
    return this;
  }
  global(module: string, name: string): this {
    this.out.push(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
    return this;
  }
  mark(): this {
    return this.raw(0x28);
  }
  tuple(): this {
    return this.raw(0x74);
  }
  ints(values: number[]): this {
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }
  bytes(): Uint8Array {
    return Uint8Array.from([...this.out, 0x2e]);
  }
}

const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const i32 = (n: number) => u32(n >>> 0);

export interface CraftTensor {
  name: string;
  storage: string;
  kind?: string;
  /** Elements the persistent id declares for the storage. */
  numel: number;
  offset?: number;
  shape: number[];
  stride?: number[];
}

/** data.pkl of an OrderedDict state dict, as torch.save writes it (protocol 2). */
export function stateDictPickle(tensors: CraftTensor[]): Uint8Array {
  const p = new Pickler().global('collections', 'OrderedDict').raw(0x29, 0x52).mark();
  for (const t of tensors) {
    p.str(t.name).global('torch._utils', '_rebuild_tensor_v2').mark();
    p.mark().str('storage').global('torch', t.kind ?? 'FloatStorage').str(t.storage).str('cpu').int(t.numel).tuple().raw(0x51);
    p.int(t.offset ?? 0).ints(t.shape).ints(t.stride ?? contiguous(t.shape)).raw(0x89).global('collections', 'OrderedDict').raw(0x29, 0x52).tuple().raw(0x52);
  }
  return p.raw(0x75).bytes();
}

export function contiguous(shape: number[]): number[] {
  return shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
}

/** A whole .pth archive: data.pkl plus the storages' bytes (float32 storages of `numel` elements unless given). */
export function pthBytes(pickle: Uint8Array, storages: Record<string, Uint8Array> = {}, edit?: (entries: CraftEntry[]) => void): Uint8Array {
  const entries: CraftEntry[] = [{ name: 'archive/data.pkl', data: pickle }];
  for (const [key, data] of Object.entries(storages)) entries.push({ name: `archive/data/${key}`, data });
  entries.push({ name: 'archive/version', data: new TextEncoder().encode('3\n') });
  edit?.(entries);
  return zipBytes(entries);
}

/** A small valid state dict: a 2x3 weight (transposed view) and a bias, with their float32 storages. */
export function smallPth(): Uint8Array {
  const w = new Float32Array([1, 2, 3, 4, 5, 6]);
  const b = new Float32Array([0.5, -0.5]);
  return pthBytes(
    stateDictPickle([
      { name: 'fc.weight', storage: '0', numel: 6, shape: [3, 2], stride: [1, 3] },
      { name: 'fc.bias', storage: '1', numel: 2, shape: [2] },
    ]),
    { '0': new Uint8Array(w.buffer), '1': new Uint8Array(b.buffer) },
  );
}

/** A small valid safetensors file (F32 and I64 tensors, metadata). */
export function smallSafetensors(): Uint8Array {
  const header = { __metadata__: { format: 'pt' }, a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] }, n: { dtype: 'I64', shape: [], data_offsets: [16, 24] } };
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  padded.set(json);
  json = padded;
  const out = new Uint8Array(8 + json.length + 24);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  [1.5, -2, 3, 4].forEach((x, i) => v.setFloat32(8 + json.length + 4 * i, x, true));
  v.setBigInt64(8 + json.length + 16, 7n, true);
  return out;
}
