// torch.save (.pth) files: values against what torch holds (tiny.expected.json from make_fixtures.py),
// strided views materialised, deflated archives, checkpoints, and the errors for files we refuse.
import { describe, expect, it } from 'vitest';
import { PyGlobal, unpickle } from '../../src/weights/pickle.ts';
import { parsePth, readPth } from '../../src/weights/pth.ts';
import { refreshCrcs } from './craft.ts';
import { compareAll, expectedTensors, fixture, fixtureBytes } from './fixtures.ts';

/** Replace every occurrence of an ASCII string by another of the same length (CRCs recomputed). */
function patch(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const a = new TextEncoder().encode(from);
  const b = new TextEncoder().encode(to);
  const out = bytes.slice();
  for (let i = 0; i + a.length <= out.length; i++) {
    if (a.every((v, j) => out[i + j] === v)) out.set(b, i);
  }
  return refreshCrcs(out);
}

describe('torch .pth reader', () => {
  it('reads float, half, bfloat16, double, long and int storages, a Parameter and strided views as torch holds them', async () => {
    const file = await readPth(fixture('tiny.pth'));
    const expected = (await expectedTensors()).pth;
    expect(compareAll(file.tensors, expected)).toEqual([]);
    expect([...file.tensors.keys()]).toEqual(Object.keys(expected));
    expect(file.fileDtypes.get('half')).toBe('float16');
    expect(file.fileDtypes.get('bn.num_batches_tracked')).toBe('int64');
    expect(file.tensors.get('bn.num_batches_tracked')!.dtype).toBe('i32');
    expect(file.tensors.get('transposed')!.shape).toEqual([4, 3]);
  });

  it('reads the same archive with deflated entries', async () => {
    const file = await readPth(fixture('tiny-deflate.pth'));
    expect(compareAll(file.tensors, (await expectedTensors()).pth)).toEqual([]);
  });

  it("finds the weights under a checkpoint's 'state_dict' and says what else it holds", async () => {
    const file = await readPth(fixture('checkpoint.pth'));
    expect(compareAll(file.tensors, (await expectedTensors()).checkpoint)).toEqual([]);
    expect(file.tensors.size).toBe(2);
    expect(file.notes.join('\n')).toMatch(/'state_dict' entry of a checkpoint \(also holds: epoch, arch, best_acc1\)/);
  });
});

describe('torch .pth bad input', () => {
  it('a pickled nn.Module is refused, naming the global', async () => {
    await expect(readPth(fixture('module.pth'))).rejects.toThrow(/module\.pth: unsupported pickle global torch\.nn\.modules\.linear\.Linear: .*save model\.state_dict\(\)/);
  });

  it('a truncated storage names the file, the storage, the tensor and the sizes', async () => {
    await expect(readPth(fixture('truncated-storage.pth'))).rejects.toThrow(
      /truncated-storage\.pth: storage data\/0 \(tensor 'conv\.weight'\) has 40 bytes, expected 96 \(24 x float32\)/,
    );
  });

  it('not a zip', async () => {
    await expect(parsePth(new TextEncoder().encode('hello, this is not a zip archive at all'), 'x.pth')).rejects.toThrow(/x\.pth: not a zip archive/);
    await expect(readPth(fixture('tiny.safetensors'))).rejects.toThrow(/tiny\.safetensors: not a zip archive/);
  });

  it('a zip cut short', async () => {
    const bytes = await fixtureBytes('tiny.pth');
    await expect(parsePth(bytes.subarray(0, bytes.length - 200), 'cut.pth')).rejects.toThrow(/cut\.pth: not a zip archive .*truncated/);
  });

  it('a zip without data.pkl', async () => {
    const bytes = patch(await fixtureBytes('tiny.pth'), 'data.pkl', 'data.pkx');
    await expect(parsePth(bytes, 'nopkl.pth')).rejects.toThrow(/nopkl\.pth: zip archive has no data\.pkl \(entries: .*tiny\/data\.pkx/);
  });

  it('a storage entry missing from the archive', async () => {
    // Rename the entry 'tiny/data/3' (same length) in both zip headers.
    const bytes = patch(await fixtureBytes('tiny.pth'), 'tiny/data/3', 'tiny/data/Z');
    await expect(parsePth(bytes, 'nostorage.pth')).rejects.toThrow(/nostorage\.pth: storage data\/3 of tensor '.*' is missing from the archive/);
  });

  const hooks = {
    findGlobal: (module: string, name: string) => {
      if (module === 'torch' && name.startsWith('_rebuild')) throw new Error(`unsupported pickle global ${module}.${name}`);
      return new PyGlobal(module, name);
    },
    persistentLoad: () => null,
  };

  it('an unknown pickle opcode is named with its position', () => {
    const bytes = Uint8Array.from([0x80, 0x02, 0x7d, 0xff, 0x2e]); // PROTO 2, EMPTY_DICT, 0xff, STOP
    expect(() => unpickle(bytes, hooks, 'op.pkl')).toThrow(/op\.pkl: unknown pickle opcode 0xff .*at byte 3/);
  });

  it('an unsupported torch global in data.pkl is named', async () => {
    // Rename _rebuild_tensor_v2 (same length) so that data.pkl asks for a global we do not know.
    const bytes = patch(await fixtureBytes('tiny.pth'), '_rebuild_tensor_v2', '_rebuild_tensor_v9');
    await expect(parsePth(bytes, 'global.pth')).rejects.toThrow(/global\.pth: unsupported pickle global torch\._utils\._rebuild_tensor_v9/);
  });

  it('pickle data that ends early', () => {
    const bytes = Uint8Array.from([0x80, 0x02, 0x58, 0x10, 0, 0, 0, 0x61]); // BINUNICODE of 16 bytes, 1 present
    expect(() => unpickle(bytes, hooks, 'short.pkl')).toThrow(/short\.pkl: pickle data ends early/);
  });
});
