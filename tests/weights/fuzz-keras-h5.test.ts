// Seeded fuzzing of the Keras HDF5 reader (see fuzz-harness.ts): byte mutations of small real Keras
// files. HDF5 parsing is slower than the other formats (h5wasm), so fewer cases by default. Also
// checks that the reader still reads a valid file correctly after all of them (h5wasm traps on some
// corrupt files, which breaks its state: the reader then continues on a fresh instance).
import { describe, expect, it } from 'vitest';
import { inNode } from '../../src/io/host.ts';
import { readSource } from '../../src/io/source.ts';
import { hdf5ReaderState, parseKerasH5 } from '../../src/weights/keras-h5.ts';
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
    // unusable: in Node the reader then loads a fresh instance of it, up to maxInstances; past
    // that it refuses every .h5 file with the reason.
    const state = hdf5ReaderState();
    expect(state.instances).toBeLessThanOrEqual(state.maxInstances);
    if (state.brokenBy !== null) {
      await expect(parseKerasH5(bases[1], 'after.h5')).rejects.toThrow(/^graft: after\.h5: cannot read HDF5 files any more here: the HDF5 library \(h5wasm\) crashed on fuzz-\d+\.h5/);
      return;
    }
    const after = await parseKerasH5(bases[1], 'after.h5');
    expect([...after.tensors.keys()]).toEqual([...before.tensors.keys()]);
    for (const [name, t] of before.tensors) expect(Array.from(after.tensors.get(name)!.data)).toEqual(Array.from(t.data));
  }, 120_000);
});
