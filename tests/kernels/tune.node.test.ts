// The tuner's mechanics on SwiftShader (timings there are noise: nothing here checks speed): the
// policies ('off' never measures or writes; 'cached' uses a cached choice; 'auto' measures a new
// shape after the readback and writes the cache), a corrupt cache ignored with one warning line,
// a chosen variant always among the valid ones, and a wrong variant never chosen however fast.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { VERSION } from '../../src/core/index.ts';
import { type Gpu, graft } from '../../src/graph/gpu.ts';
import { Tensor, scope } from '../../src/graph/tensor.ts';
import { conv2dForward } from '../../src/kernels/conv2d.ts';
import * as mm from '../../src/kernels/matmul.ts';
import { identityName, matchesReference, measureShape, serialize, tuneFamilies, tuneIdentity } from '../../src/kernels/tune/index.ts';
import { expectClose, randArray, read, testGpu } from '../helpers.ts';
import * as ref from '../reference/matmul.ts';

const hasTimestamps = (await testGpu()).adapter.features.includes('timestamp-query');

const dirs: string[] = [];
const gpus: Gpu[] = [];
const tempDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-tune-'));
  dirs.push(d);
  return d;
};
async function open(options: Parameters<typeof graft>[0]): Promise<Gpu> {
  const gpu = await graft(options);
  gpus.push(gpu);
  return gpu;
}
afterAll(() => {
  for (const g of gpus) g.destroy();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A [5, 300] x [300, 40]^T product (no forced variant) checked against float64; returns dispatch counts. */
async function product(gpu: Gpu, seed = 1): Promise<Record<string, number>> {
  return scope(async () => {
    const av = randArray(5 * 300, seed);
    const bv = randArray(40 * 300, seed + 1);
    gpu.resetCounters();
    const c = new Tensor(gpu.rt, mm.matmul(gpu.rt, gpu.tensor(av, [5, 300]), gpu.tensor(bv, [40, 300]), { transB: true }));
    const counts = gpu.stats().dispatches;
    expectClose(await read(c), ref.matmul(av, bv, 1, 1, 5, 300, 40, { transB: true }), { atol: 1e-4, rtol: 1e-5 }, 'product');
    return counts;
  });
}
const KEY = 'batch=1 m=5 k=300 n=40 transA=0 transB=1 batchA=0 batchB=0 sum=0';
const cacheFile = (gpu: Gpu, dir: string) => path.join(dir, 'tuning', `${identityName(tuneIdentity(gpu.rt))}.json`);

describe('tuning', () => {
  it("the default on a CPU adapter is 'cached'; VERSION is package.json's", async () => {
    const gpu = await open({ tuneCache: tempDir() });
    expect(gpu.adapter.isCpu).toBe(true);
    expect(gpu.rt.tuner.policy).toBe('cached');
    expect(VERSION).toBe(JSON.parse(fs.readFileSync('package.json', 'utf8')).version);
  });

  it("'off' reads nothing, measures nothing and writes nothing", async () => {
    const dir = tempDir();
    const gpu = await open({ tune: 'off', tuneCache: dir });
    fs.mkdirSync(path.dirname(cacheFile(gpu, dir)), { recursive: true });
    // A cache that names a non-default variant is not used.
    fs.writeFileSync(cacheFile(gpu, dir), serialize(tuneIdentity(gpu.rt), new Map([[`matmul ${KEY}`, { variant: 'tiled' }]])));
    const counts = await product(gpu);
    expect(counts['matmul.tiled']).toBeUndefined();
    expect(gpu.rt.tuner.pending.size).toBe(0);
    expect(gpu.rt.tuner.measure).toBe(null);
    await expect(gpu.tune()).rejects.toThrow(/tuning is off/);
    expect(fs.readdirSync(path.join(dir, 'tuning'))).toHaveLength(1);
  });

  it("'cached' uses the cached choice for its shape (and the heuristic elsewhere) without measuring", async () => {
    const dir = tempDir();
    const probe = await open({ tune: 'off' });
    const file = cacheFile(probe, dir);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, serialize(tuneIdentity(probe.rt), new Map([[`matmul ${KEY}`, { variant: 'tiled' }]])));
    const gpu = await open({ tune: 'cached', tuneCache: dir });
    expect((await product(gpu))['matmul.tiled']).toBe(1);
    expect(gpu.rt.tuner.pending.size).toBe(0);
    // Another shape: the CPU heuristic (blocked), nothing recorded for measuring.
    await scope(async () => {
      gpu.resetCounters();
      mm.matmul(gpu.rt, gpu.zeros([6, 64]), gpu.zeros([64, 32]));
      expect(gpu.stats().dispatches['matmul.blocked']).toBe(1);
      await gpu.sync();
    });
    expect(gpu.rt.tuner.pending.size).toBe(0);
  });

  it('a corrupt cache is ignored with a one-line warning; an unknown variant in it is never used', async () => {
    const dir = tempDir();
    const probe = await open({ tune: 'off' });
    const file = cacheFile(probe, dir);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      for (const text of ['{"format": 1, "choi', '[1, 2]', '{"format": 1, "identity": {}, "choices": {"x": 3}}']) {
        fs.writeFileSync(file, text);
        warn.mockClear();
        const gpu = await open({ tune: 'cached', tuneCache: dir });
        expect(warn).toHaveBeenCalledTimes(1);
        expect(String(warn.mock.calls[0][0])).toMatch(/^graft: ignoring the tuning cache .*\.json: \S/);
        expect(String(warn.mock.calls[0][0])).not.toContain('\n');
        expect(gpu.rt.tuner.choices.size).toBe(0);
        await product(gpu);
      }
      fs.writeFileSync(file, serialize(tuneIdentity(probe.rt), new Map([[`matmul ${KEY}`, { variant: 'no-such-variant' }]])));
      warn.mockClear();
      const gpu = await open({ tune: 'cached', tuneCache: dir });
      expect(warn).not.toHaveBeenCalled();
      expect((await product(gpu))['matmul.blocked']).toBe(1);
    } finally {
      warn.mockRestore();
    }
  });

  it("'auto' measures a new shape after the readback, uses the choice next time and writes the cache", async () => {
    const dir = tempDir();
    const gpu = await open({ tune: 'auto', tuneCache: dir });
    expect(fs.existsSync(cacheFile(gpu, dir))).toBe(false);
    const first = await product(gpu);
    expect(first['matmul.blocked']).toBe(1); // the heuristic before measuring
    expect(gpu.rt.tuner.pending.size).toBe(0);
    const choice = gpu.rt.tuner.choices.get(`matmul ${KEY}`)!;
    expect(mm.variants).toContain(choice.variant);
    expect(Object.keys(choice.times!).sort()).toEqual([...mm.variants].sort());
    expect(choice.times![choice.variant]).toBe(Math.min(...Object.values(choice.times!)));
    expect(choice.rejected).toBeUndefined();
    const saved = JSON.parse(fs.readFileSync(cacheFile(gpu, dir), 'utf8'));
    expect(saved.identity).toEqual(tuneIdentity(gpu.rt));
    expect(saved.choices[`matmul ${KEY}`].variant).toBe(choice.variant);
    // The second run uses the measured variant and measures nothing.
    let measured = 0;
    const measure = gpu.rt.tuner.measure!;
    gpu.rt.tuner.measure = () => (measured++, measure());
    const second = await product(gpu, 7);
    expect(second[`matmul.${choice.variant}`]).toBeGreaterThan(0);
    expect(measured).toBe(0);
    // A new device on the same adapter reads it back.
    const again = await open({ tune: 'cached', tuneCache: dir });
    expect(again.rt.tuner.choices.get(`matmul ${KEY}`)?.variant).toBe(choice.variant);
  });

  it('conv2d: a forward shape is measured among its variants (wall clock), the choice is valid', async () => {
    const gpu = await open({ tune: 'cached', tuneCache: tempDir() });
    await scope(async () => {
      const x = gpu.zeros([1, 8, 9, 9]);
      const w = gpu.zeros([16, 8, 3, 3]);
      const rows = await gpu.tune({ reps: 1, warmups: 0, timer: 'wall', work: async () => void (await read(new Tensor(gpu.rt, conv2dForward(gpu.rt, x, w, null, { padding: 1 })))) });
      expect(rows.map((r) => r.family)).toEqual(['conv2d.forward']);
      const allowed = gpu.adapter.features.includes('subgroups') ? ['subgroup', 'tiled'] : ['tiled'];
      expect(rows[0].candidates).toEqual(allowed);
      expect(allowed).toContain(rows[0].choice.variant);
      expect(rows[0].choice.timer).toBe('wall');
      expect(Object.keys(rows[0].choice.times!).sort()).toEqual([...allowed].sort());
    });
  });

  const timestampTitle = "times with GPU timestamps (the runtime's profiler) where the device has them, and with the wall clock inside a gpu.profile";
  (hasTimestamps ? it : it.skip)(`${timestampTitle}${hasTimestamps ? '' : " (skipped: this adapter lacks 'timestamp-query')"}`, async () => {
    const conv = (gpu: Gpu) => async () =>
      scope(async () => void (await read(new Tensor(gpu.rt, conv2dForward(gpu.rt, gpu.zeros([1, 8, 9, 9]), gpu.zeros([16, 8, 3, 3]), null, { padding: 1 })))));
    const gpu = await open({ tune: 'cached', tuneCache: tempDir() });
    const rows = await gpu.tune({ reps: 2, warmups: 0, work: conv(gpu) });
    expect(rows[0].choice.timer).toBe('timestamp');
    expect(Object.values(rows[0].choice.times!).every((t) => t > 0)).toBe(true);
    expect(gpu.rt.profiling).toBe(false);
    const inner = await open({ tune: 'cached', tuneCache: tempDir() });
    const p = await inner.profile(() => inner.tune({ reps: 1, warmups: 0, work: conv(inner) }));
    expect(p.result[0].error).toBeUndefined();
    expect(p.result[0].choice.timer).toBe('wall');
  });

  it('never chooses a variant whose result differs from the reference', async () => {
    const gpu = await open({ tune: 'cached', tuneCache: tempDir() });
    // A family whose 'wrong' variant multiplies by another B: the same shape and work, other values.
    tuneFamilies['test.wrong'] = {
      reference: 'reference',
      sources: [],
      prepare(rt) {
        const a = gpu.tensor(randArray(16 * 256, 1), [16, 256]);
        const b = gpu.tensor(randArray(256 * 16, 2), [256, 16]);
        const other = gpu.tensor(randArray(256 * 16, 3), [256, 16]);
        return {
          run: (v) => (v === 'wrong' ? mm.matmul(rt, a, other, { variant: 'blocked' }) : mm.matmul(rt, a, b, { variant: v as mm.MatmulVariant })),
          dispose: () => [a, b, other].forEach((t) => t.dispose()),
        };
      },
    };
    try {
      const choice = await measureShape(gpu.rt, { family: 'test.wrong', key: 'x', candidates: ['wrong', 'reference', 'blocked'] }, { reps: 1, warmups: 0 });
      expect(Object.keys(choice.rejected!)).toEqual(['wrong']);
      expect(choice.times!.wrong).toBeUndefined();
      expect(['reference', 'blocked']).toContain(choice.variant);
    } finally {
      delete tuneFamilies['test.wrong'];
    }
  });

  it("'auto': a shape that cannot be measured is a one-line warning, not the readback's error, and is not retried", async () => {
    const gpu = await open({ tune: 'auto', tuneCache: tempDir() });
    tuneFamilies['test.throws'] = {
      reference: 'reference',
      sources: [],
      prepare() {
        throw new Error('no memory for this one');
      },
    };
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(gpu.rt.tuner.choose('test.throws', 'k', ['a', 'b'])).toBeUndefined();
      expect(gpu.rt.tuner.pending.size).toBe(1);
      const x = gpu.tensor([1, 2, 3], [3]);
      expect([...(await read(x))]).toEqual([1, 2, 3]);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toBe('graft: could not measure test.throws k (no memory for this one); the default variant runs it');
      expect(gpu.rt.tuner.choose('test.throws', 'k', ['a', 'b'])).toBeUndefined();
      expect(gpu.rt.tuner.pending.size).toBe(0);
      x.dispose();
    } finally {
      warn.mockRestore();
      delete tuneFamilies['test.throws'];
    }
  });

  it('matchesReference: float rounding passes, a wrong element or a NaN does not', () => {
    const r = Float32Array.from([100, -3, 0.5]);
    expect(matchesReference(Float32Array.from([100.00001, -3, 0.5]), r).ok).toBe(true);
    expect(matchesReference(Float32Array.from([100, -3, 0.9]), r).ok).toBe(false);
    expect(matchesReference(Float32Array.from([100, NaN, 0.5]), r).ok).toBe(false);
    expect(matchesReference(Float32Array.from([100, -3]), r).ok).toBe(false);
  });
});
