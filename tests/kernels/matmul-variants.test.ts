// The GPU-style matmul variants the tuner chooses among, on shapes the awkward-shape matrix of
// matmul.test.ts does not reach: tiledVec4 where stored rows are multiples of 4 (its vec4 loads)
// and partly so, and splitK on skinny GEMMs (few rows, long K: many slices, then the sum pass).
import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/graph/gpu.ts';
import { Tensor, scope } from '../../src/graph/tensor.ts';
import * as mm from '../../src/kernels/matmul.ts';
import { expectClose, randArray, read, testGpu } from '../helpers.ts';
import * as ref from '../reference/matmul.ts';

const FWD = { atol: 1e-4, rtol: 1e-5 };

const stored = (batch: number, rows: number, cols: number, trans: boolean): number[] => [...(batch > 1 ? [batch] : []), ...(trans ? [cols, rows] : [rows, cols])];

/** One product against the float64 reference; returns the dispatch counts of the call. */
async function check(gpu: Gpu, variant: mm.MatmulVariant, transA: boolean, transB: boolean, [batchA, batchB, m, k, n]: number[], slope: number | null, extra: Partial<mm.MatmulOptions> = {}, seed = 1): Promise<Record<string, number>> {
  const av = randArray(batchA * m * k, seed);
  const bv = randArray(batchB * k * n, seed + 1);
  const biasV = randArray(n, seed + 2);
  const a = gpu.tensor(av, stored(batchA, m, k, transA));
  const b = gpu.tensor(bv, stored(batchB, k, n, transB));
  gpu.resetCounters();
  const activation = slope === null ? 'none' : slope === 0 ? 'relu' : 'leakyRelu';
  const c = new Tensor(gpu.rt, mm.matmul(gpu.rt, a, b, { transA, transB, variant, bias: gpu.tensor(biasV, [n]), activation, slope: slope ?? undefined, ...extra }));
  const counts = gpu.stats().dispatches;
  let expected = ref.matmul(av, bv, batchA, batchB, m, k, n, { transA, transB, bias: extra.sumBatches ? undefined : biasV, slope: extra.sumBatches ? null : slope });
  if (extra.sumBatches) {
    // The epilogue runs once, on the sum of the batch products.
    expected = ref.sumBatches(expected, Math.max(batchA, batchB));
    for (let i = 0; i < expected.length; i++) {
      const v = expected[i] + biasV[i % n];
      expected[i] = slope === null || v > 0 ? v : slope * v;
    }
  }
  expectClose(await read(c), expected, FWD, `${variant} tA=${transA} tB=${transB} ${[batchA, batchB, m, k, n]} slope=${slope} ${JSON.stringify(extra)}`);
  return counts;
}

const TRANSPOSES = [[false, false], [false, true], [true, false], [true, true]] as const;

describe('matmul GPU variants', () => {
  it('tiledVec4: rows that are multiples of 4 (vec4 loads), partly aligned ones and partial tiles; every transpose, batched', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      // [batchA, batchB, M, K, N]: all aligned; aligned with partial 64-wide tiles; K aligned only
      // (A's runs along K vectorise, B's along N do not); M and N aligned, K odd; batched + broadcast.
      const shapes = [[1, 1, 64, 128, 64], [1, 1, 68, 36, 100], [1, 1, 7, 32, 9], [1, 1, 12, 17, 20], [3, 3, 8, 20, 12], [3, 1, 20, 44, 4]];
      let seed = 1;
      for (const [transA, transB] of TRANSPOSES) {
        for (const s of shapes) await check(gpu, 'tiledVec4', transA, transB, s, [null, 0, 0.1][seed % 3], {}, (seed += 3));
      }
    });
  });

  it('splitK: skinny products (M = 1 .. 5, long K) in every transpose, batched, bias and activations', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const shapes = [[1, 1, 1, 2048, 40], [1, 1, 3, 1000, 17], [2, 2, 5, 300, 9], [2, 1, 1, 257, 6], [1, 1, 4, 7, 5]];
      let seed = 50;
      for (const [transA, transB] of TRANSPOSES) {
        for (const s of shapes) await check(gpu, 'splitK', transA, transB, s, [null, 0, 0.2][seed % 3], {}, (seed += 3));
      }
    });
  });

  it('splitK cuts K into slices computed in one dispatch, then one sum pass with the epilogue', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      // M = 1, K = 2048, N = 40: 10 column blocks of 4, so many slices: one split_k + one split_sum.
      const counts = await check(gpu, 'splitK', false, true, [1, 1, 1, 2048, 40], 0);
      expect(counts['matmul.splitK']).toBe(1);
      expect(counts['matmul.splitSum']).toBe(1);
      // Per batch, both passes again; a small work budget makes more of them (partial sums accumulate).
      const batched = await check(gpu, 'splitK', false, false, [3, 3, 2, 300, 8], null);
      expect([batched['matmul.splitK'], batched['matmul.splitSum']]).toEqual([3, 3]);
      const split = await check(gpu, 'splitK', true, false, [1, 1, 6, 500, 9], 0.1, { maxDispatchWork: 2000 });
      expect(split['matmul.splitK']).toBeGreaterThan(3);
      expect(split['matmul.splitSum']).toBe(split['matmul.splitK']);
    });
  });

  it('sums batch products into one result with splitK and tiledVec4', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      for (const variant of ['splitK', 'tiledVec4'] as const) {
        await check(gpu, variant, false, false, [3, 3, 4, 64, 8], 0, { sumBatches: true }, 80);
        await check(gpu, variant, false, true, [3, 1, 5, 130, 7], null, { sumBatches: true }, 90);
      }
    });
  });
});
