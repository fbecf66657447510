// safetensors: reading every dtype of a file laid out by Python (numpy / torch values as reference),
// writing (F32, I64) and reading back, saving a module, and a clear error for each kind of bad file.
import { describe, expect, it } from 'vitest';
import { Module } from '../../src/graph/module.ts';
import type { Tensor } from '../../src/graph/tensor.ts';
import { BatchNorm2d, Conv2d, Linear } from '../../src/models/layers.ts';
import { loadPretrained } from '../../src/weights/pretrained.ts';
import { readStateDict, type HostTensor } from '../../src/weights/state-dict.ts';
import { encodeSafetensors, parseSafetensors, readSafetensors, saveSafetensors } from '../../src/weights/safetensors.ts';
import { testGpu } from '../helpers.ts';
import { compareAll, expectedTensors, fixture, sameTensor } from './fixtures.ts';

/** A file from a header (object or raw text) and a data section; `length` overrides the header length field. */
function craft(header: object | string, data: Uint8Array = new Uint8Array(0), length?: number): Uint8Array {
  const text = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(length ?? text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

describe('safetensors reader', () => {
  it('decodes F32, F16, BF16, F64, I64, I32, U8 and empty tensors exactly as numpy/torch hold them', async () => {
    const file = await readSafetensors(fixture('tiny.safetensors'));
    const expected = (await expectedTensors()).safetensors;
    expect(compareAll(file.tensors, expected)).toEqual([]);
    expect([...file.tensors.keys()]).toEqual(Object.keys(expected));
    for (const [name, e] of Object.entries(expected)) expect(file.fileDtypes.get(name)).toBe(e.dtype);
    expect(file.tensors.get('e.i64')!.dtype).toBe('i32');
    expect(file.tensors.get('e.i64')!.shape).toEqual([]);
    expect(file.tensors.get('b.f16')!.dtype).toBe('f32');
    expect(file.metadata).toEqual({ format: 'pt', note: 'fixture' });
  });

  it('reports progress while reading a file, ending at 1', async () => {
    const seen: number[] = [];
    await readSafetensors(fixture('tiny.safetensors'), { onProgress: (f) => seen.push(f) });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[seen.length - 1]).toBe(1);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
  });
});

describe('safetensors writer', () => {
  it('writes f32 as F32 and i32 as I64 (PyTorch long), 8-byte aligned, and reads back the same values', () => {
    const entries = new Map<string, HostTensor>([
      ['w', { shape: [2, 3], dtype: 'f32', data: Float32Array.from([1.5, -2, 3.25, 0, -0, 1e-30]) }],
      ['bn.num_batches_tracked', { shape: [], dtype: 'i32', data: Int32Array.from([123456]) }],
      ['odd', { shape: [3], dtype: 'f32', data: Float32Array.from([7, 8, 9]) }],
      ['neg', { shape: [2], dtype: 'i32', data: Int32Array.from([-1, -2147483648]) }],
    ]);
    const bytes = encodeSafetensors(entries, { format: 'pt', arch: 'tiny' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    expect(header.__metadata__).toEqual({ format: 'pt', arch: 'tiny' });
    expect(header['bn.num_batches_tracked']).toEqual({ dtype: 'I64', shape: [], data_offsets: [24, 32] });
    expect(header.w.dtype).toBe('F32');
    // The I64 bytes, little-endian two's complement, read independently of the reader.
    const view = new DataView(bytes.buffer, 8 + headerLength);
    expect(view.getBigInt64(24, true)).toBe(123456n);
    expect(view.getBigInt64(32 + 12 + 8, true)).toBe(-2147483648n);
    const back = parseSafetensors(bytes, 'roundtrip');
    for (const [name, t] of entries) expect(sameTensor(name, back.tensors.get(name), { shape: t.shape, values: t.data })).toBeNull();
  });

  it("saves a module's parameters and buffers by name and loads them into a fresh module", async () => {
    const gpu = await testGpu();
    class Net extends Module {
      readonly conv1 = this.addModule('conv1', new Conv2d(gpu, 3, 4, 3, { bias: false }));
      readonly bn1 = this.addModule('bn1', new BatchNorm2d(gpu, 4));
      readonly fc = this.addModule('fc', new Linear(gpu, 4, 2));
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    const a = new Net();
    const b = new Net();
    // Give a's BN buffers values that differ from the defaults.
    const stats = new Map<string, HostTensor>([
      ['bn1.running_mean', { shape: [4], dtype: 'f32', data: Float32Array.from([0.1, -0.2, 0.3, -0.4]) }],
      ['bn1.running_var', { shape: [4], dtype: 'f32', data: Float32Array.from([1.5, 2.5, 0.5, 3]) }],
      ['bn1.num_batches_tracked', { shape: [], dtype: 'i32', data: Int32Array.from([17]) }],
    ]);
    await loadPretrained(a, encodeSafetensors(stats), { strict: false });
    const bytes = await saveSafetensors(a, undefined, { arch: 'net' });
    const file = parseSafetensors(bytes, 'saved');
    expect(file.metadata).toEqual({ format: 'pt', arch: 'net' });
    expect(file.fileDtypes.get('bn1.num_batches_tracked')).toBe('I64');
    const report = await loadPretrained(b, bytes);
    expect(report.loaded).toBe(8);
    const want = await readStateDict(a);
    const got = await readStateDict(b);
    for (const [name, t] of want) expect(sameTensor(name, got.get(name), { shape: t.shape, values: t.data })).toBeNull();
    expect(Array.from(got.get('bn1.num_batches_tracked')!.data)).toEqual([17]);
    a.dispose();
    b.dispose();
  });
});

describe('safetensors bad input', () => {
  const f32 = (n: number) => new Uint8Array(n * 4);
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short for the header length', new Uint8Array(5), /bad\.safetensors: not a safetensors file: 5 bytes/],
    ['header length beyond the file', craft({}, new Uint8Array(0), 4096), /bad\.safetensors: bad safetensors header length 4096: the file has \d+ bytes/],
    ['header not JSON', craft('{"a": [1, 2'), /bad\.safetensors: safetensors header is not valid JSON/],
    ['header not an object', craft('[1, 2]'), /bad\.safetensors: safetensors header is not a JSON object/],
    ['unknown dtype', craft({ w: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, new Uint8Array(2)), /bad\.safetensors: tensor 'w': unknown dtype "F8_E4M3"/],
    ['offsets out of range (truncated data)', craft({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(2)), /bad\.safetensors: tensor 'w': data_offsets \[0, 16\] out of range: the data section has only 8 bytes/],
    ['byte length not matching the shape', craft({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32(2)), /bad\.safetensors: tensor 'w': 8 bytes for shape \[3\] of F32, expected 12/],
    ['bad data_offsets', craft({ w: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, f32(4)), /bad\.safetensors: tensor 'w': bad data_offsets \[8,4\]/],
    ['bad shape', craft({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f32(1)), /bad\.safetensors: tensor 'w': bad shape: dimension -1 is not a non-negative integer/],
    ['overlapping tensors', craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32(3)), /bad\.safetensors: tensor 'b': data_offsets \[4, 12\] overlap the previous tensor \(which ends at 8\)/],
    ['a gap between tensors', craft({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, f32(3)), /bad\.safetensors: tensor 'b': data_offsets \[8, 12\] leave a gap of 4 unused bytes before it/],
    ['trailing bytes', craft({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(2)), /bad\.safetensors: 4 trailing bytes after the last tensor/],
    ['metadata that is not strings', craft({ __metadata__: { a: 1 } }), /bad\.safetensors: __metadata__ must map strings to strings/],
    ['a header that does not start with {', craft(' {}'), /bad\.safetensors: safetensors header is not a JSON object/],
    ['a shape over the element limit', craft({ a: { dtype: 'F32', shape: [1e6, 1e6], data_offsets: [0, 4] } }, f32(1)), /bad\.safetensors: tensor 'a': shape \[1000000, 1000000\] has 1000000000000 elements, over the limit of 536870912 \(raise limits\.maxElements/],
    ['I64 value beyond int32', craft({ n: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, Uint8Array.from([0, 0, 0, 0, 1, 0, 0, 0])), /bad\.safetensors: tensor 'n': value 4294967296 at index 0 does not fit in int32/],
  ];
  for (const [what, bytes, message] of cases) {
    it(`fails with a message naming the file and the problem: ${what}`, () => {
      expect(() => parseSafetensors(bytes, 'bad.safetensors')).toThrow(message);
    });
  }

  it('a real file cut short fails with the truncation named', async () => {
    const whole = (await readSafetensors(fixture('tiny.safetensors'))).tensors;
    expect(whole.size).toBe(9);
    const { readSource } = await import('../../src/io/source.ts');
    const bytes = await readSource(fixture('tiny.safetensors'));
    expect(() => parseSafetensors(bytes.subarray(0, bytes.length - 3), 'cut.safetensors')).toThrow(/cut\.safetensors: tensor '.*': data_offsets .* out of range.*truncated/);
    expect(() => parseSafetensors(bytes.subarray(0, 50), 'cut.safetensors')).toThrow(/cut\.safetensors: bad safetensors header length/);
  });
});
