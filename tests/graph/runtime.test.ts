import { describe, expect, it } from 'vitest';
import { graft } from '../../src/graph/gpu.ts';
import * as ops from '../../src/graph/ops.ts';
import { keep, scope } from '../../src/graph/tensor.ts';
import { kernelKey, specialize } from '../../src/kernels/runtime/index.ts';
import broken from '../fixtures/broken.wgsl?raw';
import elementwise from '../../shaders/elementwise.wgsl?raw';
import { testGpu } from '../helpers.ts';

describe('runtime', () => {
  it('template constants replace module-scope consts by name; unknown names throw', () => {
    const k = { name: 'ew', wgsl: elementwise, entry: 'add' };
    const code = specialize(k, { WG: 64 });
    expect(code).toMatch(/const WG: u32 = 64u;/);
    expect(() => specialize(k, { NOPE: 1 })).toThrow(/kernel ew has no template constant 'NOPE'/);
  });

  it('pipeline cache keys are derived from name, entry and sorted constants', () => {
    const k = { name: 'ew', wgsl: elementwise, entry: 'add' };
    expect(kernelKey(k, { B: 2, A: 1 })).toBe(kernelKey(k, { A: 1, B: 2 }));
    expect(kernelKey(k, { A: 1 })).not.toBe(kernelKey(k, { A: 2 }));
    expect(kernelKey(k, {})).not.toBe(kernelKey({ ...k, entry: 'scale' }, {}));
  });

  it('reuses pooled buffers and scope() disposes all but the result', async () => {
    const gpu = await testGpu();
    const base = gpu.stats().liveBuffers;
    const kept = scope(() => {
      const a = gpu.tensor([1, 2, 3], [3]);
      const b = ops.relu(a);
      ops.mulScalar(b, 2);
      return ops.add(a, b);
    });
    expect(gpu.stats().liveBuffers).toBe(base + 1);
    expect(Array.from(await kept.data())).toEqual([2, 4, 6]);
    kept.dispose();
    kept.dispose(); // idempotent
    expect(gpu.stats().liveBuffers).toBe(base);
    // Same-sized allocations come back from the pool instead of new buffers.
    const pooled = gpu.stats().pooledBuffers;
    scope(() => {
      gpu.zeros([3]);
    });
    expect(gpu.stats().pooledBuffers).toBe(pooled);
  });

  it('async scopes and nested scopes hand results to the parent', async () => {
    const gpu = await testGpu();
    const base = gpu.stats().liveBuffers;
    const out = await scope(async () => {
      const inner = scope(() => {
        const t = gpu.full([4], 3);
        gpu.zeros([4]);
        return { t };
      });
      await inner.t.data();
      return ops.mulScalar(inner.t, 2);
    });
    expect(Array.from(await out.data())).toEqual([6, 6, 6, 6]);
    expect(gpu.stats().liveBuffers).toBe(base + 1);
    out.dispose();
    const k = scope(() => keep(gpu.zeros([2])));
    expect(gpu.stats().liveBuffers).toBe(base + 1);
    k.dispose();
  });

  it('use of a disposed tensor is a clear error', async () => {
    const gpu = await testGpu();
    const t = gpu.zeros([2, 2]);
    t.dispose();
    expect(() => ops.relu(t)).toThrow(/relu: input of shape \[2, 2\] was disposed/);
    await expect(t.data()).rejects.toThrow(/disposed tensor/);
  });

  it('tensors from two devices in one op are a clear error', async () => {
    const gpu = await testGpu();
    const other = await graft();
    try {
      const a = gpu.zeros([3]);
      const b = other.zeros([3]);
      expect(() => ops.add(a, b)).toThrow(/two different devices/);
      a.dispose();
      b.dispose();
    } finally {
      other.destroy();
    }
  });

  it('a WGSL compile error names the kernel and carries the compiler message', async () => {
    const gpu = await testGpu();
    const err = await gpu.rt.compileCheck({ name: 'fixture.broken', wgsl: broken });
    expect(err).toMatch(/undefined_thing/);
    const out = gpu.zeros([64]);
    gpu.rt.dispatch(gpu.rt.kernel({ name: 'fixture.broken', wgsl: broken }), { buffers: { out: out.buffer }, workgroups: [1] });
    await expect(gpu.sync()).rejects.toThrow(/kernel fixture\.broken.*failed to compile.*undefined_thing/);
    out.dispose();
  });

  it('a kernel source whose text changed after its first use compiles again', async () => {
    // The probes in bench/probes swap a variant's text into the shipped kernel object; the cache
    // must not hand back the pipeline compiled from the old text.
    const gpu = await testGpu();
    const text = (v: number) => `@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(1) fn main() { out[0] = ${v}.0; }`;
    const source = { name: 'fixture.mutable', wgsl: text(1) };
    const out = gpu.zeros([1]);
    const run = async () => {
      gpu.rt.dispatch(gpu.rt.kernel(source), { buffers: { out: out.buffer }, workgroups: [1] });
      return Array.from(await out.data());
    };
    expect(await run()).toEqual([1]);
    source.wgsl = text(2);
    expect(await run()).toEqual([2]);
    expect(await run()).toEqual([2]);
    out.dispose();
  });

  it('uploads check that values fill the shape', async () => {
    const gpu = await testGpu();
    expect(() => gpu.tensor([1, 2, 3], [2, 2])).toThrow(/3 values do not fill shape \[2, 2\]/);
  });
});

