// The training loop. Each step runs inside scope() (upload, augmentation, forward, loss, backward,
// update), so nothing outlives it but the parameters, their optimizer state and the numbers read
// back; the loss is read before the update, and a NaN or infinite loss stops training with an
// error naming the epoch and step while the weights are still those of the last good step.
// Validation runs in eval mode under noGrad. Randomness (shuffling, augmentation) is a function of
// (seed, epoch, step) and Dropout's state is saved by checkpoints, so a resumed run repeats an
// uninterrupted one.
import { backward } from '../graph/autograd.ts';
import type { Module } from '../graph/module.ts';
import { type Tensor, noGrad, scope, tensor } from '../graph/tensor.ts';
import { GraftError, shapeStr } from '../core/index.ts';
import type { Runtime } from '../graph/tensor.ts';
import type { Augmentation, GpuPreprocessing } from '../data/augment.ts';
import { preprocessOnGpu } from '../data/augment.ts';
import type { Callback, EpochLog, History, TrainState } from './callbacks.ts';
import { type TrainingCheckpoint, loadCheckpoint } from './checkpoint.ts';
import { DataLoader, type Dataset, type HostBatch, mixSeed } from '../data/data.ts';
import { type Loss, crossEntropy } from './losses.ts';
import { accuracy, argmaxRows, confusionMatrix, perClassAccuracy } from '../report/metrics.ts';
import type { Optimizer } from './optim.ts';
import { progressBar } from '../report/progress.ts';

export interface FitOptions {
  epochs: number;
  optimizer: Optimizer;
  /** Default 32 (ignored when the training data is a DataLoader). */
  batchSize?: number;
  /** Default crossEntropy(). */
  loss?: Loss;
  validation?: Dataset;
  validationBatchSize?: number;
  callbacks?: Callback[];
  /** Seeds shuffling and augmentation (default 0; a resumed run takes the checkpoint's). */
  seed?: number;
  /** Shuffle the training data each epoch (default true). */
  shuffle?: boolean;
  dropLast?: boolean;
  /** Random augmentation of training batches, on the GPU. */
  augment?: Augmentation;
  /** Applied to every batch (training and validation) after augmentation, e.g. fromModelPreprocessing(net.preprocessing). */
  preprocess?: GpuPreprocessing;
  /** Called after every training step. */
  onBatch?: (log: { epoch: number; step: number; loss: number; accuracy: number }) => void;
  /** Print progress (a bar in a terminal); default false. */
  verbose?: boolean;
  /** Continue from a checkpoint (path, bytes, or one already loaded with loadCheckpoint). */
  resumeFrom?: string | Uint8Array | TrainingCheckpoint;
}

/** Raised when training cannot go on (a NaN loss): carries where, and the history so far. */
export class TrainingError extends GraftError {
  constructor(message: string, readonly epoch: number, readonly step: number, readonly history: History) {
    super(message);
    this.name = 'TrainingError';
  }
}

function runtimeOf(model: Module): Runtime {
  const t = model.parameters()[0] ?? model.namedBuffers()[0]?.[1];
  if (!t) throw new GraftError('fit: the model has no parameters');
  return t.rt;
}

/** Upload a host batch and run the batch pipeline (augmentation, preprocessing) on it. */
function batchInput(rt: Runtime, b: HostBatch, augment: Augmentation | undefined, augmentSeed: number, preprocess: GpuPreprocessing | undefined): { x: Tensor; y: Tensor } {
  let x = tensor(rt, b.x, b.shape);
  if (augment) x = augment.apply(x, augmentSeed);
  if (preprocess) x = preprocessOnGpu(x, preprocess);
  return { x, y: tensor(rt, b.y, [b.y.length], 'i32') };
}

