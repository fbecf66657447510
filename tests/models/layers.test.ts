import { describe, expect, it } from 'vitest';
import { scope } from '../../src/graph/tensor.ts';
import { BatchNorm2d } from '../../src/models/layers.ts';
import { randArray, testGpu } from '../helpers.ts';

describe('BatchNorm2d layer', () => {
  it('counts num_batches_tracked like torch: training forwards only, not eval or frozen', async () => {
    const gpu = await testGpu();
    const bn = new BatchNorm2d(gpu, 3);
    const counter = () => bn.stateDict().get('num_batches_tracked')!.item();
    await scope(async () => {
      const x = gpu.tensor(randArray(2 * 3 * 4 * 5, 3), [2, 3, 4, 5]);
      for (let i = 0; i < 3; i++) bn.forward(x);
      expect(await counter()).toBe(3);
      bn.eval();
      bn.forward(x);
      expect(await counter()).toBe(3);
      bn.train();
      bn.freeze();
      expect(bn.usesBatchStats).toBe(false);
      bn.forward(x);
      expect(await counter()).toBe(3);
    });
    bn.dispose();
  });
});
