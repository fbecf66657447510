// Classification metrics on the host: predictions from logits, accuracy, per-class accuracy and the
// confusion matrix (rows: true class, columns: predicted class, as scikit-learn).
import { GraftError } from '../core/index.ts';

/** The index of each row's largest value (the first on ties): logits [n, classes] row-major. */
export function argmaxRows(logits: ArrayLike<number>, classes: number): Int32Array {
  if (!(classes > 0) || logits.length % classes !== 0) throw new GraftError(`argmaxRows: ${logits.length} values are not rows of ${classes}`);
  const n = logits.length / classes;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < classes; j++) if (logits[i * classes + j] > logits[i * classes + best]) best = j;
    out[i] = best;
  }
  return out;
}

function checkPair(op: string, predicted: ArrayLike<number>, labels: ArrayLike<number>): void {
  if (predicted.length !== labels.length) throw new GraftError(`${op}: ${predicted.length} predictions for ${labels.length} labels`);
}

/** Share of predictions equal to the labels (NaN for none). */
export function accuracy(predicted: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkPair('accuracy', predicted, labels);
  let hits = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) hits++;
  return labels.length ? hits / labels.length : Number.NaN;
}

/** counts[t][p]: how many items of true class t were predicted as p. */
export function confusionMatrix(predicted: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number): number[][] {
  checkPair('confusionMatrix', predicted, labels);
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const [t, p] = [labels[i], predicted[i]];
    if (!(t >= 0 && t < numClasses && p >= 0 && p < numClasses)) throw new GraftError(`confusionMatrix: item ${i} has label ${t} and prediction ${p}; both must be in [0, ${numClasses})`);
    m[t][p]++;
  }
  return m;
}

/** Per class: the share of its items predicted correctly (its recall); null for a class with no items. */
export function perClassAccuracy(matrix: number[][]): (number | null)[] {
  return matrix.map((row, c) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total ? row[c] / total : null;
  });
}

/** A confusion matrix as aligned text, with class names when given. */
export function formatConfusion(matrix: number[][], classNames?: readonly string[]): string {
  const names = matrix.map((_, i) => classNames?.[i] ?? String(i));
  const width = Math.max(...matrix.flat().map((v) => String(v).length), 3);
  const label = Math.max(...names.map((n) => n.length), 'true \\ predicted'.length);
  const head = 'true \\ predicted'.padEnd(label) + ' ' + names.map((_, j) => String(j).padStart(width)).join(' ');
  const rows = matrix.map((row, i) => names[i].padEnd(label) + ' ' + row.map((v) => String(v).padStart(width)).join(' '));
  return [head, ...rows].join('\n');
}
