// Seeded fuzzing of the safetensors reader (see fuzz-harness.ts): byte mutations of valid files and
// header mutations (shapes, dtypes, offsets, the header length, metadata), each case a clean parse or
// a one-line GraftError naming the file, within time and memory bounds.
import { describe, expect, it } from 'vitest';
import { inNode } from '../../src/io/host.ts';
import { readSource } from '../../src/io/source.ts';
import { parseSafetensors } from '../../src/weights/safetensors.ts';
import { smallSafetensors } from './craft.ts';
import { fixture } from './fixtures.ts';
import { fuzz, fuzzCases, mutateBytes, NODE_ONLY_REASON, type Rng } from './fuzz-harness.ts';

const WILD = [-1, 0, 1, 1.5, 2 ** 31, 2 ** 53, 1e300, -0, 'x', null, [], {}, [1, [2]]];

function craft(header: unknown, data: Uint8Array, length?: bigint): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

/** A header-level mutation: one field of one entry, or the entries' layout. */
function mutateHeader(rng: Rng, base: Uint8Array): { bytes: Uint8Array; how: string } {
  const n = Number(new DataView(base.buffer, base.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(base.subarray(8, 8 + n)));
  let data = base.subarray(8 + n);
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const name = rng.pick(names);
  const e = header[name];
  let how: string;
  switch (rng.int(8)) {
    case 0: e.shape = e.shape.length && rng.int(2) ? e.shape.map((d: number, i: number) => (i === rng.int(e.shape.length) ? rng.pick(WILD) : d)) : rng.pick(WILD); how = `shape of ${name}`; break;
    case 1: e.dtype = rng.pick(['F8_E4M3', 'f32', 'F32 ', 'I64', 'BOOL', 'U8', 'F64', 7, null]); how = `dtype of ${name}`; break;
    case 2: e.data_offsets = rng.pick([[0], [5, 3], [0, 2 ** 40], [-4, 4], [e.data_offsets[0] + 4, e.data_offsets[1] + 4], 'x', [0.5, 4]]); how = `offsets of ${name}`; break;
    case 3: e.shape = [rng.pick([1e5, 2 ** 20, 3e8]), rng.pick([1e5, 2 ** 20, 3e8])]; how = `huge shape of ${name}`; break;
    case 4: header.__metadata__ = rng.pick([{ a: 1 }, 'x', [], null, { nested: { a: 'b' } }]); how = 'metadata'; break;
    case 5: data = data.subarray(0, rng.int(data.length + 1)); how = 'data section cut'; break;
    case 6: { const more = new Uint8Array(data.length + 1 + rng.int(64)); more.set(data); data = more; how = 'trailing bytes'; break; }
    default: return { bytes: craft(header, data, rng.pick([0n, 2n ** 63n, 2n ** 64n - 1n, 100n << 20n, BigInt(n + 1)])), how: 'header length field' };
  }
  return { bytes: craft(header, data), how };
}

const run = inNode ? it : it.skip;

describe('safetensors fuzzer', () => {
  run(`${fuzzCases(1000)} mutated files: each parses or fails with one line naming the file, fast, without large allocations${inNode ? '' : NODE_ONLY_REASON}`, async () => {
    const bases = [smallSafetensors(), await readSource(fixture('tiny.safetensors'))];
    const { failures, accepted, refused } = await fuzz(
      fuzzCases(1000),
      (rng, i) => {
        const base = rng.pick(bases);
        const m = rng.int(2) ? mutateBytes(rng, base) : mutateHeader(rng, base);
        return { name: `fuzz-${i}.safetensors`, ...m };
      },
      async (c) => parseSafetensors(c.bytes, c.name),
    );
    expect(failures).toEqual([]);
    expect(refused).toBeGreaterThan(accepted); // the mutations do break files
  }, 120_000);
});
