// Comparing configurations on the same split: one row per run (parameters, trainable parameters,
// train time, best validation accuracy and its epoch), a markdown table, and with `outDir` (Node) a
// report folder with the table as markdown + JSON, learning curves as SVG and PNG, and an
// index.html (report.ts). Also k-fold cross-validation: the best validation accuracy of each
// fold, their mean and standard deviation.
import { GraftError } from '../core/index.ts';
import type { History } from './callbacks.ts';
import { type Dataset, type SplitOptions, kFold } from './data.ts';
import type { RecipeData } from './recipes.ts';

export interface RunOutcome {
  history: History;
  /** Elements of all the parameters and of those that trained. */
  parameters: number;
  trainableParameters: number;
  /** Wall time of the run; measured around run() when omitted. */
  seconds?: number;
  /** Shown under the table (e.g. 'features computed once in 14.2 s'). */
  note?: string;
}

export interface RunConfig {
  name: string;
  run(split: RecipeData): Promise<RunOutcome>;
}

export interface ComparisonRow {
  name: string;
  parameters: number;
  trainableParameters: number;
  seconds: number;
  /** Best validation accuracy and its epoch (1-based); NaN / 0 without validation. */
  bestValAccuracy: number;
  bestEpoch: number;
  finalValAccuracy: number;
  epochs: number;
  stopReason?: string;
  note?: string;
}

export interface Comparison {
  rows: ComparisonRow[];
  runs: { name: string; history: History }[];
  split: { train: number; validation: number; name: string };
}

/** The epoch (1-based) with the highest validation accuracy (the first on ties) and that accuracy. */
export function bestEpoch(history: History): { accuracy: number; epoch: number } {
  let best = { accuracy: Number.NaN, epoch: 0 };
  for (const e of history.epochs) {
    if (e.valAccuracy === undefined) continue;
    if (!(e.valAccuracy <= best.accuracy)) best = { accuracy: e.valAccuracy, epoch: e.epoch + 1 };
  }
  return best;
}

export function comparisonRow(name: string, outcome: RunOutcome, seconds: number): ComparisonRow {
  const best = bestEpoch(outcome.history);
  const last = outcome.history.epochs[outcome.history.epochs.length - 1];
  return {
    name,
    parameters: outcome.parameters,
    trainableParameters: outcome.trainableParameters,
    seconds: outcome.seconds ?? seconds,
    bestValAccuracy: best.accuracy,
    bestEpoch: best.epoch,
    finalValAccuracy: last?.valAccuracy ?? Number.NaN,
    epochs: outcome.history.epochs.length,
    stopReason: outcome.history.stopReason,
    note: outcome.note,
  };
}

export interface CompareOptions {
  /** Write the report here (Node; see report.ts). */
  outDir?: string;
  title?: string;
  /** Extra report sections (markdown). */
  sections?: { title: string; markdown: string }[];
  /** Render PNGs of the curves with headless Chrome (default true). */
  png?: boolean;
  onRun?: (name: string, index: number) => void;
}

/** Run every configuration on the same split, in order; the table and, with outDir, the report. */
export async function compare(configs: readonly RunConfig[], split: RecipeData, o: CompareOptions = {}): Promise<Comparison & { files?: string[] }> {
  if (!configs.length) throw new GraftError('compare: no configurations');
  const names = new Set<string>();
  for (const c of configs) {
    if (names.has(c.name)) throw new GraftError(`compare: two configurations are named '${c.name}'`);
    names.add(c.name);
  }
  const rows: ComparisonRow[] = [];
  const runs: Comparison['runs'] = [];
  for (const [i, c] of configs.entries()) {
    o.onRun?.(c.name, i);
    const started = performance.now();
    const outcome = await c.run(split);
    rows.push(comparisonRow(c.name, outcome, (performance.now() - started) / 1000));
    runs.push({ name: c.name, history: outcome.history });
  }
  const comparison: Comparison = { rows, runs, split: { train: split.train.length, validation: split.validation?.length ?? 0, name: split.train.name } };
  if (!o.outDir) return comparison;
  // Node only (fs), so loaded only here and hidden from browser bundlers.
  const reportModule = './report.ts';
  const { writeReport } = (await import(/* @vite-ignore */ reportModule)) as typeof import('./report.ts');
  const written = await writeReport(o.outDir, comparison, { title: o.title, sections: o.sections, png: o.png });
  return { ...comparison, files: written.files };
}

const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '—');
const count = (n: number) => n.toLocaleString('en-US');

/** The comparison as a markdown table (the best validation accuracy in bold). */
export function comparisonMarkdown(c: Comparison): string {
  const top = Math.max(...c.rows.map((r) => (Number.isFinite(r.bestValAccuracy) ? r.bestValAccuracy : -1)));
  const lines = [
    '| run | parameters | trainable | train time | best val accuracy | best epoch | final val accuracy | epochs |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...c.rows.map((r) => {
      const best = r.bestValAccuracy === top ? `**${pct(r.bestValAccuracy)}**` : pct(r.bestValAccuracy);
      return `| ${r.name} | ${count(r.parameters)} | ${count(r.trainableParameters)} | ${r.seconds.toFixed(1)} s | ${best} | ${r.bestEpoch || '—'} | ${pct(r.finalValAccuracy)} | ${r.epochs} |`;
    }),
  ];
  const notes = c.rows.flatMap((r) => [r.stopReason && `- ${r.name}: ${r.stopReason}`, r.note && `- ${r.name}: ${r.note}`].filter((x): x is string => !!x));
  return [`Split: ${c.split.train} training and ${c.split.validation} validation items (${c.split.name}).`, '', ...lines, ...(notes.length ? ['', ...notes] : [])].join('\n');
}

export interface CrossValidation {
  folds: { accuracy: number; epoch: number }[];
  mean: number;
  /** Sample standard deviation (n - 1) of the folds' best validation accuracies. */
  std: number;
}

/** Mean and standard deviation of a number list (sample std, 0 for one value). */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = values.length > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { mean, std };
}

/** k-fold cross-validation: `run` trains a fresh model on each fold's split and returns its history. */
export async function crossValidate(data: Dataset, k: number, run: (split: RecipeData, fold: number) => Promise<History>, o: SplitOptions = {}): Promise<CrossValidation> {
  const folds: CrossValidation['folds'] = [];
  for (const [i, f] of kFold(data, k, { stratified: true, ...o }).entries()) {
    const best = bestEpoch(await run({ train: f.train, validation: f.val }, i));
    if (!Number.isFinite(best.accuracy)) throw new GraftError(`crossValidate: fold ${i + 1} reported no validation accuracy (pass the split's validation to fit)`);
    folds.push(best);
  }
  return { folds, ...meanStd(folds.map((f) => f.accuracy)) };
}
