// Runs every workload on every contender, one workload at a time (contenders interleaved, so
// that slow drift of a shared, noisy machine hits them alike), checks Graft's outputs against each
// other contender's (tfjs backends, ONNX Runtime Web), and reports each workload's result as an event.
import { type Contender, type Platform, openContenders } from './contenders.ts';
import { type Difference, compareOutputs } from './data.ts';
import { type Timing, measure } from './harness.ts';
import { type BenchOptions, type ContenderId, passesFilter } from './options.ts';
import { type Instance, type Outputs, type Workload, isUnavailable } from './workload.ts';
import { buildWorkloads } from './workloads/index.ts';

export type CaseResult =
  | ({ status: 'ok' } & Timing)
  | { status: 'n/a'; reason: string }
  | { status: 'error'; message: string };

export interface Check extends Difference {
  ok: boolean;
}

export interface WorkloadResult {
  id: string;
  family: Workload['family'];
  title: string;
  flops: number | null;
  tolerance: number;
  outputs: string;
  cases: Partial<Record<ContenderId, CaseResult>>;
  /** Graft against each tfjs backend that produced outputs. */
  checks: Partial<Record<ContenderId, Check>>;
  /**
   * 'pass': every check within tolerance; 'fail': a check out of tolerance, or Graft failed;
   * 'unchecked': nothing to compare (Graft or every tfjs backend could not run it).
   */
  verdict: 'pass' | 'fail' | 'unchecked';
}

export interface RunInfo {
  runner: BenchOptions['runner'];
  options: BenchOptions;
  contenders: { id: ContenderId; info: Contender['info'] }[];
  unavailable: { id: ContenderId; reason: string }[];
  startedAt: string;
  userAgent: string;
}

export type BenchEvent =
  | { type: 'start'; info: RunInfo; workloads: { id: string; title: string }[] }
  | { type: 'log'; message: string }
  | { type: 'result'; result: WorkloadResult }
  | { type: 'done'; ms: number };

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
/** tfjs reports a kernel its backend lacks only when it runs: that is "no equivalent", not a failure. */
const missingKernel = (e: unknown): boolean => /not registered for backend/i.test(message(e));

async function runCase(c: Contender, w: Workload, opts: BenchOptions): Promise<{ result: CaseResult; outputs: Outputs | null }> {
  let instance: Instance | null = null;
  try {
    const prepared = await c.prepare(w);
    if (isUnavailable(prepared)) {
      let outputs: Outputs | null = null;
      if (prepared.reference) {
        instance = prepared.reference;
        const raw = await instance.run();
        outputs = instance.common ? instance.common(raw) : raw;
      }
      return { result: { status: 'n/a', reason: prepared.unavailable }, outputs };
    }
    instance = prepared;
    const { timing, outputs } = await measure(instance, { warmup: opts.warmup, reps: opts.reps, budgetMs: opts.caseBudgetMs, compiles: c.compiles }, c.timer, (i) => c.peakBytes(i));
    return { result: { status: 'ok', ...timing }, outputs: instance.common ? instance.common(outputs) : outputs };
  } catch (e) {
    if (missingKernel(e)) return { result: { status: 'n/a', reason: message(e) }, outputs: null };
    return { result: { status: 'error', message: message(e) }, outputs: null };
  } finally {
    try {
      instance?.dispose();
    } catch {
      // a failed case may leave nothing to dispose
    }
  }
}

export async function runSuite(opts: BenchOptions, platform: Platform, emit: (e: BenchEvent) => void | Promise<void>): Promise<void> {
  const started = performance.now();
  const log = (m: string) => emit({ type: 'log', message: m });
  const opened = await openContenders(opts.contenders, platform, log, opts.onnx);
  const workloads = (await buildWorkloads(opts)).filter((w) => passesFilter(opts.filter, w.id, w.title));
  await emit({
    type: 'start',
    info: {
      runner: opts.runner,
      options: opts,
      contenders: opened.contenders.map((c) => ({ id: c.id, info: c.info })),
      unavailable: opened.unavailable,
      startedAt: new Date().toISOString(),
      userAgent: typeof navigator !== 'undefined' && navigator.userAgent ? navigator.userAgent : `Node ${typeof process !== 'undefined' ? process.version : ''}`,
    },
    workloads: workloads.map((w) => ({ id: w.id, title: w.title })),
  });

  for (const w of workloads) {
    const cases: WorkloadResult['cases'] = {};
    const outputs: Partial<Record<ContenderId, Outputs>> = {};
    for (const u of opened.unavailable) cases[u.id] = { status: 'n/a', reason: u.reason };
    for (const c of opened.contenders) {
      const t = performance.now();
      const r = await runCase(c, w, opts);
      cases[c.id] = r.result;
      if (r.outputs) outputs[c.id] = r.outputs;
      const what = r.result.status === 'ok' ? `median ${r.result.wall.median.toFixed(1)} ms` : `${r.result.status}: ${r.result.status === 'n/a' ? r.result.reason : r.result.message}`;
      await log(`  ${w.id} · ${c.id}: ${what} (${((performance.now() - t) / 1000).toFixed(1)} s)`);
    }
    const checks: WorkloadResult['checks'] = {};
    const mine = outputs.graft;
    if (mine) {
      for (const [id, theirs] of Object.entries(outputs) as [ContenderId, Outputs][]) {
        if (id === 'graft') continue;
        const d = compareOutputs(mine, theirs);
        checks[id] = { ...d, ok: !d.problem && d.maxRel <= w.tolerance };
      }
    }
    const checkList = Object.values(checks);
    const result: WorkloadResult = {
      id: w.id,
      family: w.family,
      title: w.title,
      flops: w.flops ?? null,
      tolerance: w.tolerance,
      outputs: w.outputs,
      cases,
      checks,
      verdict: cases.graft?.status === 'error' || checkList.some((c) => !c.ok) ? 'fail' : checkList.length ? 'pass' : 'unchecked',
    };
    w.release?.();
    await emit({ type: 'result', result });
  }
  for (const c of opened.contenders) c.timer?.destroy();
  await emit({ type: 'done', ms: performance.now() - started });
}
