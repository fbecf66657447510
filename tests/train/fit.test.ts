// The training loop on a small conv net: it learns, leaks nothing over epochs, stops on a NaN loss
// naming epoch and step, resumes from a checkpoint to the same result as an uninterrupted run;
// callbacks (early stopping, LR schedule, checkpoint best-only), evaluation and progress output.
import { describe, expect, it } from 'vitest';
import * as ops from '../../src/graph/ops.ts';
import { scope } from '../../src/graph/tensor.ts';
import { type EpochLog, type TrainState, checkpoint, earlyStopping, lrSchedule } from '../../src/train/callbacks.ts';
import { evaluate, fit, TrainingError } from '../../src/train/fit.ts';
import { type Loss, crossEntropy } from '../../src/train/losses.ts';
import { adam, sgd } from '../../src/train/optim.ts';
import { formatHistory, progressBar } from '../../src/report/progress.ts';
import { cosine, stepDecay } from '../../src/train/schedule.ts';
import { expectClose, read, testGpu } from '../helpers.ts';
import { ToyNet, quadrants, resumeOptions, resumeTrainData } from './toy.ts';

describe('fit', () => {
  it('learns the toy problem; history has train/val loss and accuracy, lr and time; live buffers stay flat', async () => {
    const gpu = await testGpu();
    const net = new ToyNet(gpu, 1);
    const live: number[] = [];
    const history = await fit(net, quadrants(64, 1), {
      epochs: 4,
      batchSize: 16,
      optimizer: adam({ lr: 0.02 }),
      validation: quadrants(32, 2),
      seed: 3,
      callbacks: [{ onEpochEnd: () => void live.push(gpu.stats().liveBuffers) }],
    });
    expect(history.epochs.map((e) => e.epoch)).toEqual([0, 1, 2, 3]);
    const [first, last] = [history.epochs[0], history.epochs[3]];
    expect(last.loss).toBeLessThan(first.loss);
    expect(last.valAccuracy!).toBeGreaterThan(0.8);
    expect(last.lr).toBe(0.02);
    expect(last.seconds).toBeGreaterThan(0);
    // Optimizer state appears during epoch 1; from then on nothing accumulates.
    expect(live[1]).toBe(live[0]);
    expect(live[3]).toBe(live[0]);
    net.dispose();
  });

  it('a NaN loss stops training with an error naming epoch and step; the parameters stay those of the step before', async () => {
    const gpu = await testGpu();
    const net = new ToyNet(gpu, 1);
    let calls = 0;
    let before: Float64Array | null = null;
    const weight = net.classifier.layers[2].parameters()[0];
    // The loss turns NaN at the 3rd step of the 2nd epoch (4 steps per epoch).
    const loss: Loss = (z, y, m) => (++calls === 7 ? ops.mulScalar(crossEntropy()(z, y, m), Number.NaN) : crossEntropy()(z, y, m));
    const run = fit(net, quadrants(64, 1), {
      epochs: 3,
      batchSize: 16,
      optimizer: sgd({ lr: 0.1 }),
      loss,
      callbacks: [{ onBatchEnd: async () => void (calls === 6 && (before = await read(weight))) }],
    });
    const err = await run.catch((e) => e);
    expect(err instanceof TrainingError).toBe(true);
    expect(err.message).toMatch(/the loss is NaN at epoch 2\/3, step 3\/4/);
    expect(err.history.epochs).toHaveLength(1);
    expect([err.epoch, err.step]).toEqual([1, 2]);
    expectClose(await read(weight), before!, { atol: 0, rtol: 0 }, 'weights after the NaN step');
    net.dispose();
  });

  it('the data must match the model: a wrong class count is named; bad epochs', async () => {
    const gpu = await testGpu();
    const net = new ToyNet(gpu, 1, 3);
    await expect(fit(net, quadrants(8, 1), { epochs: 1, batchSize: 4, optimizer: sgd({ lr: 0.1 }) })).rejects.toThrow(/the model has 3 outputs but the data has 4 classes/);
    await expect(fit(net, quadrants(8, 1), { epochs: 0, optimizer: sgd({ lr: 0.1 }) })).rejects.toThrow(/epochs must be an integer >= 1, got 0/);
    net.dispose();
  });
});