function checkLogits(logits: Tensor, rows: number, numClasses: number, lossIsDefault: boolean, where: string): void {
  if (logits.shape.length !== 2 || logits.shape[0] !== rows) throw new GraftError(`${where}: the model gave ${shapeStr(logits.shape)} for a batch of ${rows}; expected [${rows}, classes]`);
  if (lossIsDefault && logits.shape[1] !== numClasses) throw new GraftError(`${where}: the model has ${logits.shape[1]} outputs but the data has ${numClasses} classes (give it a head with ${numClasses} outputs)`);
}

function countCorrect(logits: Float32Array | Int32Array, labels: Int32Array, classes: number): number {
  const pred = argmaxRows(logits, classes);
  let n = 0;
  for (let i = 0; i < labels.length; i++) if (pred[i] === labels[i]) n++;
  return n;
}

export interface EvaluateOptions {
  batchSize?: number;
  loss?: Loss;
  preprocess?: GpuPreprocessing;
}

export interface Evaluation {
  loss: number;
  accuracy: number;
  predictions: Int32Array;
  labels: Int32Array;
  confusion: number[][];
  perClassAccuracy: (number | null)[];
}

/** Loss, accuracy, predictions and confusion matrix of the model on a dataset (eval mode, noGrad). */
export async function evaluate(model: Module, data: Dataset, o: EvaluateOptions = {}): Promise<Evaluation> {
  const rt = runtimeOf(model);
  const lossFn = o.loss ?? crossEntropy();
  const wasTraining = model.training;
  model.eval();
  const loader = new DataLoader(data, { batchSize: o.batchSize ?? 64 });
  const predictions = new Int32Array(data.length);
  const labels = new Int32Array(data.length);
  let lossSum = 0;
  let at = 0;
  try {
    for await (const b of loader.batches(0)) {
      const r = await noGrad(() =>
        scope(async () => {
          const { x, y } = batchInput(rt, b, undefined, 0, o.preprocess);
          const logits = model.forward(x);
          checkLogits(logits, b.y.length, data.numClasses, !o.loss, `evaluate(${data.name})`);
          const loss = lossFn(logits, y, model);
          return { loss: (await loss.data())[0], logits: await logits.data(), classes: logits.shape[1] };
        }),
      );
      lossSum += r.loss * b.y.length;
      predictions.set(argmaxRows(r.logits, r.classes), at);
      labels.set(b.y, at);
      at += b.y.length;
    }
  } finally {
    model.train(wasTraining);
  }
  // A model with more outputs than the data has classes (a custom loss) may predict beyond them.
  let classes = data.numClasses;
  for (const p of predictions) if (p >= classes) classes = p + 1;
  const confusion = confusionMatrix(predictions, labels, classes);
  return { loss: lossSum / data.length, accuracy: accuracy(predictions, labels), predictions, labels, confusion, perClassAccuracy: perClassAccuracy(confusion).slice(0, data.numClasses) };
}

/**
 * Train `model` on `train` for `epochs` epochs (counting those of a checkpoint resumed from) and
 * return the per-epoch history. See FitOptions.
 */
