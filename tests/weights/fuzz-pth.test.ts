// Seeded fuzzing of the torch .pth reader (see fuzz-harness.ts): byte mutations of valid archives
// (real torch files and crafted ones), crafted state dicts with wild shapes, strides, offsets,
// storage sizes and kinds, malicious pickles (globals outside the allow-list, DAG keys, circular
// persistent ids) and size bombs (deflated entries whose directory lies about their size).
import { describe, expect, it } from 'vitest';
import { inNode } from '../../src/io/host.ts';
import { readSource } from '../../src/io/source.ts';
import { parsePth } from '../../src/weights/pth.ts';
import { Pickler, pthBytes, smallPth, stateDictPickle, type CraftTensor } from './craft.ts';
import { fixture } from './fixtures.ts';
import { fuzz, fuzzCases, mutateBytes, NODE_ONLY_REASON, type Rng } from './fuzz-harness.ts';

const KINDS = ['FloatStorage', 'HalfStorage', 'BFloat16Storage', 'DoubleStorage', 'LongStorage', 'IntStorage', 'ByteStorage', 'BoolStorage', 'ComplexFloatStorage', 'QInt8Storage'];
const BYTES: Record<string, number> = { FloatStorage: 4, HalfStorage: 2, BFloat16Storage: 2, DoubleStorage: 8, LongStorage: 8, IntStorage: 4, ByteStorage: 1, BoolStorage: 1 };
const EVIL: [string, string][] = [['os', 'system'], ['builtins', 'eval'], ['builtins', 'exec'], ['subprocess', 'Popen'], ['posix', 'system'], ['builtins', 'getattr'], ['torch', 'load'], ['nt', 'system'], ['runpy', '_run_code'], ['webbrowser', 'open']];
const DIM = (rng: Rng) => rng.pick([0, 1, 2, 3, 5, -1, -3, 1.5, 2 ** 31, 2 ** 40, 3e8, 1e10]);

function craftedTensors(rng: Rng): Uint8Array {
  const n = 1 + rng.int(3);
  const tensors: CraftTensor[] = [];
  const storages: Record<string, Uint8Array> = {};
  for (let i = 0; i < n; i++) {
    const rank = rng.int(4);
    const wild = rng.int(3) === 0;
    const shape = Array.from({ length: rank }, () => (wild ? DIM(rng) : 1 + rng.int(4)));
    const count = shape.reduce((a, b) => a * b, 1);
    const kind = rng.int(6) ? 'FloatStorage' : rng.pick(KINDS);
    const numel = rng.int(4) ? Math.max(0, Math.min(count, 1 << 12)) : rng.pick([0, 1, count + 1, 2 ** 31, -1]);
    const stride = rng.int(4) ? undefined : shape.map(() => rng.pick([0, 1, 2, -1, 2 ** 31]));
    const key = String(rng.int(3) ? i : 0);
    tensors.push({ name: `t${i}`, storage: key, kind, numel: Number.isSafeInteger(numel) ? numel : 1, shape: shape.map((d) => (Number.isFinite(d) ? d : 1)), stride, offset: rng.int(5) ? 0 : rng.pick([1, -1, 2 ** 31, 0.5]) });
    const bytes = Math.max(0, Math.min(1 << 14, (Number.isSafeInteger(numel) && numel > 0 ? numel : 1) * (BYTES[kind] ?? 4)));
    storages[key] ??= new Uint8Array(rng.int(5) ? bytes : rng.int(bytes + 8));
  }
  return pthBytes(stateDictPickle(tensors), storages);
}

function maliciousPickle(rng: Rng): Uint8Array {
  const p = new Pickler().raw(0x7d);
  switch (rng.int(4)) {
    case 0: { const [m, f] = rng.pick(EVIL); p.str('w').global(m, f).mark().str('id').tuple().raw(0x52, 0x73); break; }
    case 1: { p.raw(0x29); for (let k = 0; k < 30 + rng.int(20); k++) p.raw(0x71, 0, 0x68, 0, 0x86); p.str('x').raw(0x73); break; }
    case 2: { p.str('w').raw(0x29); for (let k = 0; k < 30 + rng.int(20); k++) p.raw(0x71, 0, 0x68, 0, 0x86); p.raw(0x51, 0x73); break; }
    default: { p.str('w').raw(0x5d, 0x71, 1, 0x68, 1, 0x61, 0x51, 0x73); break; }
  }
  return pthBytes(p.bytes());
}

const deflatedZeros = new Map<number, Promise<Uint8Array>>();
function zerosDeflated(size: number): Promise<Uint8Array> {
  if (!deflatedZeros.has(size)) {
    const stream = new Blob([new Uint8Array(size)]).stream().pipeThrough(new CompressionStream('deflate-raw') as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
    deflatedZeros.set(size, new Response(stream).arrayBuffer().then((b) => new Uint8Array(b)));
  }
  return deflatedZeros.get(size)!;
}

async function bomb(rng: Rng): Promise<Uint8Array> {
  const size = rng.pick([1 << 20, 16 << 20, 64 << 20]);
  const deflated = await zerosDeflated(size);
  const numel = rng.pick([4, 16, size / 4]);
  const declared = rng.pick([16, numel * 4, size, 2 ** 32 - 1]);
  return pthBytes(stateDictPickle([{ name: 'w', storage: '0', numel, shape: [numel] }]), {}, (entries) =>
    entries.push({ name: 'archive/data/0', data: new Uint8Array(0), deflated, declaredSize: declared, crc: rng.int(2) ? 0 : 0x12345678 }),
  );
}

const run = inNode ? it : it.skip;

describe('torch .pth fuzzer', () => {
  run(`${fuzzCases(400)} mutated archives and hostile pickles: each parses or fails with one line naming the file, fast, without large allocations${inNode ? '' : NODE_ONLY_REASON}`, async () => {
    const bases = [smallPth(), await readSource(fixture('tiny.pth')), await readSource(fixture('tiny-deflate.pth')), await readSource(fixture('checkpoint.pth'))];
    const { failures, accepted, refused } = await fuzz(
      fuzzCases(400),
      async (rng, i) => {
        const name = `fuzz-${i}.pth`;
        const kind = rng.int(10);
        if (kind < 5) return { name, ...mutateBytes(rng, rng.pick(bases)) };
        if (kind < 8) return { name, bytes: craftedTensors(rng), how: 'crafted tensors' };
        if (kind < 9) return { name, bytes: maliciousPickle(rng), how: 'malicious pickle' };
        return { name, bytes: await bomb(rng), how: 'deflate bomb' };
      },
      (c) => parsePth(c.bytes, c.name),
    );
    expect(failures).toEqual([]);
    expect(refused).toBeGreaterThan(accepted);
  }, 120_000);
});
