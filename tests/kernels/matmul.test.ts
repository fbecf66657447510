import { describe, expect, it } from 'vitest';
import { backward } from '../../src/graph/autograd.ts';
import type { Gpu } from '../../src/graph/gpu.ts';
import { parameter } from '../../src/graph/module.ts';
import * as ops from '../../src/graph/ops.ts';
import { Tensor, scope } from '../../src/graph/tensor.ts';
import * as mm from '../../src/kernels/matmul.ts';
import { expectClose, finiteDiff, randArray, read, testGpu, weightedSum } from '../helpers.ts';
import * as ref from '../reference/matmul.ts';

const FWD = { atol: 5e-5, rtol: 1e-5 };
const BWD = { atol: 1e-3, rtol: 1e-3 };

/** Stored shape of an operand: [rows, cols] of op(X), swapped when transposed, with the batch. */
const stored = (batch: number, rows: number, cols: number, trans: boolean): number[] => [...(batch > 1 ? [batch] : []), ...(trans ? [cols, rows] : [rows, cols])];

type Epilogue = { bias: boolean; slope: number | null };
const EPILOGUES: Epilogue[] = [{ bias: false, slope: null }, { bias: true, slope: null }, { bias: true, slope: 0 }, { bias: false, slope: 0.1 }];
const activationOf = (e: Epilogue): mm.Activation => (e.slope === null ? 'none' : e.slope === 0 ? 'relu' : 'leakyRelu');

/** Run one product on the GPU and compare with the float64 reference. */
async function checkForward(gpu: Gpu, variant: mm.MatmulVariant | undefined, transA: boolean, transB: boolean, [batchA, batchB, m, k, n]: number[], e: Epilogue, extra: Partial<mm.MatmulOptions> = {}, seed = 1): Promise<void> {
  const av = randArray(batchA * m * k, seed);
  const bv = randArray(batchB * k * n, seed + 1);
  const biasV = randArray(n, seed + 2);
  const a = gpu.tensor(av, stored(batchA, m, k, transA));
  const b = gpu.tensor(bv, stored(batchB, k, n, transB));
  const bias = e.bias ? gpu.tensor(biasV, [n]) : undefined;
  const c = new Tensor(gpu.rt, mm.matmul(gpu.rt, a, b, { transA, transB, variant, bias, activation: activationOf(e), slope: e.slope ?? undefined, ...extra }));
  let expected = ref.matmul(av, bv, batchA, batchB, m, k, n, { transA, transB, bias: e.bias ? biasV : undefined, slope: e.slope });
  if (extra.sumBatches) expected = ref.sumBatches(expected, Math.max(batchA, batchB));
  const label = `${variant ?? 'auto'} tA=${transA} tB=${transB} batches ${batchA}/${batchB} M=${m} K=${k} N=${n} bias=${e.bias} slope=${e.slope} ${JSON.stringify(extra)}`;
  expect(c.shape.join()).toBe((extra.sumBatches || (batchA === 1 && batchB === 1) ? [m, n] : [Math.max(batchA, batchB), m, n]).join());
  expectClose(await read(c), expected, FWD, label);
}

