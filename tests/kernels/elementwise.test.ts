import { describe, expect, it } from 'vitest';
import { backward } from '../../src/graph/autograd.ts';
import * as ops from '../../src/graph/ops.ts';
import { scope } from '../../src/graph/tensor.ts';
import { parameter } from '../../src/graph/module.ts';
import { expectClose, finiteDiff, randArray, read, testGpu, weightedSum } from '../helpers.ts';
import * as ref from '../reference/elementwise.ts';

const FWD = { atol: 1e-6, rtol: 1e-6 };
const BWD = { atol: 2e-3, rtol: 2e-3 };

describe('elementwise', () => {
  it('add: equal shapes and bias broadcast over NCHW channels, with gradients', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const shape = [2, 3, 5, 7];
      const xv = randArray(2 * 3 * 5 * 7, 1);
      const bv = randArray(3, 2);
      const x = parameter(gpu.tensor(xv, shape));
      const b = parameter(gpu.tensor(bv, [3]));
      const y = ops.add(x, b, 1);
      expectClose(await read(y), ref.addBroadcast(xv, bv, 35), FWD, 'add bias');
      const w = randArray(y.size, 3);
      backward(y, gpu.tensor(w, shape));
      expectClose(await read(x.grad!), finiteDiff((v) => weightedSum(ref.addBroadcast(v, bv, 35), w), xv), BWD, 'dx');
      expectClose(await read(b.grad!), finiteDiff((v) => weightedSum(ref.addBroadcast(xv, v, 35), w), bv), BWD, 'db');
      x.dispose(); b.dispose(); x.grad!.dispose(); b.grad!.dispose();
    });
  });

  it('relu and leakyRelu forward and backward against finite differences', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      for (const alpha of [0, 0.1]) {
        // Keep inputs away from the kink at 0, where central differences are meaningless.
        const xv = randArray(1001, 4 + alpha * 10).map((v) => v + Math.sign(v) * 0.01);
        const x = parameter(gpu.tensor(xv, [7, 11, 13]));
        const y = alpha === 0 ? ops.relu(x) : ops.leakyRelu(x, alpha);
        expectClose(await read(y), ref.leakyRelu(xv, alpha), FWD, `leakyRelu(${alpha})`);
        const w = randArray(1001, 5);
        backward(y, gpu.tensor(w, [7, 11, 13]));
        expectClose(await read(x.grad!), finiteDiff((v) => weightedSum(ref.leakyRelu(v, alpha), w), xv), BWD, `d leakyRelu(${alpha})`);
        x.grad!.dispose(); x.dispose();
      }
    });
  });

  it('sum and mean reduce with gradients (size not a multiple of the workgroup)', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const xv = randArray(3 * 777, 6);
      const x = parameter(gpu.tensor(xv, [3, 777]));
      const s = ops.sum(x);
      const m = ops.mean(x);
      const total = xv.reduce((a, b) => a + b, 0);
      expectClose([await s.item()], [total], { atol: 1e-4, rtol: 1e-5 }, 'sum');
      expectClose([await m.item()], [total / xv.length], { atol: 1e-6, rtol: 1e-5 }, 'mean');
      backward(m);
      expectClose(await read(x.grad!), new Float64Array(xv.length).fill(1 / xv.length), FWD, 'd mean');
      x.grad!.dispose(); x.dispose();
    });
  });

  it('rejects mismatched shapes naming the op and both shapes', async () => {
    const gpu = await testGpu();
    scope(() => {
      const a = gpu.zeros([2, 3]);
      const b = gpu.zeros([3, 2]);
      expect(() => ops.add(a, b)).toThrow(/add: second operand expected \[2, 3\], got \[3, 2\]/);
      const c = gpu.zeros([4]);
      expect(() => ops.add(a, c)).toThrow(/add: broadcast operand.*expected \[3\], got \[4\]/);
    });
  });
});
