// Zero-shot classification from attribute descriptions (in the spirit of Lampert et al.'s
// attribute-based classification): every class is described by a vector of attributes; a linear
// attribute head learns to predict the attributes from image features of the SEEN classes only
// (mean squared error against the class's vector); an image is then given the class whose
// description is most similar (cosine) to the predicted attributes, either among the unseen classes
// (zero-shot, ZSL) or among all classes (generalized zero-shot, GZSL, where the seen classes
// compete and usually win: the head was only ever rewarded for them).
//
// Features are host arrays [n, dim] (e.g. a pre-trained backbone's cached outputs, features.ts),
// standardised with the seen training features' mean and standard deviation.
import type { Gpu } from '../graph/gpu.ts';
import * as ops from '../graph/ops.ts';
import { noGrad, scope } from '../graph/tensor.ts';
import { backward } from '../graph/autograd.ts';
import { GraftError } from '../core/index.ts';
import { Linear } from '../models/layers.ts';
import { mixSeed, shuffleInPlace } from '../data/data.ts';
import { adam } from './optim.ts';

/**
 * Hand-written descriptions of the ten Fashion-MNIST classes, graded from 0 (no) to 1 (always);
 * 0.5 and the like mean "often" or "partly" (a dress covers the legs partly, some boots have laces,
 * tops and dresses are often strappy or sleeveless).
 */
export const FASHION_ATTRIBUTE_NAMES = Object.freeze([
  'worn on the upper body', 'covers the legs', 'worn on the feet', 'has sleeves', 'long sleeves',
  'opens down the front (buttons, zip)', 'has a collar', 'outerwear (worn over clothes)', 'one piece from shoulders down',
  'open, strappy (skin shows)', 'covers the ankle', 'has a heel', 'has laces', 'carried, not worn', 'has a handle',
]);

// prettier-ignore
export const FASHION_ATTRIBUTES: readonly (readonly number[])[] = Object.freeze([
  //upper legs feet sleeve long open collar outer onepc strap ankle heel laces carry handle
  [1,    0,   0,   0.8,   0,   0,   0,     0,    0,    0.3,  0,    0,   0,    0,    0], // T-shirt/top
  [0,    1,   0,   0,     0,   0,   0,     0,    0,    0,    0,    0,   0,    0,    0], // Trouser
  [1,    0,   0,   1,     1,   0,   0.2,   0.5,  0,    0,    0,    0,   0,    0,    0], // Pullover
  [1,    0.5, 0,   0.3,   0,   0,   0,     0,    1,    0.4,  0,    0,   0,    0,    0], // Dress
  [1,    0.3, 0,   1,     1,   1,   0.8,   1,    0,    0,    0,    0,   0,    0,    0], // Coat
  [0,    0,   1,   0,     0,   0,   0,     0,    0,    1,    0,    0.4, 0,    0,    0], // Sandal
  [1,    0,   0,   1,     0.6, 1,   1,     0,    0,    0,    0,    0,   0,    0,    0], // Shirt
  [0,    0,   1,   0,     0,   0,   0,     0,    0,    0,    0,    0,   1,    0,    0], // Sneaker
  [0,    0,   0,   0,     0,   0,   0,     0,    0,    0,    0,    0,   0,    1,    1], // Bag
  [0,    0,   1,   0,     0,   0,   0,     0,    0,    0,    1,    0.6, 0.3,  0,    0], // Ankle boot
].map((row) => Object.freeze(row)));

/**
 * The classes held out by default: Sandal (5) and Shirt (6). Each is a new combination of
 * attributes the seen classes do teach (feet and heel from Sneaker and Ankle boot, strappy from
 * tops and dresses; sleeves, collar and a front opening from Coat and Pullover), so their
 * descriptions can be recognised; holding out
 * Bag or Trouser instead would leave attributes ('carried', 'covers the legs') that no training
 * image ever shows. Shirt is also the hardest Fashion-MNIST class, so GZSL is a real test.
 */
export const FASHION_UNSEEN = Object.freeze([5, 6]);

export interface FeatureMatrix {
  /** [n, dim] row-major. */
  values: Float32Array;
  labels: Int32Array;
  dim: number;
}

