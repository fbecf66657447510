// gpu.profile: GPU time per kernel from timestamp queries, every dispatch of the function counted.
import { describe, expect, it } from 'vitest';
import * as ops from '../../src/graph/ops.ts';
import { noGrad, scope } from '../../src/graph/tensor.ts';
import { read, testGpu } from '../helpers.ts';

const gpu = await testGpu();
const hasTimestamps = gpu.adapter.features.includes('timestamp-query');

describe('gpu.profile', () => {
  if (!hasTimestamps) {
    it.skip("times every dispatch per kernel (skipped: this adapter lacks 'timestamp-query')", () => {});
    it("says in one line that profiling needs 'timestamp-query'", async () => {
      await expect(gpu.profile(() => undefined)).rejects.toThrow(/gpu.profile needs the adapter feature 'timestamp-query'/);
    });
    return;
  }

  it('times every dispatch of the function, per kernel, and returns its result', async () => {
    await noGrad(() =>
      scope(async () => {
        const x = gpu.randn([2, 8, 12, 12], { seed: 3 });
        const w = gpu.randn([16, 8, 3, 3], { seed: 4 });
        const run = () => ops.relu(ops.add(ops.conv2d(x, w, null, { padding: 1 }), ops.conv2d(x, w, null, { padding: 1 })));
        // The same work counted by the runtime's dispatch counters.
        gpu.resetCounters();
        await read(run());
        const counted = gpu.stats().dispatches;
        delete counted.copy;

        // More dispatches than one submit holds (128): the timestamps of several submits add up.
        const p = await gpu.profile(async () => {
          let last = run();
          for (let i = 0; i < 60; i++) last = run();
          return read(last);
        });
        expect(p.result).toBeInstanceOf(Float64Array);
        expect(p.result.length).toBe(2 * 16 * 12 * 12);
        const byName = Object.fromEntries(p.kernels.map((k) => [k.name, k.dispatches]));
        expect(byName).toEqual(Object.fromEntries(Object.entries(counted).map(([k, v]) => [k, 61 * v])));
        for (const k of p.kernels) expect(k.ms, k.name).toBeGreaterThanOrEqual(0);
        // Slowest first, and the total is their sum.
        expect(p.kernels.map((k) => k.ms)).toEqual([...p.kernels.map((k) => k.ms)].sort((a, b) => b - a));
        expect(p.gpuMs).toBeCloseTo(p.kernels.reduce((a, k) => a + k.ms, 0), 6);
        expect(p.gpuMs).toBeGreaterThan(0);
        expect(p.wallMs).toBeGreaterThan(0);
      }),
    );
  });

  it('does not nest, and a function that throws still ends its profile', async () => {
    await expect(gpu.profile(() => gpu.profile(() => 1))).rejects.toThrow(/gpu.profile: a profile is already running \(profiles do not nest\)/);
    await expect(
      gpu.profile(() => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    // Not left running: a new profile works, and work after it runs unprofiled.
    const p = await gpu.profile(() => noGrad(() => scope(() => read(ops.relu(gpu.full([64], -1))))));
    expect(p.kernels.map((k) => k.name)).toContain('elementwise.fill');
    expect(Array.from(await noGrad(() => scope(() => read(ops.relu(gpu.full([4], 2))))))).toEqual([2, 2, 2, 2]);
  });
});