describe('runtime failures', () => {
  it('an allocation beyond the adapter limit is a clear out-of-memory error', async () => {
    const gpu = await testGpu();
    const max = gpu.adapter.limits.maxBufferSize;
    expect(() => gpu.zeros([Math.ceil(max / 4) + 1024])).toThrow(/out of memory: a buffer of \d+ bytes exceeds this adapter's maxBufferSize/);
  });

  it('a lost device makes every later call fail with the reason', async () => {
    const gpu = await graft();
    const t = gpu.zeros([4]);
    gpu.rt.device.destroy();
    // the lost promise resolves asynchronously
    for (let i = 0; i < 50 && gpu.rt.lostReason === null; i++) await new Promise((r) => setTimeout(r, 10));
    expect(gpu.rt.lostReason).not.toBe(null);
    expect(() => ops.relu(t)).toThrow(/GPU device was lost/);
    expect(() => gpu.zeros([2])).toThrow(/GPU device was lost/);
  });
});

describe('runtime fast paths', () => {
  const scaleKernel = { name: 'elementwise.scale', wgsl: elementwise, entry: 'scale' };
  const scaleParams = (n4: number, alpha: number) => ({ n4, bcast_inner: 1, bcast_c: 1, alpha, beta: 0 });

  it('a cached bind group stays right when its buffers return to the pool and hold other tensors', async () => {
    const gpu = await testGpu();
    const b = gpu.tensor([10, 20, 30, 40], [4]);
    const a = gpu.tensor([1, 2, 3, 4], [4]);
    const c = ops.add(a, b);
    expect(Array.from(await c.data())).toEqual([11, 22, 33, 44]);
    const [aBuffer, cBuffer] = [a.buffer, c.buffer];
    c.dispose();
    a.dispose();
    // The pool (last in, first out) hands the same buffers to new tensors: the same bind group
    // serves them.
    const before = gpu.rt.bindGroupStats();
    const a2 = gpu.tensor([5, 6, 7, 8], [4]);
    const c2 = ops.add(a2, b);
    expect(a2.buffer).toBe(aBuffer);
    expect(c2.buffer).toBe(cBuffer);
    expect(Array.from(await c2.data())).toEqual([15, 26, 37, 48]);
    const after = gpu.rt.bindGroupStats();
    expect(after.reused).toBeGreaterThan(before.reused);
    expect(after.created).toBe(before.created);
    for (const t of [a2, b, c2]) t.dispose();
  });

  it('bind groups are keyed by byte range, and each dispatch of a batch keeps its own uniforms', async () => {
    const gpu = await testGpu();
    const rt = gpu.rt;
    const x = gpu.tensor(Array.from({ length: 128 }, (_, i) => i), [128]);
    const out = gpu.zeros([128]);
    const kernel = rt.kernel(scaleKernel);
    // Same kernel and buffers, two ranges (256-byte aligned) and two scales, in one batch.
    rt.dispatch(kernel, { params: scaleParams(1, 2), buffers: { a: { buffer: x.buffer, offset: 0, size: 16 }, out: { buffer: out.buffer, offset: 0, size: 16 } }, workgroups: [1] });
    rt.dispatch(kernel, { params: scaleParams(1, 3), buffers: { a: { buffer: x.buffer, offset: 256, size: 16 }, out: { buffer: out.buffer, offset: 256, size: 16 } }, workgroups: [1] });
    rt.dispatch(kernel, { params: scaleParams(1, -1), buffers: { a: { buffer: x.buffer, offset: 0, size: 16 }, out: { buffer: out.buffer, offset: 256, size: 16 } }, workgroups: [1] });
    const got = await out.data();
    expect(Array.from(got.slice(0, 4))).toEqual([0, 2, 4, 6]);
    expect(Array.from(got.slice(64, 68))).toEqual([-0, -1, -2, -3]);
    x.dispose();
    out.dispose();
  });

  it('trimPool drops the bind groups of destroyed buffers; new buffers get new ones', async () => {
    const gpu = await testGpu();
    const b = gpu.tensor([1, 1, 1, 1], [4]);
    scope(() => ops.add(gpu.tensor([1, 2, 3, 4], [4]), b));
    gpu.rt.trimPool();
    const c = ops.add(gpu.tensor([2, 3, 4, 5], [4]), b);
    expect(Array.from(await c.data())).toEqual([3, 4, 5, 6]);
    await gpu.sync(); // no validation error from a group over a destroyed buffer
    c.dispose();
    b.dispose();
  });

  it('readback staging buffers are reused by size class and read the right bytes', async () => {
    const gpu = await testGpu();
    const sizes = [3, 4, 1, 300, 2, 4, 300, 64];
    const tensors = sizes.map((n, k) => gpu.tensor(Array.from({ length: n }, (_, i) => k * 1000 + i), [n]));
    for (let round = 0; round < 2; round++) {
      for (const [k, t] of tensors.entries()) {
        expect(Array.from(await t.data())).toEqual(Array.from({ length: sizes[k] }, (_, i) => k * 1000 + i));
      }
    }
    const pooled = gpu.rt.pooledStagingBuffers;
    expect(pooled).toBeGreaterThan(0);
    // Concurrent reads of one size class take different staging buffers.
    const all = await Promise.all(tensors.map((t) => t.data()));
    all.forEach((v, k) => expect(Array.from(v)).toEqual(Array.from({ length: sizes[k] }, (_, i) => k * 1000 + i)));
    for (const t of tensors) await t.data();
    expect(gpu.rt.pooledStagingBuffers).toBeLessThanOrEqual(Math.max(pooled, 8));
    for (const t of tensors) t.dispose();
  });

  it('an upload into a fresh buffer does not submit pending commands; a write to a buffer they use does', async () => {
    const gpu = await testGpu();
    const rt = gpu.rt;
    const x = gpu.tensor([1, 2, 3, 4], [4]);
    await x.data();
    const y = ops.mulScalar(x, 2); // recorded, reads x
    const submits = rt.submits;
    const fresh = gpu.tensor([5, 6, 7, 8], [4]);
    expect(rt.submits).toBe(submits);
    // x is read by the recorded multiply: the write must come after it.
    rt.write(x.buffer, new Float32Array([100, 200, 300, 400]));
    expect(rt.submits).toBe(submits + 1);
    const z = ops.add(x, fresh);
    expect(Array.from(await y.data())).toEqual([2, 4, 6, 8]);
    expect(Array.from(await z.data())).toEqual([105, 206, 307, 408]);
    // A buffer written by a recorded command is not fresh either.
    const w = ops.mulScalar(fresh, 3);
    rt.write(w.buffer, new Float32Array([9, 9, 9, 9]));
    expect(Array.from(await w.data())).toEqual([9, 9, 9, 9]);
    for (const t of [x, y, fresh, z, w]) t.dispose();
  });

  it('uniforms: a missing, unknown, mis-sized or negative u32 value is a clear error', async () => {
    const gpu = await testGpu();
    const rt = gpu.rt;
    const x = gpu.zeros([4]);
    const kernel = rt.kernel(scaleKernel);
    const run = (params: Record<string, number | number[]>) => rt.dispatch(kernel, { params, buffers: { a: x.buffer, out: x.buffer }, workgroups: [1] });
    const { alpha: _, ...noAlpha } = scaleParams(1, 1);
    expect(() => run(noAlpha)).toThrow(/kernel elementwise\.scale:scale: missing uniform 'alpha'/);
    expect(() => run({ ...scaleParams(1, 1), gamma: 1 })).toThrow(/unknown uniform 'gamma'/);
    expect(() => run({ ...scaleParams(1, 1), n4: -1 })).toThrow(/uniform 'n4' is u32 but got -1/);
    expect(() => run({ ...scaleParams(1, 1), n4: 1.5 })).toThrow(/uniform 'n4' is u32 but got 1.5/);
    expect(() => run({ ...scaleParams(1, 1), alpha: [1, 2] })).toThrow(/uniform 'alpha' takes 1 value\(s\), got 2/);
    await gpu.sync();
    x.dispose();
  });
});
