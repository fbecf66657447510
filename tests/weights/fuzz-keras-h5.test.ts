// Seeded fuzzing of the Keras HDF5 reader (see fuzz-harness.ts): byte mutations of small real Keras
// files. HDF5 parsing is slower than the other formats (h5wasm), so fewer cases by default. Also
// checks that the reader still reads a valid file correctly after all of them, or, when h5wasm
// trapped on one of them (its state is then broken), refuses with that reason.
import { describe, expect, it } from 'vitest';
import { inNode } from '../../src/io/host.ts';
import { readSource } from '../../src/io/source.ts';
import { parseKerasH5 } from '../../src/weights/keras-h5.ts';
import { fixture } from './fixtures.ts';
import { fuzz, fuzzCases, mutateBytes, NODE_ONLY_REASON } from './fuzz-harness.ts';

const run = inNode ? it : it.skip;

describe('Keras HDF5 fuzzer', () => {
  run(`${fuzzCases(250)} mutated .h5 files: each reads or fails with one line naming the file, fast, without large allocations; a valid file still reads after them${inNode ? '' : NODE_ONLY_REASON}`, async () => {
    const bases = [await readSource(fixture('keras-vgg16-k1.h5')), await readSource(fixture('keras-vgg16-k2.h5'))];
    const before = await parseKerasH5(bases[1], 'before.h5');
    const { failures, refused } = await fuzz(
      fuzzCases(250),
      (rng, i) => ({ name: `fuzz-${i}.h5`, ...mutateBytes(rng, rng.pick(bases)) }),
      (c) => parseKerasH5(c.bytes, c.name),
      { timeMs: 5000 },
    );
    expect(failures).toEqual([]);
    expect(refused).toBeGreaterThan(0);
    // h5wasm can trap (a WebAssembly RuntimeError) on a corrupt file, after which its state is
    // unusable: the reader then refuses every .h5 file with that reason instead of spinning.
    const after = await parseKerasH5(bases[1], 'after.h5').catch((e: Error) => e);
    if (after instanceof Error) {
      expect(after.message).toMatch(/^graft: after\.h5: cannot read HDF5 files any more in this process: the HDF5 library \(h5wasm\) crashed on fuzz-\d+\.h5/);
      return;
    }
    expect([...after.tensors.keys()]).toEqual([...before.tensors.keys()]);
    for (const [name, t] of before.tensors) expect(Array.from(after.tensors.get(name)!.data)).toEqual(Array.from(t.data));
  }, 120_000);
});
