// Callbacks for fit(): hooks at the start and end of training, epochs and batches, with the
// training state. Built in: earlyStopping, checkpoint (safetensors, atomic, best-only option) and
// lrSchedule. Metric names follow Keras: 'loss', 'accuracy', 'val_loss', 'val_accuracy'.
import type { Module } from '../graph/module.ts';
import { Tensor, keep } from '../graph/tensor.ts';
import { GraftError } from '../core/index.ts';
import { copyInto, emptyLike } from '../graph/inplace.ts';
import { readSafetensorsHeader } from '../weights/safetensors.ts';
import { nodeHost } from '../io/host.ts';
import { type CheckpointTarget, architectureReport, modelShapes, saveCheckpoint } from './checkpoint.ts';
import type { Optimizer } from './optim.ts';
import type { Schedule } from './schedule.ts';
import type { EpochLog, History } from '../report/history.ts';

export type { EpochLog, History } from '../report/history.ts';

/** One epoch's results. */
/** What callbacks see and may change (`stop`). */
export interface TrainState {
  model: Module;
  optimizer: Optimizer;
  history: History;
  /** The epoch running now (0-based) and the number fit() was asked for. */
  epoch: number;
  epochs: number;
  stepsPerEpoch: number;
  seed: number;
  /** Set to end training after this epoch. */
  stop: boolean;
  stopReason?: string;
}

export interface BatchLog {
  epoch: number;
  step: number;
  loss: number;
  accuracy: number;
  size: number;
}

export interface Callback {
  onTrainBegin?(s: TrainState): void | Promise<void>;
  onEpochBegin?(epoch: number, s: TrainState): void | Promise<void>;
  onBatchBegin?(step: number, s: TrainState): void | Promise<void>;
  onBatchEnd?(log: BatchLog, s: TrainState): void | Promise<void>;
  onEpochEnd?(log: EpochLog, s: TrainState): void | Promise<void>;
  /** After the last epoch (not after an error). */
  onTrainEnd?(s: TrainState): void | Promise<void>;
  /** Free what the callback holds; called when fit() ends, normally or not. */
  dispose?(): void;
  /** fit() failed (the GPU device was lost, ...): a sentence for the error message, e.g. where the last checkpoint is. */
  describeOnFailure?(s: TrainState): string | undefined;
}

export type Monitor = 'loss' | 'accuracy' | 'val_loss' | 'val_accuracy';
const FIELDS: Record<Monitor, keyof EpochLog> = { loss: 'loss', accuracy: 'accuracy', val_loss: 'valLoss', val_accuracy: 'valAccuracy' };

/** The monitored value of an epoch; an error naming the monitor when the log lacks it. */
export function metricValue(log: EpochLog, monitor: Monitor, who: string): number {
  const field = FIELDS[monitor];
  if (!field) throw new GraftError(`${who}: unknown monitor '${monitor}' (loss, accuracy, val_loss, val_accuracy)`);
  const v = log[field];
  if (typeof v !== 'number') throw new GraftError(`${who}: monitor '${monitor}' has no value at epoch ${log.epoch + 1}${monitor.startsWith('val') ? ' (fit() got no validation data)' : ''}`);
  return v;
}

type Mode = 'min' | 'max' | 'auto';
/** Whether `v` improves on `best` by more than minDelta in the monitor's direction. */
function improver(monitor: Monitor, mode: Mode, minDelta: number): (v: number, best: number) => boolean {
  const max = mode === 'max' || (mode === 'auto' && monitor.endsWith('accuracy'));
  return max ? (v, best) => v > best + minDelta : (v, best) => v < best - minDelta;
}

/** GPU copies of every parameter and buffer, to restore later. */
class WeightSnapshot {
  private copies = new Map<Tensor, Tensor>();
  take(model: Module): void {
    for (const t of model.stateDict().values()) {
      let c = this.copies.get(t);
      if (!c) this.copies.set(t, (c = keep(emptyLike(t))));
      copyInto(c, t);
    }
  }
  restore(): void {
    for (const [t, c] of this.copies) if (!t.isDisposed) copyInto(t, c);
  }
  dispose(): void {
    for (const c of this.copies.values()) c.dispose();
    this.copies.clear();
  }
}

export interface EarlyStoppingOptions {
  monitor?: Monitor;
  /** Epochs without improvement before stopping. */
  patience?: number;
  /** The least change that counts as an improvement. */
  minDelta?: number;
  mode?: Mode;
  /** At the end of training, put back the weights of the best epoch (as Keras 3). */
  restoreBestWeights?: boolean;
}

export interface EarlyStopping extends Callback {
  readonly best: number;
  /** 0-based epoch of the best value, -1 before any. */
  readonly bestEpoch: number;
  /** 0-based epoch at which training was stopped, -1 if it was not. */
  readonly stoppedEpoch: number;
}

