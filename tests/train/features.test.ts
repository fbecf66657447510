// Models as stages cut at named points: the two halves compose to the model's own forward (Darknet,
// ResNet, VGG, Sequential); features computed once train a head with no backbone dispatch per epoch.
import { describe, expect, it } from 'vitest';
import type { Module } from '../../src/graph/module.ts';
import { noGrad, scope } from '../../src/graph/tensor.ts';
import { darknetTiny } from '../../src/models/darknet.ts';
import { withHead } from '../../src/models/heads.ts';
import { resnet18, vgg11 } from '../../src/models/index.ts';
import { cutIndex, extractFeatures, headCut, modelStages, prefixOf, tailFrom, trainFrom } from '../../src/train/features.ts';
import { fit } from '../../src/train/fit.ts';
import { adam } from '../../src/train/optim.ts';
import { expectClose, randArray, read, testGpu } from '../helpers.ts';
import { smallNet } from './features-net.ts';
import { quadrants } from './toy.ts';

async function splitMatchesForward(model: Module, input: number[], cuts: string[]): Promise<void> {
  const gpu = await testGpu();
  model.eval();
  await scope(async () => {
    const x = gpu.tensor(Float32Array.from(randArray(input.reduce((a, b) => a * b, 1), 3, 0, 1)), input);
    const whole = await read(noGrad(() => model.forward(x)));
    for (const cut of cuts) {
      const mid = noGrad(() => prefixOf(model, cut)(x));
      const out = await read(noGrad(() => tailFrom(model, cut, mid.shape.slice(1)).forward(mid)));
      expectClose(out, whole, { atol: 1e-5, rtol: 1e-4 }, `${model.constructor.name} cut at ${cut}`);
    }
  });
}

describe('model stages', () => {
  it('Darknet: prefix + tail at any cut equals forward (with a new head)', async () => {
    const gpu = await testGpu();
    const net = withHead(darknetTiny({ gpu, includeTop: false, seed: 3 }), { classes: 5, dropout: 0.3, seed: 4 });
    expect(modelStages(net).map((s) => s.name).slice(-3)).toEqual(['features.18', 'pool', 'classifier']);
    expect(headCut(net)).toBe('classifier');
    await splitMatchesForward(net, [2, 3, 8, 8], ['features.4', 'features.14', 'pool', 'classifier', 'dropout']);
    net.dispose();
  });

  it('ResNet: block-level stages; prefix + tail equals forward', async () => {
    const gpu = await testGpu();
    const net = resnet18({ gpu, classes: 3, width: 4, seed: 5 });
    const names = modelStages(net).map((s) => s.name);
    expect(names).toEqual(['conv1', 'bn1', 'layer1.0', 'layer1.1', 'layer2.0', 'layer2.1', 'layer3.0', 'layer3.1', 'layer4.0', 'layer4.1', 'avgpool', 'fc']);
    expect(headCut(net)).toBe('fc');
    await splitMatchesForward(net, [2, 3, 32, 32], ['bn1', 'layer3', 'layer4.1', 'fc']);
    net.dispose();
  });

  it('VGG: conv+ReLU pairs and dropout+linear are single stages; prefix + tail equals forward', async () => {
    const gpu = await testGpu();
    const net = vgg11({ gpu, classes: 3, width: 8, hidden: 16, seed: 6 });
    const names = modelStages(net).map((s) => s.name);
    expect(names.slice(0, 3)).toEqual(['features.0', 'features.2', 'features.3']);
    expect(names.slice(-4)).toEqual(['avgpool', 'classifier.0', 'classifier.3', 'classifier.6']);
    expect(headCut(net)).toBe('classifier.6');
    await splitMatchesForward(net, [2, 3, 32, 32], ['features.8', 'avgpool', 'classifier.3']);
    net.dispose();
  });

  it('Sequential: a dropout joins the layer after it; unknown cuts are named with the stage list', async () => {
    const gpu = await testGpu();
    const net = smallNet(gpu);
    expect(modelStages(net).map((s) => s.name)).toEqual(['0', '1', '2', '3', '4', '6']);
    expect(modelStages(net)[5].modules.map(([n]) => n)).toEqual(['5', '6']);
    expect(headCut(net)).toBe('6');
    expect(cutIndex(modelStages(net), '5')).toBe(5);
    expect(() => cutIndex(modelStages(net), 'layer9')).toThrow(/no stage is named 'layer9'.*stages: 0, 1, 2, 3, 4, 6/);
    await splitMatchesForward(net, [3, 1, 8, 8], ['1', '4', '6']);
    net.dispose();
  });

  it('trainFrom freezes everything below the cut and counts the rest', async () => {
    const gpu = await testGpu();
    const net = resnet18({ gpu, classes: 3, width: 4, seed: 5 });
    const expected = net.namedParameters().filter(([n]) => n.startsWith('layer4.') || n.startsWith('fc.')).reduce((a, [, p]) => a + p.size, 0);
    expect(trainFrom(net, 'layer4')).toBe(expected);
    expect(net.namedParameters().filter(([, p]) => p.trainable).every(([n]) => /^(layer4|fc)\./.test(n))).toBe(true);
    expect(trainFrom(net, '')).toBe(net.parameters().reduce((a, p) => a + p.size, 0));
    net.dispose();
  });
});

describe('extractFeatures', () => {
  it('caches the eval-mode prefix outputs; the head trains on them with no conv dispatch', async () => {
    const gpu = await testGpu();
    const net = smallNet(gpu, 2);
    const train = quadrants(48, 1);
    const val = quadrants(16, 2);
    const seen: [number, number][] = [];
    const feats = await extractFeatures(net, train, { batchSize: 20, onProgress: (done, total) => seen.push([done, total]) });
    // 48 items in batches of 20: progress after each of the 3 batches, ending at the whole set.
    expect(seen).toEqual([[20, 48], [40, 48], [48, 48]]);
    expect(feats.cut).toBe('6');
    expect(feats.shape).toEqual([64]);
    expect(feats.dataset.itemShape).toEqual([64, 1, 1]);
    expect(feats.dataset.length).toBe(48);
    expect(feats.dataset.label(5)).toBe(train.label(5));
    // Reference: the layers run one by one in eval mode.
    net.eval();
    const direct = await scope(async () => {
      let y = gpu.tensor(await train.read([0, 1, 2]), [3, 1, 8, 8]);
      for (const layer of net.layers.slice(0, 5)) y = noGrad(() => layer.forward(y));
      return read(y);
    });
    net.train();
    expectClose(await feats.dataset.read([0, 1, 2]), direct, { atol: 1e-6, rtol: 1e-5 }, 'cached features');

    const valFeats = await extractFeatures(net, val);
    trainFrom(net, '6');
    const convW = await read(net.layers[0].parameters()[0]);
    gpu.resetCounters();
    const h = await fit(tailFrom(net, '6', feats.shape), feats.dataset, { epochs: 5, batchSize: 16, optimizer: adam({ lr: 0.05 }), validation: valFeats.dataset, seed: 1 });
    const convDispatches = Object.entries(gpu.stats().dispatches).filter(([k]) => k.startsWith('conv2d')).reduce((a, [, v]) => a + v, 0);
    expect(convDispatches).toBe(0);
    expect(h.epochs[4].loss).toBeLessThan(h.epochs[0].loss);
    expect(await read(net.layers[0].parameters()[0])).toEqual(convW);
    net.dispose();
  });
});
