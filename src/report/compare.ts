// Comparing configurations on the same split: one row per run (parameters, trainable parameters,
// train time, best validation accuracy and its epoch), a markdown table, and with `outDir` (Node) a
// report folder with the table as markdown + JSON, learning curves as SVG and PNG, and an
// index.html (report.ts); the rows and the table are in comparison.ts. Also k-fold cross-validation: the best validation accuracy of each
// fold, their mean and standard deviation.
import { GraftError } from '../core/index.ts';
import type { History } from '../train/callbacks.ts';
import { type Dataset, type SplitOptions, kFold } from '../data/data.ts';
import type { RecipeData } from '../train/recipes.ts';
import { type Comparison, type ComparisonRow, type RunConfig, bestEpoch, comparisonRow } from './comparison.ts';
import { type SvgRenderer, writeReport } from './report.ts';

export { bestEpoch, comparisonMarkdown, comparisonRow } from './comparison.ts';
export type { Comparison, ComparisonRow, RunConfig, RunOutcome } from './comparison.ts';

export interface CompareOptions {
  /** Write the report here (Node; see report.ts). */
  outDir?: string;
  title?: string;
  /** Extra report sections (markdown). */
  sections?: { title: string; markdown: string }[];
  /** Render PNGs of the curves (default true, when a renderer is given). */
  png?: boolean;
  /** Turns the SVG curves into PNG files (Node: `renderSvgs` from the testing entry, headless Chrome). */
  renderPng?: SvgRenderer;
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
  const comparison: Comparison = { rows, runs, split: { train: split.train.length, validation: split.validation?.length ?? 0, name: split.train.name, ...(split.validation && split.validation.name !== split.train.name ? { validationName: split.validation.name } : {}) } };
  if (!o.outDir) return comparison;
  const written = await writeReport(o.outDir, comparison, { title: o.title, sections: o.sections, png: o.png, renderPng: o.renderPng });
  return { ...comparison, files: written.files };
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