/** Cosine similarity of each row of `predicted` [n, A] with each candidate class's attribute vector: the best candidate per row. */
export function nearestByCosine(predicted: ArrayLike<number>, attributes: readonly (readonly number[])[], candidates: readonly number[]): Int32Array {
  const a = attributes[0]?.length ?? 0;
  if (!a || predicted.length % a !== 0) throw new GraftError(`nearestByCosine: ${predicted.length} predicted values are not rows of ${a} attributes`);
  const norms = candidates.map((c) => Math.hypot(...attributes[c]) || 1);
  const n = predicted.length / a;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < a; j++) norm += predicted[i * a + j] ** 2;
    norm = Math.sqrt(norm) || 1;
    let best = -Infinity;
    candidates.forEach((c, k) => {
      let dot = 0;
      for (let j = 0; j < a; j++) dot += predicted[i * a + j] * attributes[c][j];
      const cos = dot / (norm * norms[k]);
      if (cos > best) (best = cos), (out[i] = c);
    });
  }
  return out;
}

export interface AttributeHeadOptions {
  epochs?: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  seed?: number;
}

/** A trained attribute head: standardise features, then a Linear(dim, attributes). */
export interface AttributeHead {
  linear: Linear;
  mean: Float32Array;
  std: Float32Array;
  /** Final mean squared error on the training rows. */
  trainLoss: number;
  dispose(): void;
}

function standardize(f: FeatureMatrix, mean: Float32Array, std: Float32Array, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * f.dim);
  rows.forEach((r, i) => {
    for (let j = 0; j < f.dim; j++) out[i * f.dim + j] = (f.values[r * f.dim + j] - mean[j]) / std[j];
  });
  return out;
}

/** Fit the attribute head on the rows of `train` whose class is in `seen` (Adam, mean squared error). */
export async function trainAttributeHead(gpu: Gpu, train: FeatureMatrix, attributes: readonly (readonly number[])[], seen: readonly number[], o: AttributeHeadOptions = {}): Promise<AttributeHead> {
  const { epochs = 30, batchSize = 64, lr = 1e-3, weightDecay = 1e-4, seed = 0 } = o;
  const rows = [...train.labels.keys()].filter((i) => seen.includes(train.labels[i]));
  if (!rows.length) throw new GraftError(`trainAttributeHead: no training rows of the seen classes [${seen.join(', ')}]`);
  const a = attributes[0].length;
  const mean = new Float32Array(train.dim);
  const std = new Float32Array(train.dim);
  for (const r of rows) for (let j = 0; j < train.dim; j++) mean[j] += train.values[r * train.dim + j] / rows.length;
  for (const r of rows) for (let j = 0; j < train.dim; j++) std[j] += (train.values[r * train.dim + j] - mean[j]) ** 2 / rows.length;
  for (let j = 0; j < train.dim; j++) std[j] = Math.sqrt(std[j]) + 1e-6;
  const linear = new Linear(gpu, train.dim, a, { seed: mixSeed(seed, 0xa77) });
  const optimizer = adam({ lr, weightDecay });
  let trainLoss = Number.NaN;
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = shuffleInPlace(Int32Array.from(rows), mixSeed(seed, epoch));
      let sum = 0;
      for (let at = 0; at < order.length; at += batchSize) {
        const batch = [...order.subarray(at, at + batchSize)];
        const x = standardize(train, mean, std, batch);
        const target = new Float32Array(batch.length * a);
        batch.forEach((r, i) => target.set(attributes[train.labels[r]], i * a));
        sum += await scope(async () => {
          const pred = linear.forward(gpu.tensor(x, [batch.length, train.dim]));
          const diff = ops.add(pred, ops.mulScalar(gpu.tensor(target, [batch.length, a]), -1));
          const loss = ops.mulScalar(ops.sumOfSquares(diff), 1 / (batch.length * a));
          backward(loss);
          const value = (await loss.data())[0];
          optimizer.step(linear);
          optimizer.zeroGrad(linear);
          return value * batch.length;
        });
      }
      trainLoss = sum / order.length;
      if (!Number.isFinite(trainLoss)) throw new GraftError(`trainAttributeHead: the loss is ${trainLoss} at epoch ${epoch + 1}; lower the learning rate`);
    }
  } finally {
    optimizer.dispose();
  }
  return { linear, mean, std, trainLoss, dispose: () => linear.dispose() };
}

