// The one timing harness every contender goes through:
//   1. a first run, timed on its own: it includes shader compilation / pipeline creation and
//      first-use allocation, and its outputs are the ones checked for correctness;
//   2. `warmup` untimed runs (at least one), the first of which measures the memory high-water mark;
//   3. `reps` timed runs (fewer when the case would exceed its budget; more for a fast case, see
//      anotherFastRun), each ending with the outputs read back to the CPU inside the timed region;
//      with a GPU timer, a GPU span each.
// A case whose first run alone exceeds the budget gets no warm-up and one timed run on a contender
// that compiles (its first run is mostly compilation); elsewhere the first run is its only sample.
import type { GpuSpanTimer } from './gpu-timer.ts';
import type { Instance, Outputs } from './workload.ts';

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** First and third quartiles. */
  q1: number;
  q3: number;
  n: number;
}

export interface Timing {
  /** The first run (compilation included), ms. */
  firstMs: number;
  warmupMs: number[];
  samplesMs: number[];
  wall: Spread;
  /** GPU span per timed run (timestamp queries), where the contender runs on a device that has them. */
  gpu: Spread | null;
  /** Set when the budget cut the timed runs below the requested count (ran 0: the first run stands in). */
  repsCut?: { asked: number; ran: number };
  /** Bytes held at the high-water mark of one run (null where it cannot be known or the budget was spent). */
  peakBytes: number | null;
}

export interface MeasureOptions {
  warmup: number;
  reps: number;
  /** The contender compiles on first use (WebGPU): its first run never stands in for a timed one. */
  compiles: boolean;
  /** Upper bound on the whole case; reps are cut (down to 1) to fit it. */
  budgetMs: number;
}

const now = (): number => performance.now();

/**
 * Fast cases get more timed runs than asked: after the asked ones, more while all of them still fit
 * in FAST_SAMPLE_MS, up to FAST_MAX_REPS, so that the median of a few-millisecond case is not that
 * of 3 samples on a noisy machine (single runs of such cases varied 2-3x here). Decided on the
 * timed runs themselves, the same way for every contender.
 */
export const FAST_SAMPLE_MS = 500;
export const FAST_MAX_REPS = 30;

/** Whether a case with these timed runs so far gets another one for being fast. */
export function anotherFastRun(samplesMs: readonly number[]): boolean {
  if (samplesMs.length === 0 || samplesMs.length >= FAST_MAX_REPS) return false;
  const total = samplesMs.reduce((a, b) => a + b, 0);
  return total + samplesMs[samplesMs.length - 1] <= FAST_SAMPLE_MS;
}

/** Median, extremes and quartiles (linear interpolation between order statistics). */
export function spread(values: number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number) => {
    const i = (s.length - 1) * p;
    const lo = Math.floor(i);
    return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (i - lo);
  };
  return { median: at(0.5), min: s[0], max: s[s.length - 1], q1: at(0.25), q3: at(0.75), n: s.length };
}

/** Runs the instance once (untimed) and returns the bytes it held at its high-water mark. */
export type PeakProbe = (instance: Instance) => Promise<number | null>;

export async function measure(instance: Instance, opts: MeasureOptions, timer: GpuSpanTimer | null, peak: PeakProbe): Promise<{ timing: Timing; outputs: Outputs }> {
  const start = now();
  const outputs = await instance.run();
  const firstMs = now() - start;
  const over = firstMs >= opts.budgetMs;
  if (over && !opts.compiles) {
    const timing: Timing = { firstMs, warmupMs: [], samplesMs: [firstMs], wall: spread([firstMs]), gpu: null, repsCut: { asked: opts.reps, ran: 0 }, peakBytes: null };
    return { timing, outputs };
  }

  // The first warm-up doubles as the memory probe; its time only estimates the steady state
  // when there is no other warm-up (tf.profile and Graft's trimmed pool slow it down).
  let t = now();
  const peakBytes = over ? null : await peak(instance).catch(() => null);
  const probeMs = now() - t;
  const warmupMs: number[] = [];
  for (let i = 1; i < opts.warmup && !over && now() - start < opts.budgetMs / 2; i++) {
    t = now();
    await instance.run();
    warmupMs.push(now() - t);
  }
  const perRun = warmupMs.length ? warmupMs[warmupMs.length - 1] : probeMs;
  const left = opts.budgetMs - (now() - start);
  const reps = over ? 1 : Math.max(1, Math.min(opts.reps, Math.floor(left / Math.max(perRun, 1e-3))));

  const samplesMs: number[] = [];
  const gpuMs: number[] = [];
  const timedRun = async (): Promise<void> => {
    timer?.begin();
    t = now();
    await instance.run();
    samplesMs.push(now() - t);
    const span = timer ? await timer.end() : null;
    if (span !== null) gpuMs.push(span);
  };
  for (let i = 0; i < reps; i++) await timedRun();
  // A case the budget did not cut may get more runs for being fast, while the budget holds.
  const fits = () => now() - start + samplesMs[samplesMs.length - 1] < opts.budgetMs;
  while (!over && reps === opts.reps && anotherFastRun(samplesMs) && fits()) await timedRun();
  const timing: Timing = { firstMs, warmupMs, samplesMs, wall: spread(samplesMs), gpu: gpuMs.length ? spread(gpuMs) : null, peakBytes };
  if (reps < opts.reps) timing.repsCut = { asked: opts.reps, ran: reps };
  return { timing, outputs };
}
