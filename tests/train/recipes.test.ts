// Fine-tuning recipes on a small conv net: what each one trains and leaves alone, features computed
// once (the same result as running the frozen part every step), staged/hybrid learning rates in one
// optimizer, BatchNorm kept in inference mode, and what freezing saves on a ResNet step.
import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/graph/gpu.ts';
import type { Module } from '../../src/graph/module.ts';
import { formatFreezingCost, freezingCost } from '../../src/report/freezing-cost.ts';
import { featureExtraction, hybridFineTune, partialFineTune, runRecipe, stagedFineTune } from '../../src/train/recipes.ts';
import { expectClose, read, testGpu } from '../helpers.ts';
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
  it('a ResNet-18 step with only layer4 + fc trainable needs fewer dispatches (no weight or input gradients below layer4)', async () => {
    const gpu = await testGpu();
    const c = await freezingCost(gpu, { input: [2, 3, 32, 32], width: 4, steps: 1 });
    const [all, top] = c.modes;
    const sum = (m: typeof all, part: string) => Object.entries(m.byKernel).filter(([k]) => k.includes(part)).reduce((a, [, v]) => a + v, 0);
    expect(top.trainable).toBeLessThan(all.trainable);
    expect(sum(top, 'forward')).toBe(sum(all, 'forward'));
    expect(sum(top, 'backward_filter')).toBeLessThan(sum(all, 'backward_filter'));
    expect(sum(top, 'backward_input')).toBeLessThan(sum(all, 'backward_input'));
    expect(top.dispatches).toBeLessThan(all.dispatches);
    expect(formatFreezingCost(c)).toMatch(/\| layer4 \+ fc trainable \| [\d,]+ \| \d+ \|/);
  });
});