/** Predicted attributes [n, A] of every row. */
export async function predictAttributes(gpu: Gpu, head: AttributeHead, f: FeatureMatrix): Promise<Float32Array> {
  const x = standardize(f, head.mean, head.std, [...f.labels.keys()]);
  return noGrad(() => scope(async () => (await head.linear.forward(gpu.tensor(x, [f.labels.length, f.dim])).data()) as Float32Array));
}

export interface ZeroShotResult {
  unseen: number[];
  seen: number[];
  /** Unseen test items classified among the unseen classes only. */
  zsl: { accuracy: number; chance: number; items: number; perClass: { cls: number; accuracy: number; items: number }[] };
  /** All test items classified among all classes: accuracy on unseen and on seen items, and their harmonic mean. */
  gzsl: { unseenAccuracy: number; seenAccuracy: number; harmonicMean: number; chance: number };
  /** The attribute head's final training error. */
  trainLoss: number;
}

const share = (pred: Int32Array, labels: Int32Array, rows: number[]) => (rows.length ? rows.filter((r) => pred[r] === labels[r]).length / rows.length : Number.NaN);

/** Train an attribute head on the seen classes of `train`, then evaluate ZSL and GZSL on `test`. */
export async function zeroShot(gpu: Gpu, train: FeatureMatrix, test: FeatureMatrix, o: AttributeHeadOptions & { unseen?: readonly number[]; attributes?: readonly (readonly number[])[] } = {}): Promise<ZeroShotResult> {
  const attributes = o.attributes ?? FASHION_ATTRIBUTES;
  const unseen = [...(o.unseen ?? FASHION_UNSEEN)];
  const all = attributes.map((_, c) => c);
  const seen = all.filter((c) => !unseen.includes(c));
  if (unseen.length < 2) throw new GraftError('zeroShot: hold out at least two classes');
  if (train.dim !== test.dim) throw new GraftError(`zeroShot: train features have ${train.dim} values, test ${test.dim}`);
  const head = await trainAttributeHead(gpu, train, attributes, seen, o);
  try {
    const predicted = await predictAttributes(gpu, head, test);
    const rows = (classes: number[]) => [...test.labels.keys()].filter((i) => classes.includes(test.labels[i]));
    const unseenRows = rows(unseen);
    if (!unseenRows.length) throw new GraftError(`zeroShot: the test set has no items of the unseen classes [${unseen.join(', ')}]`);
    const zslPred = nearestByCosine(predicted, attributes, unseen);
    const gzslPred = nearestByCosine(predicted, attributes, all);
    const u = share(gzslPred, test.labels, unseenRows);
    const s = share(gzslPred, test.labels, rows(seen));
    return {
      unseen,
      seen,
      zsl: {
        accuracy: share(zslPred, test.labels, unseenRows),
        chance: 1 / unseen.length,
        items: unseenRows.length,
        perClass: unseen.map((cls) => ({ cls, accuracy: share(zslPred, test.labels, rows([cls])), items: rows([cls]).length })),
      },
      gzsl: { unseenAccuracy: u, seenAccuracy: s, harmonicMean: u + s > 0 ? (2 * u * s) / (u + s) : 0, chance: 1 / all.length },
      trainLoss: head.trainLoss,
    };
  } finally {
    head.dispose();
  }
}

/** A feature dataset (e.g. FeatureSet.dataset) as a host matrix. */
export async function featureMatrix(data: { length: number; itemShape: readonly number[]; label(i: number): number; read(i: readonly number[]): Promise<Float32Array> }): Promise<FeatureMatrix> {
  const indices = Array.from({ length: data.length }, (_, i) => i);
  const dim = data.itemShape.reduce((x, y) => x * y, 1);
  return { values: await data.read(indices), labels: Int32Array.from(indices, (i) => data.label(i)), dim };
}
