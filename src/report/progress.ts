// Progress output for fit(): in a terminal (Node TTY) a bar redrawn in place during each epoch and a
// summary line per epoch; elsewhere (a pipe, a CI log, the browser console) only the summary lines.
import type { BatchLog, Callback, EpochLog, History, TrainState } from '../train/callbacks.ts';

/** Where progress goes: process.stdout in Node, or anything with write(). */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

function defaultStream(): ProgressStream | null {
  const p = (globalThis as { process?: { stdout?: ProgressStream } }).process;
  return p?.stdout ?? null;
}

const fixed = (v: number | undefined, digits: number) => (v === undefined ? '' : Number.isFinite(v) ? v.toFixed(digits) : String(v));

/** One epoch as a line: `epoch 3/10  loss 0.4123  acc 0.861  val_loss 0.5012  val_acc 0.820  lr 1.0e-3  12.4s`. */
export function formatEpoch(log: EpochLog, epochs: number): string {
  const parts = [`epoch ${String(log.epoch + 1).padStart(String(epochs).length)}/${epochs}`, `loss ${fixed(log.loss, 4)}`, `acc ${fixed(log.accuracy, 3)}`];
  if (log.valLoss !== undefined) parts.push(`val_loss ${fixed(log.valLoss, 4)}`);
  if (log.valAccuracy !== undefined) parts.push(`val_acc ${fixed(log.valAccuracy, 3)}`);
  parts.push(`lr ${log.lr.toExponential(1)}`, `${log.seconds.toFixed(1)}s`);
  return parts.join('  ');
}

/** A history as a table: one row per epoch. */
export function formatHistory(history: History): string {
  const val = history.epochs.some((e) => e.valLoss !== undefined);
  const head = ['epoch', 'loss', 'acc', ...(val ? ['val_loss', 'val_acc'] : []), 'lr', 'time'];
  const rows = history.epochs.map((e) => [String(e.epoch + 1), fixed(e.loss, 4), fixed(e.accuracy, 3), ...(val ? [fixed(e.valLoss, 4), fixed(e.valAccuracy, 3)] : []), e.lr.toExponential(1), `${e.seconds.toFixed(1)}s`]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((v, i) => v.padStart(widths[i])).join('  ');
  const out = [line(head), ...rows.map(line)];
  if (history.stopReason) out.push(history.stopReason);
  return out.join('\n');
}

/** The one bar style of every long step: `label [=====>     ] detail`. */
export function barLine(label: string, fraction: number, detail: string, columns = 80): string {
  const width = Math.max(10, Math.min(30, columns - 60));
  const done = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  const bar = '='.repeat(Math.max(0, done - 1)) + (done > 0 ? '>' : '') + ' '.repeat(width - done);
  return `${label} [${bar}] ${detail}`;
}

/** A long step's progress (download, feature caching, zero-shot, compiles): update(done, total), then end(). */
export interface StepProgress {
  update(done: number, total: number, detail?: string): void;
  /** Clear the bar; with a line, print it in its place. */
  end(line?: string): void;
}

/**
 * The same bar for any step, redrawn in place on a TTY and silent elsewhere (a pipe, a log, the
 * browser, --quiet/--json: pass stream null).
 */
export function stepProgress(label: string, { stream = defaultStream(), intervalMs = 100 }: ProgressOptions = {}): StepProgress {
  const tty = !!stream?.isTTY;
  let lastDraw = 0;
  let drawn = false;
  const started = Date.now();
  return {
    update(done, total, detail) {
      const now = Date.now();
      if (!tty || (now - lastDraw < intervalMs && done < total)) return;
      lastDraw = now;
      drawn = true;
      const percent = total > 0 ? Math.floor((done / total) * 100) : 0;
      stream!.write(`\r${barLine(label, total > 0 ? done / total : 0, `${String(percent).padStart(3)}% ${detail ?? `${done}/${total}`}  ${((now - started) / 1000).toFixed(1)}s`, stream!.columns)}\x1b[K`);
    },
    end(line) {
      if (tty && drawn) stream!.write('\r\x1b[K');
      if (line && tty) stream!.write(line + '\n');
    },
  };
}

export interface ProgressOptions {
  stream?: ProgressStream | null;
  /** Least milliseconds between two redraws of the bar. */
  intervalMs?: number;
}

/** A callback printing progress: a live bar on a TTY, plain epoch lines otherwise. */
export function progressBar({ stream = defaultStream(), intervalMs = 100 }: ProgressOptions = {}): Callback {
  const tty = !!stream?.isTTY;
  const print = (line: string) => (stream ? stream.write(line + '\n') : console.log(line));
  let started = 0;
  let lastDraw = 0;
  let lossSum = 0;
  let correct = 0;
  let seen = 0;
  return {
    onEpochBegin() {
      started = Date.now();
      lastDraw = 0;
      lossSum = correct = seen = 0;
    },
    onBatchEnd(b: BatchLog, s: TrainState) {
      lossSum += b.loss * b.size;
      correct += b.accuracy * b.size;
      seen += b.size;
      const now = Date.now();
      if (!tty || (now - lastDraw < intervalMs && b.step + 1 < s.stepsPerEpoch)) return;
      lastDraw = now;
      const text = barLine(`epoch ${s.epoch + 1}/${s.epochs}`, (b.step + 1) / s.stepsPerEpoch, `${b.step + 1}/${s.stepsPerEpoch}  loss ${(lossSum / seen).toFixed(4)}  acc ${(correct / seen).toFixed(3)}  ${((now - started) / 1000).toFixed(1)}s`, stream!.columns);
      stream!.write(`\r${text}\x1b[K`);
    },
    onEpochEnd(log: EpochLog, s: TrainState) {
      if (tty) stream!.write('\r\x1b[K');
      print(formatEpoch(log, s.epochs));
    },
    onTrainEnd(s: TrainState) {
      if (s.stopReason) print(s.stopReason);
    },
  };
}