/** Stop when `monitor` has not improved for `patience` epochs (Keras' EarlyStopping). */
export function earlyStopping({ monitor = 'val_loss', patience = 0, minDelta = 0, mode = 'auto', restoreBestWeights = false }: EarlyStoppingOptions = {}): EarlyStopping {
  if (!(Number.isInteger(patience) && patience >= 0)) throw new GraftError(`earlyStopping: patience must be an integer >= 0, got ${patience}`);
  const better = improver(monitor, mode, Math.abs(minDelta));
  const snapshot = new WeightSnapshot();
  let wait = 0;
  const cb = {
    best: Number.NaN,
    bestEpoch: -1,
    stoppedEpoch: -1,
    onTrainBegin() {
      wait = 0;
      cb.best = Number.NaN;
      cb.bestEpoch = -1;
      cb.stoppedEpoch = -1;
    },
    onEpochEnd(log: EpochLog, s: TrainState) {
      const v = metricValue(log, monitor, 'earlyStopping');
      if (cb.bestEpoch < 0 || better(v, cb.best)) {
        cb.best = v;
        cb.bestEpoch = log.epoch;
        wait = 0;
        if (restoreBestWeights) snapshot.take(s.model);
        return;
      }
      if (++wait >= patience && !s.stop) {
        cb.stoppedEpoch = log.epoch;
        s.stop = true;
        s.stopReason = `early stopping: ${monitor} did not improve for ${wait} epoch${wait > 1 ? 's' : ''} (best ${cb.best.toPrecision(4)} at epoch ${cb.bestEpoch + 1})`;
      }
    },
    onTrainEnd(s: TrainState) {
      const last = s.history.epochs[s.history.epochs.length - 1];
      if (restoreBestWeights && cb.bestEpoch >= 0 && last && last.epoch !== cb.bestEpoch) {
        snapshot.restore();
        s.stopReason = `${s.stopReason ?? 'finished'}; restored the weights of epoch ${cb.bestEpoch + 1}`;
      }
    },
    dispose() {
      snapshot.dispose();
    },
  };
  return cb;
}

export interface CheckpointOptions {
  /** Write only when `monitor` improves. */
  bestOnly?: boolean;
  monitor?: Monitor;
  mode?: Mode;
  /** Replace an existing file that is not a checkpoint of this model (default false: refuse). */
  overwrite?: boolean;
}

/**
 * Save a checkpoint (weights, optimizer state, epoch, history, RNG state) after each epoch, or
 * after each improvement with bestOnly. A path is written atomically. An existing file that is not
 * a Graft checkpoint of this same architecture is never overwritten unless `overwrite` is set.
 */
export function checkpoint(target: CheckpointTarget, { bestOnly = false, monitor = 'val_loss', mode = 'auto', overwrite = false }: CheckpointOptions = {}): Callback & { readonly saved: number[] } {
  const better = improver(monitor, mode, 0);
  let best = Number.NaN;
  const saved: number[] = [];
  return {
    saved,
    describeOnFailure() {
      const where = typeof target === 'string' ? target : 'the checkpoint target';
      if (!saved.length) return `no checkpoint was written yet to ${where}`;
      const epoch = saved[saved.length - 1] + 1;
      return `the last checkpoint, ${where} after epoch ${epoch}, is intact (checkpoints are written whole or not at all): resume with fit(..., { resumeFrom: ${typeof target === 'string' ? JSON.stringify(target) : 'its bytes'} }) on a new device`;
    },
    async onTrainBegin(s) {
      best = Number.NaN;
      if (typeof target !== 'string' || overwrite) return;
      const io = nodeHost(`checking ${target}`);
      let exists = true;
      try {
        await io.fileSize(target);
      } catch {
        exists = false;
      }
      if (!exists) return;
      let problem: string | null = null;
      try {
        const header = await readSafetensorsHeader(target);
        if (!header.metadata['graft.checkpoint']) problem = 'it is not a Graft training checkpoint';
        else {
          const r = architectureReport(s.model, modelShapes(header.entries));
          const n = r.missing.length + r.unexpected.length + r.mismatched.length;
          if (n) problem = `it is a checkpoint of a different architecture (${[...r.missing.slice(0, 2).map((x) => `missing ${x}`), ...r.unexpected.slice(0, 2).map((x) => `unexpected ${x}`), ...r.mismatched.slice(0, 2)].join('; ')}${n > 2 ? '; ...' : ''})`;
        }
      } catch (e) {
        problem = `it is not a readable safetensors file (${(e as Error).message.replace(/^graft: /, '')})`;
      }
      if (problem) throw new GraftError(`checkpoint: refusing to overwrite ${target}: ${problem}. Choose another path, or pass { overwrite: true }`);
    },
    async onEpochEnd(log, s) {
      if (bestOnly) {
        const v = metricValue(log, monitor, 'checkpoint');
        if (!Number.isNaN(best) && !better(v, best)) return;
        best = v;
      }
      await saveCheckpoint(target, s.model, s.optimizer, { epoch: log.epoch + 1, history: s.history.epochs, seed: s.seed });
      saved.push(log.epoch);
    },
  };
}

export interface LrScheduleOptions {
  /** Update the factor before every batch (at fractional epochs) instead of once per epoch. */
  perStep?: boolean;
}

/** Set the optimizer's lrFactor from a schedule of the epoch (schedule.ts). */
export function lrSchedule(schedule: Schedule, { perStep = false }: LrScheduleOptions = {}): Callback {
  const set = (s: TrainState, epoch: number) => {
    const f = schedule(epoch);
    if (!(f >= 0 && Number.isFinite(f))) throw new GraftError(`lrSchedule: the schedule gave factor ${f} at epoch ${epoch}`);
    s.optimizer.lrFactor = f;
  };
  return {
    onEpochBegin: (epoch, s) => set(s, epoch),
    onBatchBegin: perStep ? (step, s) => set(s, s.epoch + step / s.stepsPerEpoch) : undefined,
  };
}