describe('matmul', () => {
  // [batchA, batchB, M, K, N]: every M in 1, 7, 33, 65, K in 1, 3, 17, 130, N in 1, 5, 31, 67;
  // N = 600 spans two column blocks of 'subgroup' (512 columns each) and ten of 'blocked'.
  const shapes = [
    [1, 1, 20, 9, 600],
    [1, 1, 1, 130, 31],
    [3, 3, 7, 17, 67],
    [1, 1, 33, 1, 5],
    [3, 3, 65, 3, 1],
    [1, 1, 65, 130, 67],
  ];

  for (const variant of mm.variants) {
    it(`forward, ${variant}: every transpose, awkward shapes, fused bias and activations`, async () => {
      const gpu = await testGpu();
      await scope(async () => {
        let i = 0;
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            for (const s of shapes) await checkForward(gpu, variant, transA, transB, s, EPILOGUES[i++ % EPILOGUES.length], {}, i);
          }
        }
      });
    });
  }

  it('broadcasts a rank-2 operand across the other batch (every variant)', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      for (const variant of mm.variants) {
        await checkForward(gpu, variant, false, true, [3, 1, 12, 17, 31], { bias: true, slope: 0 });
        await checkForward(gpu, variant, true, false, [1, 3, 33, 3, 5], { bias: false, slope: null });
      }
    });
  });

  it('splits long work into several dispatches whose partial sums accumulate (every variant)', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      for (const variant of mm.variants) {
        // A budget of a few hundred multiply-adds cuts K, rows and batches into many dispatches;
        // the epilogue must run once, after the last slice of K.
        gpu.resetCounters();
        await checkForward(gpu, variant, true, false, [3, 3, 20, 130, 9], { bias: true, slope: 0.1 }, { maxDispatchWork: 300 });
        expect(gpu.stats().dispatches[`matmul.${variant}`]).toBeGreaterThan(3);
        await checkForward(gpu, variant, false, true, [1, 1, 65, 67, 31], { bias: true, slope: null }, { maxDispatchWork: 2000 });
      }
    });
  });

  it('sums batch products into one result (the gradient of a broadcast operand)', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      for (const variant of mm.variants) {
        // transA without transB flattens into one GEMM over batch * K; the others add dispatch by dispatch.
        for (const [transA, transB] of [[true, false], [false, false], [true, true]]) {
          await checkForward(gpu, variant, transA, transB, [3, 3, 7, 17, 5], { bias: false, slope: null }, { sumBatches: true });
        }
        await checkForward(gpu, variant, false, true, [3, 1, 7, 17, 5], { bias: false, slope: null }, { sumBatches: true, maxDispatchWork: 200 });
      }
    });
  });

  it('matmul backward against finite differences: transposes and batch broadcasting', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      // [batchA, batchB, M, K, N]
      const cases: [number, number, number, number, number, boolean, boolean][] = [
        [1, 1, 3, 4, 5, false, false],
        [2, 2, 3, 4, 5, true, false],
        [2, 2, 3, 4, 5, false, true],
        [2, 1, 3, 4, 5, true, true],
        [2, 1, 3, 4, 5, false, false],
        [1, 2, 3, 4, 5, true, false],
      ];
      let seed = 20;
      for (const [batchA, batchB, m, k, n, transA, transB] of cases) {
        const av = randArray(batchA * m * k, seed++);
        const bv = randArray(batchB * k * n, seed++);
        const a = parameter(gpu.tensor(av, stored(batchA, m, k, transA)));
        const b = parameter(gpu.tensor(bv, stored(batchB, k, n, transB)));
        const y = ops.matmul(a, b, { transA, transB });
        const f = (x: Float64Array, y2: Float64Array) => ref.matmul(x, y2, batchA, batchB, m, k, n, { transA, transB });
        expectClose(await read(y), f(av, bv), FWD, 'forward');
        const w = randArray(y.size, seed++);
        backward(y, gpu.tensor(w, y.shape));
        const label = `tA=${transA} tB=${transB} batches ${batchA}/${batchB}`;
        expectClose(await read(a.grad!), finiteDiff((v) => weightedSum(f(v, bv), w), av), BWD, `dA ${label}`);
        expectClose(await read(b.grad!), finiteDiff((v) => weightedSum(f(av, v), w), bv), BWD, `dB ${label}`);
        a.grad!.dispose(); b.grad!.dispose(); a.dispose(); b.dispose();
      }
    });
  });

  it('linear backward against finite differences, with fused relu / leakyRelu and a rank-3 input', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const [inF, outF] = [7, 4];
      const cases: { lead: number[]; activation: mm.Activation; slope: number | null; bias: boolean }[] = [
        { lead: [5], activation: 'none', slope: null, bias: true },
        { lead: [2, 3], activation: 'relu', slope: 0, bias: true },
        { lead: [5], activation: 'leakyRelu', slope: 0.2, bias: false },
      ];
      let seed = 40;
      for (const c of cases) {
        const rows = c.lead.reduce((p, q) => p * q, 1);
        // Central differences need every pre-activation away from the kink at 0: take the first
        // seed whose pre-activations all keep 0.02 away from it.
        const margin = (s: number) => Math.min(...ref.linear(randArray(rows * inF, s), randArray(outF * inF, s + 1), c.bias ? randArray(outF, s + 2) : null, rows, inF, outF).map(Math.abs));
        while (c.slope !== null && margin(seed) < 0.02) seed += 3;
        const xv = randArray(rows * inF, seed++);
        const wv = randArray(outF * inF, seed++);
        const bv = randArray(outF, seed++);
        const f = (x: Float64Array, w: Float64Array, b: Float64Array) => ref.linear(x, w, c.bias ? b : null, rows, inF, outF, c.slope);
        const x = parameter(gpu.tensor(xv, [...c.lead, inF]));
        const w = parameter(gpu.tensor(wv, [outF, inF]));
        const b = parameter(gpu.tensor(bv, [outF]));
        const y = ops.linear(x, w, c.bias ? b : null, { activation: c.activation, slope: c.slope ?? undefined });
        expect(y.shape.join()).toBe([...c.lead, outF].join());
        expectClose(await read(y), f(xv, wv, bv), FWD, `linear ${c.activation}`);
        const seedW = randArray(y.size, seed++);
        backward(y, gpu.tensor(seedW, y.shape));
        expectClose(await read(x.grad!), finiteDiff((v) => weightedSum(f(v, wv, bv), seedW), xv), BWD, `dx ${c.activation}`);
        expectClose(await read(w.grad!), finiteDiff((v) => weightedSum(f(xv, v, bv), seedW), wv), BWD, `dW ${c.activation}`);
        if (c.bias) expectClose(await read(b.grad!), finiteDiff((v) => weightedSum(f(xv, wv, v), seedW), bv), BWD, `db ${c.activation}`);
        else expect(b.grad).toBe(null);
        for (const p of [x, w, b]) { p.grad?.dispose(); p.dispose(); }
      }
    });
  });

  it('linear backward dispatches only the gradients that are needed', async () => {
    const gpu = await testGpu();
    const count = (prefix: string) => Object.entries(gpu.stats().dispatches).filter(([k]) => k.startsWith(prefix)).reduce((s, [, v]) => s + v, 0);
    await scope(async () => {
      const xv = randArray(6 * 9, 60);
      const seed = gpu.tensor(randArray(6 * 4, 61), [6, 4]);
      // Frozen weight and bias, input needing a gradient: the dx GEMM only.
      {
        const x = parameter(gpu.tensor(xv, [6, 9]));
        const w = parameter(gpu.tensor(randArray(4 * 9, 62), [4, 9]), false);
        const b = parameter(gpu.tensor(randArray(4, 63), [4]), false);
        const y = ops.linear(x, w, b);
        expect(count('matmul.')).toBeGreaterThan(0);
        gpu.resetCounters();
        backward(y, seed);
        expect(count('matmul.')).toBe(1);
        expect(count('reduce.')).toBe(0);
        expect(x.grad).toBeTruthy();
        expect(w.grad).toBe(null);
        expect(b.grad).toBe(null);
        for (const p of [x, w, b]) { p.grad?.dispose(); p.dispose(); }
      }
      // An input that needs no gradient: dW and db, no dx GEMM.
      {
        const x = gpu.tensor(xv, [6, 9]);
        const w = parameter(gpu.tensor(randArray(4 * 9, 62), [4, 9]));
        const b = parameter(gpu.tensor(randArray(4, 63), [4]));
        const y = ops.linear(x, w, b);
        gpu.resetCounters();
        backward(y, seed);
        expect(count('matmul.')).toBe(1);
        expect(count('reduce.')).toBe(1);
        expect(x.grad).toBe(null);
        for (const p of [w, b]) { p.grad?.dispose(); p.dispose(); }
      }
      // The forward is one dispatch: GEMM with the bias and activation fused.
      {
        const x = gpu.tensor(xv, [6, 9]);
        const w = gpu.tensor(randArray(4 * 9, 62), [4, 9]);
        const b = gpu.tensor(randArray(4, 63), [4]);
        gpu.resetCounters();
        ops.linear(x, w, b, { activation: 'relu' });
        expect(Object.values(gpu.stats().dispatches).reduce((s, v) => s + v, 0)).toBe(1);
      }
    });
  });

  it('rejects bad shapes naming the op and both shapes', async () => {
    const gpu = await testGpu();
    scope(() => {
      const a = gpu.zeros([2, 3]);
      expect(() => ops.matmul(a, gpu.zeros([4, 5]))).toThrow(/matmul: B \(A is \[2, 3\]\) expected \[3, N\], got \[4, 5\]/);
      expect(() => ops.matmul(a, gpu.zeros([5, 4]), { transB: true })).toThrow(/matmul: B \(A is \[2, 3\]\) expected \[N, 3\], got \[5, 4\]/);
      expect(() => ops.matmul(gpu.zeros([2, 3, 4]), gpu.zeros([3, 4, 5]))).toThrow(/matmul: B \(A is \[2, 3, 4\]\) expected \[2, 4, N\], got \[3, 4, 5\]/);
      expect(() => ops.matmul(gpu.zeros([6]), a)).toThrow(/matmul: A \(B is \[2, 3\]\) expected .*, got \[6\]/);
      const x = gpu.zeros([5, 7]);
      expect(() => ops.linear(x, gpu.zeros([4, 6]))).toThrow(/linear: weight \(input is \[5, 7\]\) expected \[out, 7\], got \[4, 6\]/);
      expect(() => ops.linear(x, gpu.zeros([4, 7]), gpu.zeros([3]))).toThrow(/linear: bias \(weight is \[4, 7\]\) expected \[4\], got \[3\]/);
    });
  });
});
