// The seeded fuzzer shared by tests/weights/fuzz-*.test.ts. Each case mutates a small valid file
// (truncation, bit flips, byte runs, insertions, deletions, or a format-specific structure change)
// and parses it: the case passes when the reader returns (a still-valid file) or throws a one-line
// GraftError that names the file, within a time bound, with array-buffer memory growth below a
// small multiple of the file size. Cases per format: GRAFT_FUZZ_CASES (default below); seed:
// GRAFT_FUZZ_SEED. A failing case is reported with its seed and index, to replay it alone.
import { GraftError } from '../../src/core/index.ts';
import { inNode } from '../../src/io/host.ts';

const env = (name: string): string | undefined => (typeof process !== 'undefined' ? process.env?.[name] : undefined);

/** Cases per format: GRAFT_FUZZ_CASES overrides `fallback` (a longer campaign: GRAFT_FUZZ_CASES=20000). */
export function fuzzCases(fallback: number): number {
  const n = Number(env('GRAFT_FUZZ_CASES'));
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

export const FUZZ_SEED = Number(env('GRAFT_FUZZ_SEED') ?? 12) >>> 0;

/** The fuzzers run in Node only: they measure memory with process.memoryUsage and take a while. */
export const fuzzIn = inNode ? 'node' : 'browser';
export const NODE_ONLY_REASON = ' (Node only: measures memory with process.memoryUsage; the Chrome run skips it)';

/** mulberry32: a small seeded PRNG. */
export class Rng {
  constructor(private s: number) {}
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

/** Generic byte-level mutations of a valid file. */
export function mutateBytes(rng: Rng, base: Uint8Array): { bytes: Uint8Array; how: string } {
  const b = base.slice();
  switch (rng.int(6)) {
    case 0: {
      const n = rng.int(b.length);
      return { bytes: b.subarray(0, n), how: `truncated to ${n}` };
    }
    case 1: {
      const k = 1 + rng.int(8);
      for (let i = 0; i < k; i++) b[rng.int(b.length)] ^= 1 << rng.int(8);
      return { bytes: b, how: `${k} bit flips` };
    }
    case 2: {
      const at = rng.int(b.length);
      const n = 1 + rng.int(16);
      const v = rng.pick([0, 0xff, 0x7f, 0x80, rng.int(256)]);
      b.fill(v, at, at + n);
      return { bytes: b, how: `${n} bytes of ${v} at ${at}` };
    }
    case 3: {
      const at = rng.int(b.length);
      const n = 1 + rng.int(64);
      const out = new Uint8Array(b.length + n);
      out.set(b.subarray(0, at));
      for (let i = 0; i < n; i++) out[at + i] = rng.int(256);
      out.set(b.subarray(at), at + n);
      return { bytes: out, how: `${n} bytes inserted at ${at}` };
    }
    case 4: {
      const at = rng.int(b.length);
      const n = Math.min(1 + rng.int(64), b.length - at);
      const out = new Uint8Array(b.length - n);
      out.set(b.subarray(0, at));
      out.set(b.subarray(at + n), at);
      return { bytes: out, how: `${n} bytes deleted at ${at}` };
    }
    default: {
      // A 32- or 64-bit little-endian field overwritten with an extreme value (sizes, offsets, counts).
      const at = rng.int(Math.max(1, b.length - 8));
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const value = rng.pick([0, 1, 0x7fffffff, 0xffffffff, 0x80000000, rng.int(2 ** 32)]);
      if (rng.int(2) && at + 8 <= b.length) v.setBigUint64(at, rng.pick([0n, 2n ** 63n, 2n ** 64n - 1n, BigInt(value)]), true);
      else if (at + 4 <= b.length) v.setUint32(at, value, true);
      return { bytes: b, how: `field at ${at} set to an extreme value` };
    }
  }
}

export interface FuzzCase {
  /** The file's name for the reader (its messages must name it). */
  name: string;
  bytes: Uint8Array;
  how: string;
}

export interface FuzzOptions {
  /** Per case (default 3 s; generous for a loaded 2-core machine, far below any hang). */
  timeMs?: number;
  /** Array-buffer growth allowed per case: factor x file size + slack (default 8x + 32 MiB). */
  memoryFactor?: number;
  memorySlack?: number;
}

/**
 * Run `count` cases made by `make(rng, i)` through `parse`; returns one line per failed case (an
 * empty list when every case behaved). `parse` may return anything: success means a still-valid file.
 */
export async function fuzz(count: number, make: (rng: Rng, i: number) => FuzzCase | Promise<FuzzCase>, parse: (c: FuzzCase) => Promise<unknown>, options: FuzzOptions = {}): Promise<{ failures: string[]; accepted: number; refused: number }> {
  const { timeMs = 3000, memoryFactor = 8, memorySlack = 32 << 20 } = options;
  const failures: string[] = [];
  let accepted = 0;
  let refused = 0;
  const memory = () => (typeof process !== 'undefined' && process.memoryUsage ? process.memoryUsage().arrayBuffers : 0);
  for (let i = 0; i < count; i++) {
    const rng = new Rng((FUZZ_SEED * 1_000_003 + i) >>> 0);
    const c = await make(rng, i);
    const before = memory();
    const start = performance.now();
    let error: unknown = null;
    let result: unknown = null;
    try {
      result = await parse(c);
    } catch (e) {
      error = e;
    }
    const took = performance.now() - start;
    const grew = memory() - before;
    result = null;
    const where = `case ${i} (seed ${FUZZ_SEED}, ${c.how}, ${c.bytes.length} bytes)`;
    if (error === null) accepted++;
    else if (!(error instanceof GraftError)) failures.push(`${where}: ${(error as Error)?.constructor?.name} instead of a GraftError: ${String((error as Error)?.message ?? error).split('\n')[0]}`);
    else if (!error.message.includes(c.name)) failures.push(`${where}: the message does not name the file: ${error.message}`);
    else if (error.message.includes('\n')) failures.push(`${where}: a message of ${error.message.split('\n').length} lines: ${error.message.split('\n')[0]}`);
    else refused++;
    if (took > timeMs) failures.push(`${where}: took ${took.toFixed(0)} ms (bound ${timeMs})`);
    if (grew > memoryFactor * c.bytes.length + memorySlack) failures.push(`${where}: array buffers grew by ${grew} bytes (bound ${memoryFactor} x ${c.bytes.length} + ${memorySlack})`);
    if (failures.length >= 20) break;
  }
  return { failures, accepted, refused };
}
