// The saved form of one benchmark run, and the numbers every view of it derives: ratios, geometric
// means, and the formatting of times and sizes.
import type { ContenderId } from '../options.ts';
import type { CaseResult, RunInfo, WorkloadResult } from '../suite.ts';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  /** 1-minute load averages at the start and the end: other work sharing the CPU makes noise. */
  loadStart: number;
  loadEnd: number;
  browser?: string;
}

export interface BenchResults {
  info: RunInfo;
  machine: Machine;
  workloads: WorkloadResult[];
  totalMs: number;
  /** A run-level failure (a runner that crashed), if any. */
  fatal?: string;
}

/** Graft's rivals, in table order: TensorFlow.js's backends, then ONNX Runtime Web's providers. */
export const RIVALS: ContenderId[] = ['tfjs-webgpu', 'tfjs-wasm', 'tfjs-cpu', 'ort-webgpu', 'ort-wasm'];

export const LABEL: Record<ContenderId, string> = { graft: 'Graft', 'tfjs-webgpu': 'tfjs webgpu', 'tfjs-wasm': 'tfjs wasm', 'tfjs-cpu': 'tfjs cpu', 'ort-webgpu': 'ort webgpu', 'ort-wasm': 'ort wasm' };

/** The rivals a run asked for (older saved runs name only tfjs backends). */
export const rivalsOf = (r: BenchResults): ContenderId[] => RIVALS.filter((id) => r.info.options.contenders.includes(id));

export function median(c: CaseResult | undefined): number | null {
  return c?.status === 'ok' ? c.wall.median : null;
}

/** Whether a case has timed runs after the first (a first run alone includes compilation). */
const timed = (c: CaseResult | undefined): boolean => c?.status === 'ok' && c.repsCut?.ran !== 0;

/** Rival (tfjs, ORT) median / Graft median: above 1, Graft is faster. Null unless both have timed runs. */
export function ratio(w: WorkloadResult, id: ContenderId): number | null {
  if (!timed(w.cases.graft) || !timed(w.cases[id])) return null;
  const g = median(w.cases.graft);
  const t = median(w.cases[id]);
  return g && t ? t / g : null;
}

export function geomean(values: number[]): number | null {
  if (!values.length) return null;
  return Math.exp(values.reduce((s, v) => s + Math.log(v), 0) / values.length);
}

/** Geometric mean of rival/Graft per rival over the given workloads (where both ran). */
export function geomeanRatios(ws: WorkloadResult[]): Partial<Record<ContenderId, { value: number; n: number }>> {
  const out: Partial<Record<ContenderId, { value: number; n: number }>> = {};
  for (const id of RIVALS) {
    const rs = ws.map((w) => ratio(w, id)).filter((r): r is number => r !== null);
    const g = geomean(rs);
    if (g !== null) out[id] = { value: g, n: rs.length };
  }
  return out;
}

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 1 : 2)} s`;
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}

export function fmtRatio(r: number | null): string {
  if (r === null) return '—';
  return r >= 10 ? `${r.toFixed(0)}x` : r >= 1 ? `${r.toFixed(1)}x` : `${r.toFixed(2)}x`;
}

export function fmtBytes(b: number | null | undefined): string {
  if (b === null || b === undefined) return '—';
  return b >= 1 << 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(1)} MiB`;
}

export function fmtSci(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  return v === 0 ? '0' : v.toExponential(1);
}

/** Workloads whose check failed or whose Graft case errored. */
export function failures(r: BenchResults): WorkloadResult[] {
  return r.workloads.filter((w) => w.verdict === 'fail');
}

/** Unique reasons a contender was n/a or failed, numbered for footnotes. */
export function notes(r: BenchResults): Map<string, number> {
  const m = new Map<string, number>();
  for (const w of r.workloads) {
    for (const c of Object.values(w.cases)) {
      const why = c?.status === 'n/a' ? c.reason : c?.status === 'error' ? `error: ${c.message}` : null;
      if (why && !m.has(why)) m.set(why, m.size + 1);
    }
  }
  return m;
}

export function describeMachine(r: BenchResults): string {
  const m = r.machine;
  const graft = r.info.contenders.find((c) => c.id === 'graft');
  const adapter = graft ? String(graft.info.adapter ?? '') : '';
  const peak = fmaPeak(r);
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; ${m.os}; ${r.info.runner === 'chrome' ? (m.browser ?? 'Chrome') : `Node ${m.node}`}${adapter ? `; adapter: ${adapter}` : ''}${peak ? `; measured FMA peak ${peak.toFixed(1)} GFLOP/s` : ''}; load ${m.loadStart.toFixed(1)} → ${m.loadEnd.toFixed(1)}`;
}

/** The FMA ceiling measured on Graft's adapter at the start of the run (GFLOP/s), if any. */
export function fmaPeak(r: BenchResults): number | null {
  const v = r.info.contenders.find((c) => c.id === 'graft')?.info.fmaPeakGflops;
  return typeof v === 'number' && v > 0 ? v : null;
}

/** Graft's GFLOP/s on a workload (FLOPs from its shapes over the median wall time), or null. */
export function graftGflops(w: WorkloadResult): number | null {
  const c = w.cases.graft;
  if (!w.flops || !c || c.status !== 'ok') return null;
  return w.flops / (c.wall.median / 1000) / 1e9;
}