describe('freezing during fit', () => {
  it('one optimizer follows freeze / unfreeze: staged fine-tuning with a lower backbone rate', async () => {
    const gpu = await testGpu();
    const net = new ToyNet(gpu, 1);
    const convW = net.features.layers[0].parameters()[0];
    const bnMean = net.features.layers[1].namedBuffers()[0][1];
    const headW = net.classifier.layers[2].parameters()[0];
    const opt = adam({ lr: 0.01, groups: [{ match: 'features', lrScale: 0.1 }] });
    const [conv0, mean0, head0] = [await read(convW), await read(bnMean), await read(headW)];
    net.freeze('features');
    await fit(net, quadrants(16, 1), { epochs: 1, batchSize: 8, optimizer: opt });
    // Frozen: the conv weight and the (inference-mode) BatchNorm statistics did not move; the head did.
    expect(await read(convW)).toEqual(conv0);
    expect(await read(bnMean)).toEqual(mean0);
    expect(await read(headW)).not.toEqual(head0);
    expect(opt.stateSize).toBe(2);
    net.unfreeze('features');
    const conv1 = await read(convW);
    await fit(net, quadrants(16, 1), { epochs: 1, batchSize: 8, optimizer: opt });
    expect(opt.stateSize).toBe(6);
    // Adam's first step moves each weight by about lr: 0.001 for the backbone group.
    const moved = (await read(convW)).map((v, i) => Math.abs(v - conv1[i]));
    expect(Math.max(...moved)).toBeLessThan(0.0025);
    expect(Math.max(...moved)).toBeGreaterThan(0.0005);
    opt.dispose();
    net.dispose();
  });
});

describe('resuming', () => {
  it('2 epochs + checkpoint + a fresh model and optimizer + 2 more = 4 uninterrupted epochs (weights, BN statistics, history)', async () => {
    const gpu = await testGpu();
    const train = resumeTrainData();
    const options = () => ({ ...resumeOptions(), seed: 11 });
    const whole = new ToyNet(gpu, 1);
    const o1 = options();
    const h1 = await fit(whole, train, { ...o1, epochs: 4 });

    const first = new ToyNet(gpu, 1);
    let saved: Uint8Array | null = null;
    const o0 = options();
    await fit(first, train, { ...o0, epochs: 2, callbacks: [...o0.callbacks, checkpoint((b) => void (saved = b))] });
    o0.optimizer.dispose();
    first.dispose();
    // Another initialisation and another Dropout seed: everything must come from the checkpoint.
    const resumed = new ToyNet(gpu, 7);
    const o2 = options();
    const h2 = await fit(resumed, train, { ...o2, seed: undefined, epochs: 4, resumeFrom: saved! });

    expect(h2.epochs.map((e) => e.epoch)).toEqual([0, 1, 2, 3]);
    for (const k of ['loss', 'accuracy', 'valLoss', 'valAccuracy', 'lr'] as const) {
      expectClose(h2.epochs.map((e) => e[k]!), h1.epochs.map((e) => e[k]!), { atol: 1e-6, rtol: 1e-5 }, `history ${k}`);
    }
    const a = whole.stateDict();
    for (const [name, t] of resumed.stateDict()) expectClose(await read(t), await read(a.get(name)!), { atol: 1e-6, rtol: 1e-5 }, name);
    o1.optimizer.dispose();
    o2.optimizer.dispose();
    whole.dispose();
    resumed.dispose();
  });
});

