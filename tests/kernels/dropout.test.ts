import { describe, expect, it } from 'vitest';
import { backward } from '../../src/graph/autograd.ts';
import { parameter } from '../../src/graph/module.ts';
import * as ops from '../../src/graph/ops.ts';
import { scope } from '../../src/graph/tensor.ts';
import { expectClose, finiteDiff, randArray, read, testGpu, weightedSum } from '../helpers.ts';
import * as ref from '../reference/softmax.ts';

const BWD = { atol: 1e-5, rtol: 1e-5 };

/** The keep-mask as 0/1 from a forward on ones. */
const maskOf = (v: Float64Array): Uint8Array => Uint8Array.from(v, (x) => (x !== 0 ? 1 : 0));

/** Elements where two masks differ (a loop: deep equality of 2^18 elements is slow). */
function differences(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) d++;
  return d;
}

describe('dropout', () => {
  it('keeps a fraction close to 1 - p, scales kept values by 1 / (1 - p), and matches the CPU hash', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const n = 1 << 18;
      const ones = gpu.full([256, 1024], 1);
      for (const [p, seed] of [[0.1, 1], [0.5, 2], [0.9, 0xffffffff]] as const) {
        const out = await read(ops.dropout(ones, { p, seed }));
        const mask = maskOf(out);
        const kept = mask.reduce((s, m) => s + m, 0) / n;
        // Binomial standard deviation sqrt(p (1 - p) / n) <= 0.001: allow 5 of them.
        expect(Math.abs(kept - (1 - p))).toBeLessThan(0.005);
        const scale = Math.fround(1 / (1 - p));
        let odd = 0;
        for (let i = 0; i < n; i++) if (out[i] !== 0 && out[i] !== scale) odd++;
        expect(odd).toBe(0);
        expect(differences(mask, ref.dropoutMask(n, p, seed))).toBe(0);
      }
    });
  });

  it('same seed gives the same mask, a different seed an independent one', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const p = 0.3;
      const ones = gpu.full([100, 1000], 1);
      const a = maskOf(await read(ops.dropout(ones, { p, seed: 7 })));
      const b = maskOf(await read(ops.dropout(ones, { p, seed: 7 })));
      expect(differences(a, b)).toBe(0);
      for (const other of [8, 7 + 0x10000, 0]) {
        const c = maskOf(await read(ops.dropout(ones, { p, seed: other })));
        // Independent masks agree where both keep or both drop: p^2 + (1 - p)^2 of the elements.
        const agree = 1 - differences(a, c) / a.length;
        expect(Math.abs(agree - (p * p + (1 - p) * (1 - p)))).toBeLessThan(0.01);
      }
      // Seeds drawn when none is given differ from call to call.
      const d1 = maskOf(await read(ops.dropout(ones, { p })));
      const d2 = maskOf(await read(ops.dropout(ones, { p })));
      expect(differences(d1, d2)).toBeGreaterThan(0);
    });
  });

  it('backward applies the forward mask / (1 - p) to the upstream gradient; finite differences agree', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const [p, seed] = [0.25, 1234];
      const shape = [3, 7, 11];
      const n = 3 * 7 * 11;
      const mask = maskOf(await read(ops.dropout(gpu.full(shape, 1), { p, seed })));
      const xv = randArray(n, 5);
      const w = randArray(n, 6);
      const x = parameter(gpu.tensor(xv, shape));
      const y = ops.dropout(x, { p, seed });
      expectClose(await read(y), ref.dropout(Float64Array.from(new Float32Array(xv)), mask, p), { atol: 1e-6, rtol: 1e-6 }, 'dropout forward');
      backward(y, gpu.tensor(w, shape));
      const dx = await read(x.grad!);
      expectClose(dx, w.map((v, i) => (mask[i] ? v / (1 - p) : 0)), BWD, 'dropout backward = g * mask / (1 - p)');
      expectClose(dx, finiteDiff((v) => weightedSum(ref.dropout(v, mask, p), w), xv), BWD, 'dropout backward vs finite differences');
      x.grad!.dispose(); x.dispose();
    });
  });

  it('is the identity (x itself, no dispatch) when not training or p = 0; rejects p outside [0, 1)', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const x = parameter(gpu.tensor([1, 2, 3], [3]));
      gpu.resetCounters();
      expect(ops.dropout(x, { p: 0.5, seed: 1, training: false })).toBe(x);
      expect(ops.dropout(x, { p: 0 })).toBe(x);
      expect(Object.keys(gpu.stats().dispatches).length).toBe(0);
      for (const p of [1, -0.1, 1.5, NaN]) expect(() => ops.dropout(x, { p, seed: 1 })).toThrow(/dropout: p must be in \[0, 1\)/);
      expect(() => ops.dropout(x, { p: 1, training: false })).toThrow(/dropout: p must be in \[0, 1\), got 1/);
      expect(() => ops.dropout(x, { p: 0.5, seed: -1 })).toThrow(/dropout: seed must be an integer in \[0, 2\^32\)/);
      // A frozen input gets no backward dispatch for dropout.
      const frozen = parameter(gpu.tensor([1, 2, 3], [3]), false);
      const total = ops.add(ops.sum(ops.dropout(frozen, { p: 0.5, seed: 3 })), ops.sum(x));
      gpu.resetCounters();
      backward(total);
      expect(gpu.stats().dispatches['dropout.apply'] ?? 0).toBe(0);
      x.grad!.dispose(); x.dispose(); frozen.dispose();
    });
  });

  it('covers tensors split over a 2-D grid of workgroups', async () => {
    const gpu = await testGpu();
    const limits = gpu.rt.report.limits;
    const saved = limits.maxComputeWorkgroupsPerDimension;
    // 100000 elements are 391 workgroups of 256: a 20 x 20 grid.
    limits.maxComputeWorkgroupsPerDimension = 20;
    try {
      await scope(async () => {
        const out = await read(ops.dropout(gpu.full([100000], 1), { p: 0.4, seed: 99 }));
        expect(differences(maskOf(out), ref.dropoutMask(100000, 0.4, 99))).toBe(0);
      });
    } finally {
      limits.maxComputeWorkgroupsPerDimension = saved;
    }
  });
});