export async function fit(model: Module, train: Dataset | DataLoader, o: FitOptions): Promise<History> {
  if (!(Number.isInteger(o.epochs) && o.epochs >= 1)) throw new GraftError(`fit: epochs must be an integer >= 1, got ${o.epochs}`);
  if (!o.optimizer) throw new GraftError('fit: an optimizer is required, e.g. { optimizer: adam({ lr: 1e-3 }) }');
  const rt = runtimeOf(model);
  let resumed: TrainingCheckpoint | null = null;
  if (o.resumeFrom !== undefined) resumed = typeof o.resumeFrom === 'string' || o.resumeFrom instanceof Uint8Array ? await loadCheckpoint(o.resumeFrom, model, o.optimizer) : o.resumeFrom;
  const seed = o.seed ?? resumed?.seed ?? 0;
  const loader = train instanceof DataLoader ? train : new DataLoader(train, { batchSize: o.batchSize ?? 32, shuffle: o.shuffle ?? true, seed, dropLast: o.dropLast });
  const data = loader.dataset;
  const lossFn = o.loss ?? crossEntropy();
  const callbacks = [...(o.callbacks ?? []), ...(o.verbose ? [progressBar()] : [])];
  const history: History = { epochs: [...(resumed?.history ?? [])] };
  const state: TrainState = { model, optimizer: o.optimizer, history, epoch: resumed?.epoch ?? 0, epochs: o.epochs, stepsPerEpoch: loader.length, seed, stop: false };
  const each = async (f: (c: Callback) => void | Promise<void>) => {
    for (const c of callbacks) await f(c);
  };
  try {
    await each((c) => c.onTrainBegin?.(state));
    for (let epoch = state.epoch; epoch < o.epochs && !state.stop; epoch++) {
      state.epoch = epoch;
      await each((c) => c.onEpochBegin?.(epoch, state));
      const lr = o.optimizer.lr;
      const started = performance.now();
      model.train();
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      for await (const b of loader.batches(epoch)) {
        await each((c) => c.onBatchBegin?.(b.step, state));
        const r = await scope(async () => {
          const { x, y } = batchInput(rt, b, o.augment, mixSeed(seed, epoch, b.step, 0xa06), o.preprocess);
          const logits = model.forward(x);
          checkLogits(logits, b.y.length, data.numClasses, !o.loss, 'fit');
          const loss = lossFn(logits, y, model);
          backward(loss);
          const value = (await loss.data())[0];
          if (!Number.isFinite(value)) {
            o.optimizer.zeroGrad(model);
            throw new TrainingError(
              `fit: the loss is ${value} at epoch ${epoch + 1}/${o.epochs}, step ${b.step + 1}/${loader.length}; training stopped before this step's update ` +
                `(the parameters stay those of the step before; checkpoints already written are kept). Lower the learning rate, or check the data for NaN values.`,
              epoch,
              b.step,
              history,
            );
          }
          const hits = countCorrect(await logits.data(), b.y, logits.shape[1]);
          o.optimizer.step(model);
          o.optimizer.zeroGrad(model);
          return { loss: value, hits };
        });
        const n = b.y.length;
        lossSum += r.loss * n;
        correct += r.hits;
        seen += n;
        const batchLog = { epoch, step: b.step, loss: r.loss, accuracy: r.hits / n, size: n };
        o.onBatch?.(batchLog);
        await each((c) => c.onBatchEnd?.(batchLog, state));
      }
      const log: EpochLog = { epoch, loss: lossSum / seen, accuracy: correct / seen, lr, seconds: 0 };
      if (o.validation) {
        const v = await evaluate(model, o.validation, { batchSize: o.validationBatchSize ?? o.batchSize ?? 32, loss: o.loss, preprocess: o.preprocess });
        log.valLoss = v.loss;
        log.valAccuracy = v.accuracy;
      }
      log.seconds = (performance.now() - started) / 1000;
      history.epochs.push(log);
      await each((c) => c.onEpochEnd?.(log, state));
    }
    await each((c) => c.onTrainEnd?.(state));
    if (state.stopReason) history.stopReason = state.stopReason;
    return history;
  } catch (e) {
    // A lost device ends training for good: say where the work done so far is. (Its `lost` promise
    // may settle just after the first failing call.)
    if (!(e instanceof TrainingError) && rt.lostReason === null) {
      await Promise.race([rt.device.lost.then(() => undefined, () => undefined), new Promise((r) => setTimeout(r, 100))]);
    }
    if (rt.lostReason !== null || /GPU device was lost/.test(String((e as Error)?.message))) {
      const notes = callbacks.map((c) => c.describeOnFailure?.(state)).filter((n): n is string => !!n);
      throw new GraftError(`fit: the GPU device was lost during epoch ${state.epoch + 1}/${o.epochs} (${rt.lostReason ?? (e as Error).message}); ${notes.length ? notes.join('; ') : 'no checkpoint callback was given, so the weights trained so far are gone'}`);
    }
    throw e;
  } finally {
    for (const c of callbacks) c.dispose?.();
  }
}
