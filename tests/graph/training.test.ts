// End-to-end engine checks on a small conv net: 200 forward+backward+update steps leak nothing and
// learn; freezing the lower layers removes their gradient dispatches.
import { describe, expect, it } from 'vitest';
import { backward, zeroGrad } from '../../src/graph/autograd.ts';
import type { Gpu } from '../../src/graph/gpu.ts';
import { Module } from '../../src/graph/module.ts';
import * as ops from '../../src/graph/ops.ts';
import { type Tensor, scope } from '../../src/graph/tensor.ts';
import { BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../../src/models/layers.ts';
import { sgdStep } from '../../src/train/sgd.ts';
import { convGradDispatches, dispatchesOf, oneDispatchPerConvPass, randArray, testGpu } from '../helpers.ts';

class SmallNet extends Module {
  readonly features: Sequential;
  readonly fc: Linear;
  constructor(gpu: Gpu) {
    super();
    this.features = this.addModule(
      'features',
      new Sequential(
        new Conv2d(gpu, 3, 8, 3, { padding: 1, bias: false, seed: 11 }),
        new BatchNorm2d(gpu, 8),
        new ReLU(),
        new MaxPool2d(2),
        new Conv2d(gpu, 8, 16, 3, { stride: 2, padding: 1, seed: 12 }),
        new BatchNorm2d(gpu, 16),
        new ReLU(),
      ),
    );
    this.fc = this.addModule('fc', new Linear(gpu, 16, 4, { seed: 13 }));
  }
  forward(x: Tensor): Tensor {
    return this.fc.forward(new Flatten().forward(ops.globalAvgPool(this.features.forward(x))));
  }
}

function batch(gpu: Gpu): { x: Tensor; y: Tensor } {
  const x = gpu.tensor(randArray(4 * 3 * 12 * 12, 99), [4, 3, 12, 12]);
  const y = gpu.tensor([0, 1, 2, 3], [4], 'i32');
  return { x, y };
}

async function step(net: SmallNet, x: Tensor, y: Tensor, lr: number): Promise<number> {
  return scope(async () => {
    const loss = ops.softmaxCrossEntropy(net.forward(x), y);
    backward(loss);
    sgdStep(net.trainableParameters(), lr);
    zeroGrad(net.parameters());
    return loss.item();
  });
}

describe('training a small conv net', () => {
  it('200 forward+backward+update steps keep live and pooled buffers flat and lower the loss', async () => {
    const gpu = await testGpu();
    const net = new SmallNet(gpu);
    const { x, y } = batch(gpu);
    const first = await step(net, x, y, 0.05);
    // Live buffers are flat from the first step on. The pool fills during a warm-up of 10 steps (the
    // first steps create what later steps reuse); from then on it must not grow, or every step would
    // be leaking into the pool instead of reusing it.
    const live = { buffers: gpu.stats().liveBuffers, bytes: gpu.stats().liveBytes };
    let pooled = { buffers: 0, bytes: 0 };
    let last = first;
    for (let i = 1; i < 200; i++) {
      last = await step(net, x, y, 0.05);
      const s = gpu.stats();
      if (i === 10) pooled = { buffers: s.pooledBuffers, bytes: s.pooledBytes };
      if (i === 10 || i === 50 || i === 100 || i === 199) {
        expect({ step: i, buffers: s.liveBuffers, bytes: s.liveBytes }).toEqual({ step: i, ...live });
        expect({ step: i, buffers: s.pooledBuffers, bytes: s.pooledBytes }).toEqual({ step: i, ...pooled });
      }
    }
    expect(Number.isFinite(last)).toBe(true);
    expect(last).toBeLessThan(first * 0.5);
    net.dispose();
    x.dispose();
    y.dispose();
  });

  it('freezing the features removes their weight and input gradients', async () => {
    const gpu = await testGpu();
    const net = new SmallNet(gpu);
    const { x, y } = batch(gpu);
    const count = async () => {
      gpu.resetCounters();
      await scope(async () => {
        backward(ops.softmaxCrossEntropy(net.forward(x), y));
        zeroGrad(net.parameters());
      });
      return gpu.stats().dispatches;
    };
    // Each conv pass is one dispatch here (oneDispatchPerConvPass), so dispatches count convs.
    const all = await oneDispatchPerConvPass(count);
    net.freeze('features');
    const head = await oneDispatchPerConvPass(count);
    net.unfreeze('features.4');
    const partial = await oneDispatchPerConvPass(count);
    const filter = (d: Record<string, number>) => convGradDispatches(d).filter;
    const input = (d: Record<string, number>) => convGradDispatches(d).input;
    const total = (d: Record<string, number>) => Object.values(d).reduce((s, v) => s + v, 0);
    // The net's two convs, features.0 (reads the image) and features.4.
    const convs = net.namedModules().filter(([, m]) => m instanceof Conv2d).map(([n]) => n);
    expect(convs).toEqual(['features.0', 'features.4']);
    // Everything trainable: a weight gradient for each conv, an input gradient for each but the first.
    expect([filter(all), input(all)]).toEqual([convs.length, convs.length - 1]);
    // Only the head: no conv or batchnorm backward at all.
    expect([filter(head), input(head)]).toEqual([0, 0]);
    expect(dispatchesOf(head, /^batchnorm\..*(backward|dx)/)).toBe(0);
    expect(total(head)).toBeLessThan(total(all));
    // Head + the second conv: its weight gradient (one conv), but no input gradient below it.
    expect([filter(partial), input(partial)]).toEqual([1, 0]);
    expect(total(partial)).toBeLessThan(total(all));
    net.dispose();
    x.dispose();
    y.dispose();
  });
});
