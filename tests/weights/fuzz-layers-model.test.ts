// Seeded fuzzing of the TF.js LayersModel reader (see fuzz-harness.ts): model.json mutations (shapes,
// dtypes, quantisation, shard paths including ones that leave the folder, the weight list, the
// topology), byte mutations of model.json and of the shards, read from a folder as a user's would be.
import { describe, expect, it } from 'vitest';
import { inNode, nodeHost } from '../../src/io/host.ts';
import { readLayersModel } from '../../src/weights/layers-model.ts';
import { fixtureModel } from './layers-model-fixture.ts';
import { fuzz, fuzzCases, mutateBytes, NODE_ONLY_REASON, type Rng } from './fuzz-harness.ts';

const WILD = [-1, 0, 1.5, 2 ** 31, 1e10, 'x', null];
const PATHS = ['../../../../etc/passwd', '/etc/passwd', 'file:///etc/passwd', 'a/../../x.bin', '%2e%2e/x.bin', 'missing.bin', '', 'group1-shard1of1.bin', 'https://example.com/x.bin'];

type Json = ReturnType<typeof fixtureModel>['json'];

function mutateJson(rng: Rng, json: Json): string {
  const g = rng.pick(json.weightsManifest);
  const w = rng.pick(g.weights);
  switch (rng.int(8)) {
    case 0: w.shape = rng.int(2) ? w.shape.map((d) => (rng.int(2) ? (rng.pick(WILD) as number) : d)) : (rng.pick(WILD) as unknown as number[]); break;
    case 1: w.dtype = rng.pick(['float64', 'int8', 'string', 'complex64', '', 'int32']); break;
    case 2: w.quantization = rng.pick([{ dtype: 'uint8' }, { dtype: 'uint16', scale: 1, min: 0 }, { dtype: 'float16' }, { dtype: 'int4' }, { dtype: 'uint8', scale: 'x' as unknown as number, min: 0 }]); break;
    case 3: g.paths[rng.int(g.paths.length)] = rng.pick(PATHS); break;
    case 4: g.weights.splice(rng.int(g.weights.length), 1); break;
    case 5: g.weights.push({ ...w }); break;
    case 6: (json as { modelTopology: unknown }).modelTopology = rng.pick([null, {}, 'x', { model_config: { class_name: 'Model', config: { layers: 'x' } } }]); break;
    default: w.name = rng.pick(['', 'x/y', w.name + '_2', 'conv2d_9/kernel']);
  }
  return JSON.stringify(json);
}

const run = inNode ? it : it.skip;

describe('TF.js LayersModel fuzzer', () => {
  run(`${fuzzCases(300)} mutated model.json files and shards: each reads or fails with one line naming the file, fast, without large allocations${inNode ? '' : NODE_ONLY_REASON}`, async () => {
    const io = nodeHost('the TF.js fuzzer');
    const root = io.joinPath(process.env.TMPDIR ?? '/tmp', `graft-fuzz-tfjs-${process.pid}`);
    try {
      const { failures, accepted, refused } = await fuzz(
        fuzzCases(300),
        async (rng, i) => {
          const m = fixtureModel();
          const dir = io.joinPath(root, String(i));
          const shards = [m.groupBytes[0], m.groupBytes[1].subarray(0, 250), m.groupBytes[1].subarray(250)];
          let text = JSON.stringify(m.json);
          let how: string;
          const kind = rng.int(3);
          if (kind === 0) {
            text = mutateJson(rng, m.json);
            how = 'model.json field';
          } else if (kind === 1) {
            const mutated = mutateBytes(rng, new TextEncoder().encode(text));
            text = new TextDecoder().decode(mutated.bytes);
            how = `model.json ${mutated.how}`;
          } else {
            const s = rng.int(3);
            const mutated = mutateBytes(rng, shards[s]);
            shards[s] = mutated.bytes;
            how = `shard ${s} ${mutated.how}`;
          }
          await io.writeFileAtomic(io.joinPath(dir, 'model.json'), text);
          await io.writeFileAtomic(io.joinPath(dir, 'group1-shard1of1.bin'), shards[0]);
          await io.writeFileAtomic(io.joinPath(dir, 'group2-shard1of2.bin'), shards[1]);
          await io.writeFileAtomic(io.joinPath(dir, 'group2-shard2of2.bin'), shards[2]);
          return { name: io.joinPath(dir, 'model.json'), bytes: new TextEncoder().encode(text), how };
        },
        (c) => readLayersModel(c.name),
      );
      expect(failures).toEqual([]);
      expect(refused).toBeGreaterThan(accepted);
    } finally {
      await io.cacheClear(undefined, root); // removes the whole folder
    }
  }, 120_000);
});
