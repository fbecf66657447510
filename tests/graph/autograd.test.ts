import { describe, expect, it } from 'vitest';
import { backward, zeroGrad } from '../../src/graph/autograd.ts';
import { parameter } from '../../src/graph/module.ts';
import * as ops from '../../src/graph/ops.ts';
import { noGrad, scope } from '../../src/graph/tensor.ts';
import { testGpu } from '../helpers.ts';

describe('autograd', () => {
  it('accumulates gradients across backward calls until zeroed', async () => {
    const gpu = await testGpu();
    const w = parameter(gpu.tensor([1, -2, 3], [3]));
    for (let i = 0; i < 2; i++) scope(() => backward(ops.sum(ops.mulScalar(w, 3))));
    expect(Array.from(await w.grad!.data())).toEqual([6, 6, 6]);
    zeroGrad([w]);
    expect(w.grad).toBe(null);
    scope(() => backward(ops.mean(w)));
    const g = Array.from(await w.grad!.data());
    g.forEach((v) => expect(v).toBeCloseTo(1 / 3, 6));
    zeroGrad([w]);
    w.dispose();
  });

  it('a tensor used twice gets the sum of both paths', async () => {
    const gpu = await testGpu();
    const x = parameter(gpu.tensor([1, 2], [2]));
    scope(() => backward(ops.sum(ops.add(ops.mulScalar(x, 2), ops.mulScalar(x, 5)))));
    expect(Array.from(await x.grad!.data())).toEqual([7, 7]);
    zeroGrad([x]);
    x.dispose();
  });

  it('noGrad records nothing; backward of a tensor that needs no gradient is an error', async () => {
    const gpu = await testGpu();
    const w = parameter(gpu.tensor([1, 2], [2]));
    scope(() => {
      const y = noGrad(() => ops.sum(ops.relu(w)));
      expect(y.requiresGrad).toBe(false);
      expect(y.node).toBe(null);
      expect(() => backward(y)).toThrow(/does not require a gradient/);
      expect(() => backward(ops.relu(w))).toThrow(/give a seed gradient/);
    });
    w.dispose();
  });

  it('walks only the part of the graph that leads to a trainable parameter', async () => {
    const gpu = await testGpu();
    const frozen = parameter(gpu.tensor([1, 2, 3], [3]), false);
    const live = parameter(gpu.tensor([1, 1, 1], [3]));
    scope(() => {
      // relu(frozen) is a branch with nothing trainable below it: no leaky_relu_backward may run.
      const y = ops.sum(ops.add(ops.relu(frozen), live));
      gpu.resetCounters();
      backward(y);
      const d = gpu.stats().dispatches;
      expect(d['elementwise.leaky_relu_backward'] ?? 0).toBe(0);
      expect(frozen.grad).toBe(null);
    });
    expect(Array.from(await live.grad!.data())).toEqual([1, 1, 1]);
    zeroGrad([live]);
    frozen.dispose();
    live.dispose();
  });

  it('backward leaves no intermediate buffers behind', async () => {
    const gpu = await testGpu();
    const w = parameter(gpu.tensor([0.5, -1, 2, 4], [4]));
    const base = gpu.stats().liveBuffers;
    scope(() => backward(ops.mean(ops.relu(ops.mulScalar(w, 2)))));
    // only w.grad is new
    expect(gpu.stats().liveBuffers).toBe(base + 1);
    zeroGrad([w]);
    expect(gpu.stats().liveBuffers).toBe(base);
    w.dispose();
  });
});