describe('callbacks', () => {
  it('earlyStopping stops on a plateau (lr 0) after `patience` epochs without improvement', async () => {
    const gpu = await testGpu();
    const net = new ToyNet(gpu, 1);
    net.freeze('features'); // a frozen BatchNorm keeps its running statistics: nothing changes at all
    const stop = earlyStopping({ monitor: 'val_loss', patience: 2 });
    const h = await fit(net, quadrants(16, 1), { epochs: 10, batchSize: 8, optimizer: sgd({ lr: 0 }), validation: quadrants(8, 2), callbacks: [stop] });
    expect(h.epochs).toHaveLength(3);
    expect(stop.bestEpoch).toBe(0);
    expect(stop.stoppedEpoch).toBe(2);
    expect(h.stopReason).toMatch(/early stopping: val_loss did not improve for 2 epochs \(best .* at epoch 1\)/);
    net.dispose();
  });

  it('earlyStopping restores the best weights at the end (restoreBestWeights)', async () => {
    const gpu = await testGpu();
    const net = new ToyNet(gpu, 1);
    const w = net.classifier.layers[2].parameters()[0];
    const stop = earlyStopping({ monitor: 'val_loss', patience: 2, restoreBestWeights: true });
    const state = { model: net, optimizer: sgd({ lr: 0 }), history: { epochs: [] as EpochLog[] }, epoch: 0, epochs: 10, stepsPerEpoch: 1, seed: 0, stop: false } as TrainState;
    const valLosses = [1.0, 0.5, 0.7, 0.8];
    const snapshots: Float64Array[] = [];
    stop.onTrainBegin!(state);
    for (const [epoch, v] of valLosses.entries()) {
      gpu.rt.write(w.buffer, new Float32Array(w.size).fill(epoch + 1)); // "training" changes the weights
      snapshots.push(await read(w));
      const log: EpochLog = { epoch, loss: 0, accuracy: 0, valLoss: v, lr: 0, seconds: 0 };
      state.history.epochs.push(log);
      await stop.onEpochEnd!(log, state);
      if (state.stop) break;
    }
    expect(stop.stoppedEpoch).toBe(3);
    await stop.onTrainEnd!(state);
    expect(await read(w)).toEqual(snapshots[1]);
    stop.dispose!();
    net.dispose();
  });

  it('lrSchedule sets the factor per epoch, or per step at fractional epochs', async () => {
    const gpu = await testGpu();
    const net = new ToyNet(gpu, 1);
    const opt = sgd({ lr: 0.1 });
    const seen: number[] = [];
    const h = await fit(net, quadrants(16, 1), { epochs: 3, batchSize: 8, optimizer: opt, callbacks: [lrSchedule(stepDecay(1, 0.5))] });
    expect(h.epochs.map((e) => e.lr)).toEqual([0.1, 0.05, 0.025]);
    await fit(net, quadrants(16, 1), { epochs: 2, batchSize: 8, optimizer: opt, callbacks: [lrSchedule(cosine(2), { perStep: true })], onBatch: () => void seen.push(opt.lr) });
    // Steps at epochs 0, 0.5, 1, 1.5 of a 2-epoch cosine.
    expectClose(seen, [0, 0.5, 1, 1.5].map((e) => 0.1 * cosine(2)(e)), { atol: 1e-12, rtol: 0 }, 'per-step lr');
    expect(seen[1]).toBeCloseTo(0.1 * (1 + Math.cos(Math.PI / 4)) / 2, 12);
    net.dispose();
  });

  it('checkpoint with bestOnly saves only improving epochs', async () => {
    const gpu = await testGpu();
    const net = new ToyNet(gpu, 1);
    const cp = checkpoint(() => {}, { bestOnly: true, monitor: 'val_accuracy' });
    const h = await fit(net, quadrants(32, 1), { epochs: 4, batchSize: 16, optimizer: adam({ lr: 0.03 }), validation: quadrants(16, 2), callbacks: [cp] });
    let best = -1;
    const expected: number[] = [];
    for (const e of h.epochs) if (e.valAccuracy! > best) (best = e.valAccuracy!), expected.push(e.epoch);
    expect(cp.saved).toEqual(expected);
    net.dispose();
  });
});

describe('evaluate and progress', () => {
  it('evaluate: eval mode (Dropout off, BN running stats), deterministic; confusion matrix rows sum to class counts', async () => {
    const gpu = await testGpu();
    const net = new ToyNet(gpu, 1);
    const data = quadrants(20, 3);
    const a = await evaluate(net, data, { batchSize: 8 });
    const b = await evaluate(net, data, { batchSize: 6 });
    expect(a.loss).toBeCloseTo(b.loss, 5);
    expect([...a.predictions]).toEqual([...b.predictions]);
    expect(a.confusion.map((r) => r.reduce((s, v) => s + v, 0))).toEqual([5, 5, 5, 5]);
    // Predictions are the argmax of the model's eval-mode logits.
    const logits = await scope(async () => {
      net.eval();
      const out = await net.forward(gpu.tensor(await data.read([0, 1, 2]), [3, 1, 8, 8])).data();
      net.train();
      return out;
    });
    for (let i = 0; i < 3; i++) {
      const row = [...logits.slice(i * 4, i * 4 + 4)];
      expect(a.predictions[i]).toBe(row.indexOf(Math.max(...row)));
    }
    expect(net.training).toBe(true);
    net.dispose();
  });

  it('progress: a bar redrawn in a TTY, only epoch lines elsewhere; formatHistory makes a table', async () => {
    const gpu = await testGpu();
    const net = new ToyNet(gpu, 1);
    const tty: string[] = [];
    const pipe: string[] = [];
    const h = await fit(net, quadrants(16, 1), {
      epochs: 2,
      batchSize: 8,
      optimizer: sgd({ lr: 0.1 }),
      validation: quadrants(8, 2),
      callbacks: [progressBar({ stream: { write: (s: string) => tty.push(s), isTTY: true, columns: 100 }, intervalMs: 0 }), progressBar({ stream: { write: (s: string) => pipe.push(s) } })],
    });
    expect(tty.some((s) => /^\repoch 1\/2 \[=+>? *\] 2\/2 {2}loss \d\.\d{4}/.test(s))).toBe(true);
    expect(pipe).toHaveLength(2);
    expect(pipe[1]).toMatch(/^epoch 2\/2 {2}loss \d\.\d{4} {2}acc \d\.\d{3} {2}val_loss \d\.\d{4} {2}val_acc \d\.\d{3} {2}lr 1\.0e-1 {2}\d+\.\ds\n$/);
    const table = formatHistory(h).split('\n');
    expect(table[0]).toMatch(/^epoch +loss +acc +val_loss +val_acc +lr +time$/);
    expect(table).toHaveLength(3);
    net.dispose();
  });
});
