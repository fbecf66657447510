// One row per training run (parameters, trainable parameters, train time, best validation accuracy
// and its epoch) and the comparison as a markdown table.
import type { History } from '../train/callbacks.ts';
import type { RecipeData } from '../train/recipes.ts';

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
  split: { train: number; validation: number; name: string; validationName?: string };
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
  const split = c.split.validationName
    ? `Split: ${c.split.train} training items (${c.split.name}) and ${c.split.validation} validation items (${c.split.validationName}).`
    : `Split: ${c.split.train} training and ${c.split.validation} validation items (${c.split.name}).`;
  return [split, '', ...lines, ...(notes.length ? ['', ...notes] : [])].join('\n');
}
