// Ensembles: the class probabilities of several trained models, averaged item by item, and the
// accuracy of that average against each member's own. A member may read its own form of the same
// items (a tail on cached features, a network on images with its preprocessing): the labels must
// agree item by item.
import type { Module } from '../graph/module.ts';
import * as ops from '../graph/ops.ts';
import { noGrad, scope, tensor } from '../graph/tensor.ts';
import { GraftError } from '../core/index.ts';
import { type GpuPreprocessing, preprocessOnGpu } from '../data/augment.ts';
import { DataLoader, type Dataset } from '../data/data.ts';
import { accuracy, argmaxRows } from '../report/metrics.ts';

export interface PredictOptions {
  batchSize?: number;
  preprocess?: GpuPreprocessing;
}

/** Softmax probabilities [n, classes] (row-major) of the model over a dataset, in eval mode under noGrad. */
export async function predictProbabilities(model: Module, data: Dataset, o: PredictOptions = {}): Promise<{ probabilities: Float32Array; classes: number }> {
  const rt = model.parameters()[0]?.rt;
  if (!rt) throw new GraftError('predictProbabilities: the model has no parameters');
  const wasTraining = model.training;
  model.eval();
  const parts: Float32Array[] = [];
  let classes = 0;
  try {
    for await (const b of new DataLoader(data, { batchSize: o.batchSize ?? 64 }).batches(0)) {
      const r = await noGrad(() =>
        scope(async () => {
          let x = tensor(rt, b.x, b.shape);
          if (o.preprocess) x = preprocessOnGpu(x, o.preprocess);
          const p = ops.softmax(model.forward(x));
          return { values: (await p.data()) as Float32Array, classes: p.shape[1] };
        }),
      );
      classes = r.classes;
      parts.push(r.values);
    }
  } finally {
    model.train(wasTraining);
  }
  const out = new Float32Array(data.length * classes);
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return { probabilities: out, classes };
}

/** The element-wise mean of several [n, classes] probability arrays. */
export function averageProbabilities(members: readonly Float32Array[]): Float32Array {
  if (!members.length) throw new GraftError('averageProbabilities: no members');
  const n = members[0].length;
  for (const [i, m] of members.entries()) if (m.length !== n) throw new GraftError(`averageProbabilities: member ${i} has ${m.length} values, member 0 has ${n}`);
  const out = new Float32Array(n);
  for (const m of members) for (let i = 0; i < n; i++) out[i] += m[i] / members.length;
  return out;
}

export interface EnsembleMember {
  name: string;
  model: Module;
  /** The items as this member reads them (default: the data given to evaluateEnsemble). */
  data?: Dataset;
  preprocess?: GpuPreprocessing;
}

export interface EnsembleResult {
  accuracy: number;
  members: { name: string; accuracy: number; predictions: Int32Array }[];
  /** Ensemble accuracy minus the best member's. */
  gainOverBest: number;
  probabilities: Float32Array;
  predictions: Int32Array;
}

/** Average the members' probabilities on the same items; report the ensemble's and each member's accuracy. */
export async function evaluateEnsemble(members: readonly EnsembleMember[], data: Dataset, o: { batchSize?: number } = {}): Promise<EnsembleResult> {
  if (!members.length) throw new GraftError('evaluateEnsemble: no members');
  const labels = Int32Array.from({ length: data.length }, (_, i) => data.label(i));
  const probs: Float32Array[] = [];
  const scores: EnsembleResult['members'] = [];
  let classes = 0;
  for (const m of members) {
    const own = m.data ?? data;
    if (own.length !== data.length) throw new GraftError(`evaluateEnsemble: member '${m.name}' reads ${own.length} items, the ensemble ${data.length}`);
    for (let i = 0; i < own.length; i++) if (own.label(i) !== labels[i]) throw new GraftError(`evaluateEnsemble: member '${m.name}' has label ${own.label(i)} for item ${i}, the ensemble ${labels[i]}: not the same items`);
    const r = await predictProbabilities(m.model, own, { batchSize: o.batchSize, preprocess: m.preprocess });
    if (classes && r.classes !== classes) throw new GraftError(`evaluateEnsemble: member '${m.name}' has ${r.classes} classes, the others ${classes}`);
    classes = r.classes;
    probs.push(r.probabilities);
    const predictions = argmaxRows(r.probabilities, classes);
    scores.push({ name: m.name, accuracy: accuracy(predictions, labels), predictions });
  }
  const probabilities = averageProbabilities(probs);
  const predictions = argmaxRows(probabilities, classes);
  const acc = accuracy(predictions, labels);
  return { accuracy: acc, members: scores, gainOverBest: acc - Math.max(...scores.map((s) => s.accuracy)), probabilities, predictions };
}
