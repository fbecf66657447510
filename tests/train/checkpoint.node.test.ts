// Checkpoint files: a run resumed in a NEW PROCESS from a checkpoint file ends exactly where an
// uninterrupted run does; files are written atomically; a NaN loss keeps the last good
// checkpoint; another architecture's checkpoint is refused on load and never overwritten.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as ops from '../../src/graph/ops.ts';
import { readSafetensors, saveSafetensors } from '../../src/weights/safetensors.ts';
import { checkpoint } from '../../src/train/callbacks.ts';
import { loadCheckpoint } from '../../src/train/checkpoint.ts';
import { fit } from '../../src/train/fit.ts';
import { type Loss, crossEntropy } from '../../src/train/losses.ts';
import { adam, sgd } from '../../src/train/optim.ts';
import { expectClose, read, testGpu } from '../helpers.ts';
import { ToyNet, quadrants, resumeOptions, resumeTrainData } from './toy.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-ckpt-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => path.join(dir, name);

describe('resuming in a new process', () => {
  it('4 epochs = 2 epochs, checkpoint file, a new process loads it and trains 2 more (weights, BN statistics, history)', async () => {
    const gpu = await testGpu();
    const whole = new ToyNet(gpu, 1);
    const o1 = resumeOptions();
    const h1 = await fit(whole, resumeTrainData(), { ...o1, epochs: 4 });

    const half = new ToyNet(gpu, 1);
    const o0 = resumeOptions();
    await fit(half, resumeTrainData(), { ...o0, epochs: 2, callbacks: [...o0.callbacks, checkpoint(file('half.safetensors'))] });
    const child = spawnSync(process.execPath, ['--import', './scripts/register.js', 'tests/train/resume-child.ts', file('half.safetensors'), '4', file('resumed.safetensors')], { encoding: 'utf8', timeout: 120_000 });
    expect(child.stderr.replace(/Warning: Vulkan[^]*?PhysicalDeviceVk.cpp:\d+\)\n?/g, '').trim()).toBe('');
    expect(child.status).toBe(0);

    const resumed = await readSafetensors(file('resumed.safetensors'));
    const h2 = JSON.parse(resumed.metadata['graft.checkpoint']).history as typeof h1.epochs;
    expect(h2.map((e) => e.epoch)).toEqual([0, 1, 2, 3]);
    for (const k of ['loss', 'accuracy', 'valLoss', 'valAccuracy', 'lr'] as const) {
      expectClose(h2.map((e) => e[k]!), h1.epochs.map((e) => e[k]!), { atol: 1e-6, rtol: 1e-5 }, `history ${k}`);
    }
    for (const [name, t] of whole.stateDict()) expectClose(resumed.tensors.get(name)!.data, await read(t), { atol: 1e-6, rtol: 1e-5 }, name);
    // The directory holds only the files written: no temp files left behind.
    expect(fs.readdirSync(dir).sort()).toEqual(['half.safetensors', 'resumed.safetensors']);
    for (const o of [o0, o1]) o.optimizer.dispose();
    whole.dispose();
    half.dispose();
  });
});

