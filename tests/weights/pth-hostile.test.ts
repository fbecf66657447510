// Hostile and broken .pth files (issue 12): each is refused fast, with one line that names the file and
// the problem, before anything large is allocated. The files are built byte by byte (craft.ts).
import { describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/index.ts';
import { parsePth } from '../../src/weights/pth.ts';
import { crc32 } from '../../src/weights/zip.ts';
import { concat, contiguous, Pickler, pthBytes, smallPth, stateDictPickle, zipBytes } from './craft.ts';

async function deflateRaw(data: Uint8Array | ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const stream = (data instanceof Uint8Array ? new Blob([data as Uint8Array<ArrayBuffer>]).stream() : data).pipeThrough(new CompressionStream("deflate-raw") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A stream of `total` zero bytes in 1 MiB chunks (never held in memory at once). */
function zeros(total: number): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(1 << 20);
  let left = total;
  return new ReadableStream({
    pull(c) {
      if (left <= 0) return c.close();
      const n = Math.min(left, chunk.length);
      left -= n;
      c.enqueue(chunk.subarray(0, n));
    },
  });
}

/** Fails unless `run` rejects with a GraftError matching `pattern`, within `ms` milliseconds. */
async function refused(run: () => Promise<unknown>, pattern: RegExp, ms = 2000): Promise<void> {
  const start = performance.now();
  const error = await run().then(
    () => null,
    (e: unknown) => e,
  );
  const took = performance.now() - start;
  expect(error instanceof GraftError ? 'GraftError' : String(error)).toBe('GraftError');
  expect((error as Error).message).toMatch(pattern);
  expect((error as Error).message.split('\n')).toHaveLength(1);
  expect(took).toBeLessThan(ms);
}

const floats = (n: number) => new Uint8Array(new Float32Array(n).map((_, i) => i).buffer);

describe('hostile .pth files are refused before they cost memory or time', () => {
  it('crc32 is the zip (IEEE) checksum', () => {
    // The standard check value of CRC-32/ISO-HDLC, and one for the empty input.
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('the crafted small file is valid (the base of the cases below)', async () => {
    const file = await parsePth(smallPth(), 'small.pth');
    expect([...file.tensors.get('fc.weight')!.data]).toEqual([1, 4, 2, 5, 3, 6]);
    expect([...file.tensors.get('fc.bias')!.data]).toEqual([0.5, -0.5]);
  });

  it('a tuple DAG of depth 40 used as a dict key (702 bytes, was 43 s and 1.9 GB) is refused by kind', async () => {
    // t0 = (); t_{k+1} = (t_k, t_k) through the memo: 2^40 leaves if anything walked it.
    const p = new Pickler().raw(0x7d).raw(0x29);
    for (let k = 0; k < 40; k++) p.raw(0x71, 0, 0x68, 0, 0x86); // BINPUT 0, BINGET 0, TUPLE2
    const pickle = p.str('x').raw(0x73).bytes(); // SETITEM {dag: 'x'}
    await refused(() => parsePth(pthBytes(pickle), 'dag.pth'), /^graft: dag\.pth: dict key is a tuple\/list: a state dict's keys are strings or integers/);
  });

  it('a persistent-id DAG is refused without serialising it', async () => {
    const p = new Pickler().raw(0x7d).str('w').raw(0x29);
    for (let k = 0; k < 40; k++) p.raw(0x71, 0, 0x68, 0, 0x86);
    const pickle = p.raw(0x51, 0x73).bytes(); // BINPERSID, SETITEM
    await refused(() => parsePth(pthBytes(pickle), 'pid.pth'), /^graft: pid\.pth: unsupported persistent id \(a list of 2\)/);
  });

  for (const [module, name] of [['os', 'system'], ['builtins', 'eval'], ['subprocess', 'Popen'], ['posix', 'system'], ['torch', 'load']]) {
    it(`a pickle that references ${module}.${name} is refused by name`, async () => {
      const pickle = new Pickler().raw(0x7d).str('w').global(module, name).mark().str('echo hi').tuple().raw(0x52, 0x73).bytes();
      await refused(() => parsePth(pthBytes(pickle), 'evil.pth'), new RegExp(`^graft: evil\\.pth: unsupported pickle global ${module}\\.${name}: only the globals`));
    });
  }

  it('a deflated 1 GiB of zeros whose directory claims a small size stops at that size', async () => {
    const deflated = await deflateRaw(zeros(1 << 30));
    expect(deflated.length).toBeLessThan(2 << 20);
    const bytes = pthBytes(stateDictPickle([{ name: 'w', storage: '0', numel: 4, shape: [4] }]), {}, (entries) =>
      entries.push({ name: 'archive/data/0', data: new Uint8Array(16), deflated, declaredSize: 16 }),
    );
    const memory = () => (typeof process !== 'undefined' && process.memoryUsage ? process.memoryUsage().arrayBuffers : 0);
    const before = memory();
    await refused(() => parsePth(bytes, 'bomb.pth'), /^graft: bomb\.pth: entry 'archive\/data\/0' does not inflate: inflates to more than 16 bytes/);
    expect(memory() - before).toBeLessThan(64 << 20);
  });

  it('a directory claiming 1 GiB for a storage of 4 floats is refused before inflating', async () => {
    const deflated = await deflateRaw(new Uint8Array(1 << 20));
    const bytes = pthBytes(stateDictPickle([{ name: 'w', storage: '0', numel: 4, shape: [4] }]), {}, (entries) =>
      entries.push({ name: 'archive/data/0', data: new Uint8Array(16), deflated, declaredSize: 1 << 30 }),
    );
    await refused(() => parsePth(bytes, 'claim.pth'), /^graft: claim\.pth: storage data\/0 \(tensor 'w'\) has 1073741824 bytes, expected 16 \(4 x float32\)/);
  });

  it('a storage that inflates more than 64:1 (a valid zip bomb) is refused unless the limit is raised', async () => {
    const data = new Uint8Array(16 << 20);
    const deflated = await deflateRaw(data);
    const bytes = pthBytes(stateDictPickle([{ name: 'w', storage: '0', numel: 4 << 20, shape: [4 << 20] }]), {}, (entries) =>
      entries.push({ name: 'archive/data/0', data, deflated }),
    );
    await refused(() => parsePth(bytes, 'ratio.pth'), new RegExp(`^graft: ratio\\.pth: entry 'archive/data/0' would inflate ${deflated.length} bytes to 16777216, more than 64 times \\(a zip bomb\\?\\); raise limits\\.maxInflateRatio`));
    const file = await parsePth(bytes, 'ratio.pth', { limits: { maxInflateRatio: 100_000 } });
    expect(file.tensors.get('w')!.data.length).toBe(4 << 20);
  });

  it('a stride-0 view of 3e8 elements over 1 element (was 1.2 GB) is refused', async () => {
    const bytes = pthBytes(stateDictPickle([{ name: 'w', storage: '0', numel: 1, shape: [300_000_000], stride: [0] }]), { '0': floats(1) });
    await refused(() => parsePth(bytes, 'stride0.pth'), /^graft: stride0\.pth: tensor 'w' \[300000000\] .* has 300000000 elements but its storage holds only 1: a broadcast view/);
  });

  it('a shape of 1e10 elements is over the limit, and the limit can be raised', async () => {
    const bytes = pthBytes(stateDictPickle([{ name: 'w', storage: '0', numel: 1, shape: [100000, 100000] }]), { '0': floats(1) });
    await refused(() => parsePth(bytes, 'huge.pth'), /^graft: huge\.pth: tensor of storage data\/0: shape \[100000, 100000\] has 10000000000 elements, over the limit of 536870912 \(raise limits\.maxElements/);
    const small = pthBytes(stateDictPickle([{ name: 'w', storage: '0', numel: 12, shape: [3, 4] }]), { '0': floats(12) });
    await refused(() => parsePth(small, 'limited.pth', { limits: { maxElements: 10 } }), /^graft: limited\.pth: .*12 elements, over the limit of 10/);
    await refused(() => parsePth(small, 'few.pth', { limits: { maxTensors: 0 } }), /^graft: few\.pth: more than 0 tensors, the limit \(raise limits\.maxTensors/);
    await refused(() => parsePth(small, 'bytes.pth', { limits: { maxFileBytes: 100 } }), /^graft: bytes\.pth: the file has \d+ bytes, over the limit of 100 \(raise limits\.maxFileBytes/);
    expect((await parsePth(small, 'ok.pth', { limits: { maxElements: 12 } })).tensors.get('w')!.shape).toEqual([3, 4]);
  });

  for (const [what, shape, stride, offset, pattern] of [
    ['a negative shape', [-2, 3], undefined, 0, /bad shape: dimension -2 is not a non-negative integer/],
    ['a fractional shape', [1.5, 2], undefined, 0, /bad shape: dimension 1\.5 is not a non-negative integer/],
    ['a negative stride', [2, 3], [3, -1], 0, /bad strides \(\[3, -1\]\) for shape \[2, 3\]: strides must be non-negative integers/],
    ['strides of the wrong rank', [2, 3], [1], 0, /bad strides \(\[1\]\) for shape \[2, 3\]/],
    ['a negative offset', [2], undefined, -1, /bad storage offset -1/],
    ['a view past its storage', [2, 3], [3, 1], 1, /tensor 'w' \[2, 3\] \(offset 1, strides \[3, 1\]\) reads past its storage of 6 elements/],
  ] as const) {
    it(`${what} is refused`, async () => {
      const pickle = stateDictPickle([{ name: 'w', storage: '0', numel: 6, shape: [...shape], stride: stride ? [...stride] : contiguous([...shape].map((d) => Math.abs(Math.round(d)))), offset }]);
      await refused(() => parsePth(pthBytes(pickle, { '0': floats(6) }), 'bad.pth'), new RegExp(`^graft: bad\\.pth: .*${pattern.source}`));
    });
  }

  it('a shape that is not a list ("size.map is not a function") is refused', async () => {
    const p = new Pickler().global('collections', 'OrderedDict').raw(0x29, 0x52).str('w').global('torch._utils', '_rebuild_tensor_v2').mark();
    p.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(6).tuple().raw(0x51).int(0).int(6).ints([1]).raw(0x89).tuple().raw(0x52, 0x73);
    await refused(() => parsePth(pthBytes(p.bytes(), { '0': floats(6) }), 'size.pth'), /^graft: size\.pth: tensor of storage data\/0: bad shape \(6\)/);
  });

  it('a circular list in a persistent id ("Converting circular structure to JSON") is refused', async () => {
    const p = new Pickler().raw(0x7d).str('w').raw(0x5d, 0x71, 1, 0x68, 1, 0x61); // EMPTY_LIST, BINPUT 1, BINGET 1, APPEND: l = [l]
    await refused(() => parsePth(pthBytes(p.raw(0x51, 0x73).bytes()), 'circ.pth'), /^graft: circ\.pth: unsupported persistent id \(a list of 1\)/);
  });

  it('a CRC that does not match (as torch rejects) is refused', async () => {
    const bytes = pthBytes(stateDictPickle([{ name: 'w', storage: '0', numel: 2, shape: [2] }]), {}, (entries) =>
      entries.push({ name: 'archive/data/0', data: floats(2), crc: 0x12345678 }),
    );
    await refused(() => parsePth(bytes, 'crc.pth'), /^graft: crc\.pth: entry 'archive\/data\/0' fails its CRC check \(crc32 [0-9a-f]{8}, the directory says 12345678\)/);
  });

  it('a zip64 extra field that runs past its entry is a clear error, not a RangeError', async () => {
    const bytes = zipBytes([{ name: 'archive/data.pkl', data: new Pickler().raw(0x7d).bytes() }]);
    const v = new DataView(bytes.buffer);
    let cd = bytes.length - 22;
    cd = v.getUint32(cd + 16, true);
    v.setUint32(cd + 24, 0xffffffff, true); // size lives in the zip64 field...
    const withExtra = concat([bytes.subarray(0, cd + 46 + 16), Uint8Array.from([1, 0, 200, 0]), bytes.subarray(cd + 46 + 16)]);
    const wv = new DataView(withExtra.buffer);
    wv.setUint16(cd + 30, 4, true); // ...which claims 200 bytes but the entry's extra is 4 long
    const eocd = withExtra.length - 22;
    wv.setUint32(eocd + 12, wv.getUint32(eocd + 12, true) + 4, true);
    await refused(() => parsePth(withExtra, 'zip64.pth'), /^graft: zip64\.pth: zip extra field of 'archive\/data\.pkl' runs past the end of its entry/);
  });

  it('a zip64 field too short for the sizes it must hold is a clear error', async () => {
    const bytes = zipBytes([{ name: 'archive/data.pkl', data: new Pickler().raw(0x7d).bytes() }]);
    const v = new DataView(bytes.buffer);
    const cd = v.getUint32(bytes.length - 22 + 16, true);
    v.setUint32(cd + 24, 0xffffffff, true);
    const withExtra = concat([bytes.subarray(0, cd + 46 + 16), Uint8Array.from([1, 0, 4, 0, 0, 0, 0, 0]), bytes.subarray(cd + 46 + 16)]);
    const wv = new DataView(withExtra.buffer);
    wv.setUint16(cd + 30, 8, true);
    const eocd = withExtra.length - 22;
    wv.setUint32(eocd + 12, wv.getUint32(eocd + 12, true) + 8, true);
    await refused(() => parsePth(withExtra, 'zip64.pth'), /^graft: zip64\.pth: zip64 extra field of 'archive\/data\.pkl' is too short/);
  });

  it('a huge LONG4 integer is refused without quadratic work', async () => {
    const n = 4 << 20;
    const p = new Pickler().raw(0x8b, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >> 24) & 0xff);
    const pickle = concat([p.bytes().subarray(0, -1), new Uint8Array(n).fill(1), Uint8Array.from([0x2e])]);
    await refused(() => parsePth(pthBytes(pickle), 'long.pth'), /^graft: long\.pth: integer of 4194304 bytes is too large/);
  });
});
