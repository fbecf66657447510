// darknetTiny's structure and transfer-learning surface: torchvision-style names, pools that take an
// index, the pooled-feature base, a new head, freezing, and a training step through every layer.
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/graph/autograd.ts';
import * as ops from '../../src/graph/ops.ts';
import { scope } from '../../src/graph/tensor.ts';
import { darknetTiny } from '../../src/models/darknet.ts';
import { withHead } from '../../src/models/heads.ts';
import { randArray, read, testGpu } from '../helpers.ts';

const CONVS: [number, number, number][] = [
  // [features index, out channels, kernel]
  [0, 16, 3], [2, 32, 3], [4, 16, 1], [5, 128, 3], [6, 16, 1], [7, 128, 3], [9, 32, 1], [10, 256, 3],
  [11, 32, 1], [12, 256, 3], [14, 64, 1], [15, 512, 3], [16, 64, 1], [17, 512, 3], [18, 128, 1],
];

describe('darknetTiny', () => {
  it('has torchvision-style names: features.i.conv / .bn, pools at 1, 3, 8, 13, a Linear classifier', async () => {
    const gpu = await testGpu();
    const net = darknetTiny({ gpu, init: 'zeros' });
    const sd = net.stateDict();
    expect(sd.size).toBe(CONVS.length * 6 + 2);
    let inChannels = 3;
    for (const [i, out, k] of CONVS) {
      expect(sd.get(`features.${i}.conv.weight`)!.shape).toEqual([out, inChannels, k, k]);
      expect(sd.has(`features.${i}.conv.bias`)).toBe(false);
      for (const b of ['weight', 'bias', 'running_mean', 'running_var']) expect(sd.get(`features.${i}.bn.${b}`)!.shape).toEqual([out]);
      expect(sd.get(`features.${i}.bn.num_batches_tracked`)!.dtype).toBe('i32');
      inChannels = out;
    }
    for (const pool of [1, 3, 8, 13]) expect([...sd.keys()].some((k) => k.startsWith(`features.${pool}.`))).toBe(false);
    expect(sd.get('classifier.weight')!.shape).toEqual([1000, 128]);
    expect(sd.get('classifier.bias')!.shape).toEqual([1000]);
    expect(net.numFeatures).toBe(128);
    for (const cut of net.cutPoints) expect([...sd.keys()].some((k) => k === cut || k.startsWith(cut + '.'))).toBe(true);
    net.dispose();
  });

  it('follows the Keras hyper-parameters: LeakyReLU 0.1, batchnorm eps 1e-3 and momentum 0.01, RGB [0, 1] at 224', async () => {
    const gpu = await testGpu();
    const net = darknetTiny({ gpu, init: 'zeros' });
    const block = net.features.layers[0] as unknown as { bn: { eps: number; momentum: number }; act: { negativeSlope: number } };
    expect(block.bn.eps).toBe(1e-3);
    expect(block.bn.momentum).toBe(0.01);
    expect(block.act.negativeSlope).toBe(0.1);
    expect(net.preprocessing).toEqual({ size: [224, 224], channels: 'RGB', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], resize: 'bilinear', crop: 'none' });
    net.dispose();
  });

  it('without the top it returns pooled features [N, 128]; withHead attaches a new classifier; freezing the features trains only the head', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const base = darknetTiny({ gpu, includeTop: false, seed: 3 }).eval();
      expect([...base.stateDict().keys()].some((k) => k.startsWith('classifier'))).toBe(false);
      const x = gpu.tensor(randArray(2 * 3 * 40 * 36, 11, 0, 1), [2, 3, 40, 36]);
      const features = base.forward(x);
      expect(features.shape).toEqual([2, 128]);
      const net = withHead(base, { classes: 3, dropout: 0.5, seed: 4 });
      expect(net.forward(x).shape).toEqual([2, 3]);
      net.freeze('features');
      expect(net.trainableParameters().map((p) => p.name)).toEqual(['weight', 'bias']);
      expect(net.namedParameters().filter(([, p]) => p.trainable).map(([n]) => n)).toEqual(['classifier.weight', 'classifier.bias']);
      net.dispose();
    });
  });

  it('rejects inputs that are not [N, 3, H, W] and bad class counts', async () => {
    const gpu = await testGpu();
    const net = darknetTiny({ gpu, init: 'zeros' });
    scope(() => {
      expect(() => net.forward(gpu.zeros([1, 1, 32, 32]))).toThrow(/darknet-tiny: input expected \[N, 3, H, W\].*got \[1, 1, 32, 32\]/);
      expect(() => net.forward(gpu.zeros([3, 32, 32]))).toThrow(/darknet-tiny: input expected/);
    });
    expect(() => darknetTiny({ gpu, classes: 0 })).toThrow(/darknetTiny: classes must be a positive integer, got 0/);
    net.dispose();
  });

  it('a training step reaches every parameter (odd input size: asymmetric pooling in the backward too)', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const net = darknetTiny({ gpu, classes: 5, seed: 1 }).train();
      const x = gpu.tensor(randArray(2 * 3 * 37 * 29, 12, 0, 1), [2, 3, 37, 29]);
      const loss = ops.softmaxCrossEntropy(net.forward(x), ops.labels(gpu, [1, 4], 5));
      expect(Number.isFinite(await loss.item())).toBe(true);
      backward(loss);
      for (const [name, p] of net.namedParameters()) {
        const g = await read(p.grad!);
        expect(g.some((v) => v !== 0), `${name} has a zero gradient`).toBe(true);
        expect(g.every(Number.isFinite), `${name} has a non-finite gradient`).toBe(true);
      }
      net.dispose();
    });
  });
});
