// Measuring: for each pending shape, run the family's reference once, then every allowed variant
// whose result matches it (a few warm-ups, the median of a few timed runs), and keep the fastest.
// A variant whose result differs from the reference is never chosen. Times come from GPU timestamp
// queries when the device has 'timestamp-query' (the runtime's per-dispatch profiler), else from the
// wall clock around submit + onSubmittedWorkDone.
import { numel } from '../../core/index.ts';
import { type GpuData, type Runtime, type TuneChoice, type TuneShape } from '../runtime/index.ts';
import { tuneFamilies } from './families.ts';

export interface MeasureOptions {
  /** Untimed runs before the timed ones (default 2). */
  warmups?: number;
  /** Timed runs; the median is kept (default 5). */
  reps?: number;
  /** 'timestamp' where the device has it (default), or 'wall' always. */
  timer?: 'auto' | 'wall';
  /** Called before each shape is measured (progress). */
  onShape?: (shape: TuneShape, index: number, count: number) => void;
}

/** One measured shape, as `graft tune` prints it; `error` when it could not be measured (no choice then). */
export interface Measured extends TuneShape {
  choice: TuneChoice;
  error?: string;
}

/** A result matches the reference within float rounding: |x - r| <= 1e-3 max|r| + 1e-5, no NaN. */
export function matchesReference(x: Float32Array, ref: Float32Array): { ok: boolean; maxDiff: number } {
  let scale = 0;
  for (const v of ref) scale = Math.max(scale, Math.abs(v));
  let maxDiff = x.length === ref.length ? 0 : Infinity;
  for (let i = 0; i < x.length && maxDiff !== Infinity; i++) {
    const d = Math.abs(x[i] - ref[i]);
    maxDiff = Number.isNaN(d) ? Infinity : Math.max(maxDiff, d);
  }
  return { ok: maxDiff <= 1e-3 * scale + 1e-5, maxDiff };
}

async function readAndRelease(rt: Runtime, out: GpuData): Promise<Float32Array> {
  const bytes = await rt.read(out.buffer, numel(out.shape) * 4);
  rt.release(out.buffer);
  return new Float32Array(bytes);
}

/**
 * Milliseconds of one run of `work` by GPU timestamps: the summed GPU time of its dispatches, from
 * the runtime's profiler (gpu.profile's). Null when the device cannot say (all zeros, or quantised
 * to nothing), or when a gpu.profile is running (profiles do not nest: the wall clock then).
 */
async function timestampMs(rt: Runtime, work: () => void): Promise<number | null> {
  if (rt.profiling) return null;
  rt.startProfile();
  try {
    work();
  } catch (e) {
    await rt.stopProfile().catch(() => undefined);
    throw e;
  }
  const ms = (await rt.stopProfile()).reduce((a, k) => a + k.ms, 0);
  return ms > 0 ? ms : null;
}

async function wallMs(rt: Runtime, work: () => void): Promise<number> {
  await rt.sync();
  const t0 = performance.now();
  work();
  await rt.sync();
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Measure one shape: check every allowed variant against the reference, time the valid ones. */
export async function measureShape(rt: Runtime, shape: TuneShape, opts: MeasureOptions = {}): Promise<TuneChoice> {
  const family = tuneFamilies[shape.family];
  const problem = family.prepare(rt, shape.key);
  const useTimestamps = opts.timer !== 'wall' && rt.report.features.includes('timestamp-query');
  let timer: 'timestamp' | 'wall' = useTimestamps ? 'timestamp' : 'wall';
  try {
    const reference = await readAndRelease(rt, problem.run(family.reference));
    const times: Record<string, number> = {};
    const rejected: Record<string, string> = {};
    for (const variant of shape.candidates) {
      const check = matchesReference(await readAndRelease(rt, problem.run(variant)), reference);
      if (!check.ok) {
        rejected[variant] = `max difference ${check.maxDiff.toPrecision(3)} from ${family.reference}`;
        continue;
      }
      for (let i = 0; i < (opts.warmups ?? 2); i++) rt.release(problem.run(variant).buffer);
      const samples: number[] = [];
      for (let i = 0; i < (opts.reps ?? 5); i++) {
        let out: GpuData | null = null;
        const work = () => void (out = problem.run(variant));
        let ms = timer === 'timestamp' ? await timestampMs(rt, work) : await wallMs(rt, work);
        if (ms === null) {
          // No usable timestamps (zeros, quantised to nothing, or a gpu.profile running, when
          // `work` did not run): the wall clock from here on.
          timer = 'wall';
          const ran = out as GpuData | null;
          if (ran) rt.release(ran.buffer);
          ms = await wallMs(rt, work);
        }
        rt.release(out!.buffer);
        samples.push(ms);
      }
      times[variant] = median(samples);
    }
    await rt.sync();
    const valid = Object.keys(times);
    // Every allowed variant wrong: keep the reference's own answer rather than a wrong fast one.
    const variant = valid.length ? valid.reduce((best, v) => (times[v] < times[best] ? v : best)) : family.reference;
    return { variant, times, ...(Object.keys(rejected).length ? { rejected } : {}), timer };
  } finally {
    problem.dispose();
  }
}

/**
 * Measure every pending shape of the device's tuner, record the choices, clear the pending list. A
 * shape whose measurement throws (out of memory, a device error) gets no choice, is not tried again
 * on this device, and is reported with its error instead of failing the caller.
 */
export async function measurePending(rt: Runtime, opts: MeasureOptions = {}): Promise<Measured[]> {
  const tuner = rt.tuner;
  const shapes = [...tuner.pending.values()].filter((s) => s.family in tuneFamilies);
  tuner.pending.clear();
  const done: Measured[] = [];
  tuner.measuring = true;
  try {
    for (const [i, shape] of shapes.entries()) {
      opts.onShape?.(shape, i, shapes.length);
      const id = `${shape.family} ${shape.key}`;
      try {
        const choice = await measureShape(rt, shape, opts);
        tuner.choices.set(id, choice);
        done.push({ ...shape, choice });
      } catch (e) {
        tuner.failed.add(id);
        done.push({ ...shape, choice: { variant: '' }, error: String((e as Error)?.message ?? e).split('\n')[0] });
      }
    }
  } finally {
    tuner.measuring = false;
  }
  return done;
}