describe('checkpoint files', () => {
  it('a NaN loss at epoch 3 leaves the checkpoint of epoch 2 in place', async () => {
    const gpu = await testGpu();
    const net = new ToyNet(gpu, 1);
    let calls = 0;
    const loss: Loss = (z, y, m) => (++calls === 9 ? ops.mulScalar(crossEntropy()(z, y, m), Number.NaN) : crossEntropy()(z, y, m));
    let afterEpoch2: Float64Array | null = null;
    const run = fit(net, quadrants(32, 1), {
      epochs: 4,
      batchSize: 8,
      optimizer: sgd({ lr: 0.1, momentum: 0.5 }),
      loss,
      callbacks: [checkpoint(file('nan.safetensors')), { onEpochEnd: async (log) => void (log.epoch === 1 && (afterEpoch2 = await read(net.classifier.layers[2].parameters()[0]))) }],
    });
    await expect(run).rejects.toThrow(/the loss is NaN at epoch 3\/4, step 1\/4/);
    const fresh = new ToyNet(gpu, 5);
    const ck = await loadCheckpoint(file('nan.safetensors'), fresh, sgd({ lr: 0.1, momentum: 0.5 }));
    expect(ck.epoch).toBe(2);
    expect(ck.history).toHaveLength(2);
    expect(await read(fresh.classifier.layers[2].parameters()[0])).toEqual(afterEpoch2!);
    net.dispose();
    fresh.dispose();
  });

  it('another architecture: loading is refused and changes nothing; the file is never overwritten', async () => {
    const gpu = await testGpu();
    const four = new ToyNet(gpu, 1, 4);
    await fit(four, quadrants(16, 1), { epochs: 1, batchSize: 8, optimizer: sgd({ lr: 0.1 }), callbacks: [checkpoint(file('four.safetensors'))] });
    const bytes = fs.readFileSync(file('four.safetensors'));

    const three = new ToyNet(gpu, 2, 3);
    const before = await Promise.all(three.parameters().map(read));
    await expect(loadCheckpoint(file('four.safetensors'), three, sgd({ lr: 0.1 }))).rejects.toThrow(/is for a different architecture; nothing was loaded.\n.*classifier.2.weight: expected \[3, 64\], got \[4, 64\]/);
    const after = await Promise.all(three.parameters().map(read));
    after.forEach((a, i) => expect(a).toEqual(before[i]));

    // Training the 3-class model with a checkpoint at that path refuses before the first epoch.
    const three3 = quadrants(12, 1, 3);
    await expect(fit(three, three3, { epochs: 1, batchSize: 4, optimizer: sgd({ lr: 0.1 }), callbacks: [checkpoint(file('four.safetensors'))] })).rejects.toThrow(
      /checkpoint: refusing to overwrite .*four.safetensors: it is a checkpoint of a different architecture \(classifier.2.weight: expected \[3, 64\], got \[4, 64\]/,
    );
    expect(fs.readFileSync(file('four.safetensors')).equals(bytes)).toBe(true);

    // Plain weights (not a training checkpoint) and a file that is not safetensors are kept too.
    await saveSafetensors(three, file('weights.safetensors'));
    const weights = fs.readFileSync(file('weights.safetensors'));
    await expect(fit(three, three3, { epochs: 1, batchSize: 4, optimizer: sgd({ lr: 0.1 }), callbacks: [checkpoint(file('weights.safetensors'))] })).rejects.toThrow(/it is not a Graft training checkpoint/);
    expect(fs.readFileSync(file('weights.safetensors')).equals(weights)).toBe(true);
    fs.writeFileSync(file('notes.txt'), 'hello');
    await expect(fit(three, three3, { epochs: 1, batchSize: 4, optimizer: sgd({ lr: 0.1 }), callbacks: [checkpoint(file('notes.txt'))] })).rejects.toThrow(/it is not a readable safetensors file/);
    expect(fs.readFileSync(file('notes.txt'), 'utf8')).toBe('hello');
    // With overwrite: true it is replaced.
    await fit(three, three3, { epochs: 1, batchSize: 4, optimizer: sgd({ lr: 0.1 }), callbacks: [checkpoint(file('notes.txt'), { overwrite: true })] });
    expect((await loadCheckpoint(file('notes.txt'), three)).epoch).toBe(1);
    four.dispose();
    three.dispose();
  });

  it('an optimizer of another kind on resume is refused before anything is loaded', async () => {
    const gpu = await testGpu();
    const net = new ToyNet(gpu, 1);
    await fit(net, quadrants(16, 1), { epochs: 1, batchSize: 8, optimizer: sgd({ lr: 0.1, momentum: 0.9 }), callbacks: [checkpoint(file('sgd.safetensors'))] });
    const other = new ToyNet(gpu, 3);
    const before = await read(other.features.layers[0].parameters()[0]);
    await expect(fit(other, quadrants(16, 1), { epochs: 2, optimizer: adam({ lr: 0.1 }), resumeFrom: file('sgd.safetensors') })).rejects.toThrow(/optimizer state is for SGD, this optimizer is Adam; nothing was loaded/);
    expect(await read(other.features.layers[0].parameters()[0])).toEqual(before);
    await expect(loadCheckpoint(file('weights.safetensors'), other)).rejects.toThrow(/is not a Graft training checkpoint/);
    net.dispose();
    other.dispose();
  });
});
