// Fine-tuning recipes on a small conv net: what each one trains and leaves alone, features computed
// once (the same result as running the frozen part every step), staged/hybrid learning rates in one
// optimizer, BatchNorm kept in inference mode, and what freezing saves on a ResNet step.
import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/graph/gpu.ts';
import type { Module } from '../../src/graph/module.ts';
import { resnet18 } from '../../src/models/index.ts';
import { BatchNorm2d, Conv2d } from '../../src/models/layers.ts';
import { formatFreezingCost, freezingCost } from '../../src/report/freezing-cost.ts';
import { featureExtraction, hybridFineTune, partialFineTune, runRecipe, stagedFineTune } from '../../src/train/recipes.ts';
import { convGradDispatches, dispatchesOf, expectClose, oneDispatchPerConvPass, read, testGpu } from '../helpers.ts';
import { smallNet } from './features-net.ts';
import { quadrants } from './toy.ts';

const data = () => ({ train: quadrants(32, 1), validation: quadrants(16, 2) });
const param = (net: Module, name: string) => net.namedParameters().find(([n]) => n === name)![1];
const buffer = (net: Module, name: string) => net.namedBuffers().find(([n]) => n === name)![1];
const maxMove = (a: Float64Array, b: Float64Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

function convForwardDispatches(gpu: Gpu): number {
  return Object.entries(gpu.stats().dispatches).filter(([k]) => k.startsWith('conv2d') && k.includes('forward')).reduce((a, [, v]) => a + v, 0);
}

describe('recipes', () => {
  it('featureExtraction trains only the head; the backbone runs once whatever the number of epochs', async () => {
    const gpu = await testGpu();
    const counts: number[] = [];
    for (const epochs of [1, 3]) {
      const net = smallNet(gpu, 3);
      const [conv, mean, head] = [await read(param(net, '0.weight')), await read(buffer(net, '1.running_mean')), await read(param(net, '6.weight'))];
      gpu.resetCounters();
      const r = await featureExtraction(net, data(), { epochs, batchSize: 8, lr: 0.02, seed: 1 });
      counts.push(convForwardDispatches(gpu));
      expect(r.history.epochs).toHaveLength(epochs);
      expect(r.trainableParameters).toBe(64 * 4 + 4);
      expect(r.parameters).toBe(4 * 9 + 4 + 8 + 64 * 4 + 4);
      expect(r.phases[0].featureSeconds).toBeGreaterThan(0);
      expect(await read(param(net, '0.weight'))).toEqual(conv);
      expect(await read(buffer(net, '1.running_mean'))).toEqual(mean);
      expect(await read(param(net, '6.weight'))).not.toEqual(head);
      r.optimizer.dispose();
      net.dispose();
    }
    // 32 training + 16 validation items in batches of 64: one conv forward each, for 1 or 3 epochs.
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBe(counts[0]);
  });

  it('partial: cached features give the same training as running the frozen part every step', async () => {
    const gpu = await testGpu();
    const results = [];
    for (const cache of [true, false]) {
      const net = smallNet(gpu, 4);
      const conv = await read(param(net, '0.weight'));
      const r = await partialFineTune(net, data(), { cut: '1', epochs: 2, batchSize: 8, lr: 0.02, seed: 2, cache });
      expect(await read(param(net, '0.weight'))).toEqual(conv);
      results.push({ history: r.history, bnMean: await read(buffer(net, '1.running_mean')), head: await read(param(net, '6.weight')), trainable: r.trainableParameters });
      r.optimizer.dispose();
      net.dispose();
    }
    const [cached, direct] = results;
    expect(cached.trainable).toBe(8 + 64 * 4 + 4);
    expectClose(cached.history.epochs.map((e) => e.valLoss!), direct.history.epochs.map((e) => e.valLoss!), { atol: 1e-5, rtol: 1e-4 }, 'val loss');
    expectClose(cached.bnMean, direct.bnMean, { atol: 1e-6, rtol: 1e-5 }, 'BatchNorm running mean (trained part, batch statistics)');
    expectClose(cached.head, direct.head, { atol: 1e-5, rtol: 1e-4 }, 'head weight');
  });

  it('staged: the head alone, then everything in one optimizer with the backbone at 0.1 x lr', async () => {
    const gpu = await testGpu();
    const net = smallNet(gpu, 5, 4, 0);
    const train = quadrants(16, 3);
    const snaps: Record<string, Float64Array>[] = [];
    const snap = async () => ({ conv: await read(param(net, '0.weight')), head: await read(param(net, '6.weight')) });
    snaps.push(await snap());
    // One step per epoch (batch = the whole set): Adam's first step moves each weight by about its lr.
    const r = await stagedFineTune(net, { train }, { headEpochs: 1, epochs: 1, batchSize: 16, lr: 0.01, callbacks: [{ onTrainEnd: async () => void snaps.push(await snap()) }] });
    expect(r.history.epochs.map((e) => e.epoch)).toEqual([0, 1]);
    expect(r.phases.map((p) => p.from)).toEqual(['6', '']);
    expect(maxMove(snaps[1].conv, snaps[0].conv)).toBe(0);
    expect(maxMove(snaps[1].head, snaps[0].head)).toBeGreaterThan(0.005);
    const convMove = maxMove(snaps[2].conv, snaps[1].conv);
    expect(convMove).toBeGreaterThan(0.0005);
    expect(convMove).toBeLessThan(0.0015);
    expect(maxMove(snaps[2].head, snaps[1].head)).toBeGreaterThan(0.005);
    r.optimizer.dispose();
    net.dispose();
  });

  it('hybrid: below the cut never trains; between cut and head only in the second phase; freezeBatchNorm keeps BN in inference mode', async () => {
    const gpu = await testGpu();
    const net = smallNet(gpu, 6);
    const before = { conv: await read(param(net, '0.weight')), gamma: await read(param(net, '1.weight')), mean: await read(buffer(net, '1.running_mean')) };
    let afterHead: Float64Array | null = null;
    const r = await hybridFineTune(net, data(), { cut: '1', headEpochs: 1, epochs: 1, batchSize: 8, lr: 0.02, onPhase: async (p) => void (p.index === 1 && (afterHead = await read(param(net, '1.weight')))) });
    expect(await read(param(net, '0.weight'))).toEqual(before.conv);
    expect(afterHead!).toEqual(before.gamma);
    expect(await read(param(net, '1.weight'))).not.toEqual(before.gamma);
    r.optimizer.dispose();
    net.dispose();

    const frozenBn = smallNet(gpu, 6);
    const r2 = await partialFineTune(frozenBn, data(), { cut: '1', epochs: 1, batchSize: 8, lr: 0.02, freezeBatchNorm: true });
    expect(r2.trainableParameters).toBe(64 * 4 + 4);
    expect(await read(buffer(frozenBn, '1.running_mean'))).toEqual(before.mean);
    expect(await read(param(frozenBn, '1.weight'))).toEqual(before.gamma);
    r2.optimizer.dispose();
    frozenBn.dispose();
  });

  it('bad recipe requests name the problem', async () => {
    const gpu = await testGpu();
    const net = smallNet(gpu, 7);
    await expect(runRecipe('partial', net, data(), { epochs: 1 })).rejects.toThrow(/recipe 'partial' needs a cut point/);
    await expect(runRecipe('finetune-all', net, data(), { epochs: 1 })).rejects.toThrow(/unknown recipe 'finetune-all' \(recipes: feature-extraction, full, partial, staged, hybrid\)/);
    await expect(runRecipe('staged', net, data(), { epochs: 1, resumeFrom: new Uint8Array(8) })).rejects.toThrow(/resumeFrom works with single-phase recipes/);
    await expect(runRecipe('partial', net, data(), { epochs: 1, cut: 'layer3' })).rejects.toThrow(/no stage is named 'layer3'/);
    net.dispose();
  });
});

describe('what freezing saves', () => {
  it('a ResNet-18 step with only layer4 + fc trainable: exactly the weight and input gradients of layer4 and fc, none below', async () => {
    const gpu = await testGpu();
    const c = await oneDispatchPerConvPass(() => freezingCost(gpu, { input: [2, 3, 32, 32], width: 4, steps: 1 }));
    const [all, top] = c.modes;

    // The expected counts, from the structure of the same network with the same freezing. A conv
    // computes a weight gradient when its weight trains, and an input gradient when something below
    // it trains: in ResNet-18 every conv but conv1 (which reads the image) when all trains; with
    // layer4 + fc, every conv of layer4 but the two that read layer3's output (frozen).
    const net = resnet18({ gpu, classes: 10, width: 4 });
    const convs = net.namedModules().filter(([, m]) => m instanceof Conv2d).map(([n]) => n);
    const bns = net.namedModules().filter(([, m]) => m instanceof BatchNorm2d).map(([n]) => n);
    const params = net.namedParameters().length;
    net.freeze().unfreeze('layer4').unfreeze('fc');
    const trainsParam = new Set(net.namedParameters().filter(([, p]) => p.trainable).map(([n]) => n));
    const trainableParams = trainsParam.size;
    net.dispose();
    const trains = (m: string) => trainsParam.has(`${m}.weight`);
    const readsFrozen = new Set(['conv1', 'layer4.0.conv1', 'layer4.0.downsample.0']);
    expect(convs.length).toBe(20); // 1 + 4 stages x 2 blocks x 2 + 3 downsample convs
    expect(bns.length).toBe(20);
    const expected = {
      all: { filter: convs.length, input: convs.length - 1, bnBackward: bns.length, optimizer: params },
      top: {
        filter: convs.filter(trains).length,
        input: convs.filter((m) => trains(m) && !readsFrozen.has(m)).length,
        bnBackward: bns.filter(trains).length,
        optimizer: trainableParams,
      },
    };
    expect(expected.top).toEqual({ filter: 5, input: 3, bnBackward: 5, optimizer: 17 });

    const measured = (m: typeof all) => ({
      ...convGradDispatches(m.byKernel),
      // one finalize per BatchNorm whose weight and bias get gradients
      bnBackward: dispatchesOf(m.byKernel, /^batchnorm\.backward_reduce_finalize$/),
      // one update per trainable parameter tensor: none for a frozen one
      optimizer: dispatchesOf(m.byKernel, /^optim\./),
    });
    expect(measured(all)).toEqual(expected.all);
    expect(measured(top)).toEqual(expected.top);
    // The forward is the same network either way.
    expect(dispatchesOf(top.byKernel, /^conv2d\..*forward/)).toBe(dispatchesOf(all.byKernel, /^conv2d\..*forward/));
    expect(top.trainable).toBeLessThan(all.trainable);
    expect(formatFreezingCost(c)).toMatch(/\| layer4 \+ fc trainable \| [\d,]+ \| \d+ \| 5 \| 3 \|/);
  });
});
