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
