// Optimizer updates of a parameter larger than one storage binding (VGG16's classifier.0.weight on a
// 128 MiB adapter) run in ranges; checked against the update rules on the CPU with a forced 1 MiB limit.
import { describe, expect, it } from 'vitest';
import { graft } from '../../src/graph/gpu.ts';
import { adamStep, sgdStep } from '../../src/kernels/optim.ts';
import { expectClose, randArray, read } from '../helpers.ts';

describe('optimizer steps over several binding ranges', () => {
  it('SGD with momentum and Adam match the CPU rules on a 1.7 MB parameter under a 1 MiB limit', async () => {
    const gpu = await graft({ limits: { maxStorageBufferBindingSize: 1 << 20 } });
    try {
      expect(gpu.adapter.limits.maxStorageBufferBindingSize).toBe(1 << 20);
      const n = 700 * 601;
      const p0 = randArray(n, 1);
      const g = randArray(n, 2);
      const param = gpu.tensor(p0, [700, 601]);
      const grad = gpu.tensor(g, [700, 601]);
      const mom = gpu.zeros([700, 601]);
      const lr = 0.1;
      const wd = 0.01;
      sgdStep(gpu.rt, param, grad, mom, { lr, weightDecay: wd, momentum: 0.9, dampening: 0, nesterov: false, first: true });
      // first step: buf = g + wd p; p -= lr buf
      const expectSgd = p0.map((p, i) => p - lr * (g[i] + wd * p));
      expectClose(await read(param), expectSgd, { atol: 1e-6, rtol: 1e-5 }, 'sgd param');
      expectClose(await read(mom), g.map((v, i) => v + wd * p0[i]), { atol: 1e-6, rtol: 1e-5 }, 'momentum buffer');

      const m = gpu.zeros([700, 601]);
      const v = gpu.zeros([700, 601]);
      const before = await read(param);
      adamStep(gpu.rt, param, grad, m, v, { lr: 1e-3, weightDecay: 0, decoupled: false, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 });
      // first Adam step: m = 0.1 g, v = 0.001 g^2, p -= lr * (m / 0.1) / (sqrt(v / 0.001) + eps)
      const expectAdam = before.map((p, i) => p - (1e-3 * g[i]) / (Math.abs(g[i]) + 1e-8));
      expectClose(await read(param), expectAdam, { atol: 1e-6, rtol: 1e-5 }, 'adam param');
      for (const t of [param, grad, mom, m, v]) t.dispose();
    } finally {
      gpu.destroy();
    }
  });
});
