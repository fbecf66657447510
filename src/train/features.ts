// A model as a list of stages in forward order, cut in two at a named point: the frozen part below
// the cut runs ONCE over a dataset (eval mode, noGrad) and its outputs are cached as a new dataset;
// the part from the cut on (a ModelTail, sharing the model's parameters under their own names)
// trains on the cached outputs, with no forward pass through the frozen part per epoch.
// The stages come from the model (models/stages.ts).
import { Module } from '../graph/module.ts';
import * as ops from '../graph/ops.ts';
import { type Tensor, noGrad, scope, tensor } from '../graph/tensor.ts';
import { GraftError, shapeStr } from '../core/index.ts';

import { type Stage, modelStages } from '../models/stages.ts';

export { type Stage, type Staged, modelStages } from '../models/stages.ts';
import { type GpuPreprocessing, preprocessOnGpu } from '../data/augment.ts';
import { ArrayDataset, DataLoader, type Dataset, type ItemShape } from '../data/data.ts';

const under = (name: string, cut: string) => cut === '' || name === cut || name.startsWith(cut + '.');

/** Index of the first stage at or under `cut` (a stage or module name; '' is the first stage). */
export function cutIndex(stages: readonly Stage[], cut: string): number {
  const i = stages.findIndex((s) => under(s.name, cut) || s.modules.some(([n]) => under(n, cut)));
  if (i < 0) throw new GraftError(`no stage is named '${cut}' or starts with '${cut}.' (stages: ${stages.map((s) => s.name).join(', ')})`);
  return i;
}

/** The name of the last stage with parameters: the classifier a recipe treats as the head. */
export function headCut(model: Module): string {
  const stages = modelStages(model);
  for (let i = stages.length - 1; i >= 0; i--) if (stages[i].modules.some(([, m]) => m.parameters().length)) return stages[i].name;
  throw new GraftError(`${model.constructor.name}: no stage has parameters`);
}

/** Parameter names of the stages from index `from` on. */
export function parameterNamesFrom(stages: readonly Stage[], from: number): Set<string> {
  const names = new Set<string>();
  for (const s of stages.slice(from)) for (const [prefix, m] of s.modules) for (const [n] of m.namedParameters(prefix)) names.add(n);
  return names;
}

/** Freeze every parameter of the model, then make those of the stages from `cut` on trainable. Returns the trainable count. */
export function trainFrom(model: Module, cut: string): number {
  const stages = modelStages(model);
  const names = parameterNamesFrom(stages, cutIndex(stages, cut));
  let count = 0;
  for (const [n, p] of model.namedParameters()) {
    p.trainable = names.has(n);
    if (p.trainable) count += p.size;
  }
  return count;
}

/**
 * The stages from a cut on, as a Module whose parameters ARE the model's (same tensors, same names:
 * optimizers, penalties and checkpoints see `features.14.conv.weight`). Its input is a batch of the
 * stage before's outputs, [N, ...inputShape] (or anything reshapeable to it, as cached items are).
 */
export class ModelTail extends Module {
  constructor(readonly stages: readonly Stage[], readonly inputShape: readonly number[]) {
    super();
    if (!stages.length) throw new GraftError('ModelTail: no stages after the cut');
    for (const s of stages) for (const [name, m] of s.modules) this.addModule(name, m);
  }
  forward(x: Tensor): Tensor {
    const want = [x.shape[0], ...this.inputShape];
    let y = want.join() === x.shape.join() ? x : ops.reshape(x, want);
    for (const s of this.stages) y = s.run(y);
    return y;
  }
  /** The parameters belong to the model: disposing the tail leaves them alone. */
  override dispose(): void {}
}

export interface FeatureOptions {
  /** Where the cached part ends: the stage the tail starts at (default: the head, see headCut). */
  cut?: string;
  batchSize?: number;
  /** Applied to each batch of images before the first stage (e.g. resize, gray -> RGB, normalisation). */
  preprocess?: GpuPreprocessing;
  /** Called after each batch with the items done so far and the dataset's size. */
  onProgress?: (done: number, total: number) => void;
}

export interface FeatureSet {
  /** The outputs below the cut, one item per input item, same labels and classes. */
  dataset: ArrayDataset;
  /** One item's output shape ([128] for pooled features, [256, 2, 2] for a feature map). */
  shape: number[];
  cut: string;
  seconds: number;
}

/** The part of `model` below `cut` as a function of a batch (no grad bookkeeping is implied: call it under noGrad). */
export function prefixOf(model: Module, cut: string): (x: Tensor) => Tensor {
  const stages = modelStages(model);
  const below = stages.slice(0, cutIndex(stages, cut));
  return (x) => below.reduce((y, s) => s.run(y), x);
}

/**
 * Run the model up to `cut` over a dataset once, in eval mode (BatchNorm on running statistics,
 * Dropout off) under noGrad, and keep the outputs on the host as a dataset for the tail to train on.
 */
export async function extractFeatures(model: Module, data: Dataset, o: FeatureOptions = {}): Promise<FeatureSet> {
  const cut = o.cut ?? headCut(model);
  const prefix = prefixOf(model, cut);
  const rt = model.parameters()[0]?.rt;
  if (!rt) throw new GraftError('extractFeatures: the model has no parameters');
  const started = performance.now();
  const wasTraining = model.training;
  model.eval();
  let values: Float32Array | null = null;
  let shape: number[] = [];
  let at = 0;
  try {
    for await (const b of new DataLoader(data, { batchSize: o.batchSize ?? 64 }).batches(0)) {
      const out = await noGrad(() =>
        scope(async () => {
          let x = tensor(rt, b.x, b.shape);
          if (o.preprocess) x = preprocessOnGpu(x, o.preprocess);
          const y = prefix(x);
          return { data: (await y.data()) as Float32Array, shape: y.shape.slice(1) };
        }),
      );
      if (!values) {
        shape = out.shape;
        values = new Float32Array(data.length * (out.data.length / b.y.length));
      } else if (out.shape.join() !== shape.join()) throw new GraftError(`extractFeatures: batch ${b.step} gave items of ${shapeStr(out.shape)}, the first ${shapeStr(shape)}`);
      values.set(out.data, at);
      at += out.data.length;
      o.onProgress?.(Math.min(data.length, (b.step + 1) * (o.batchSize ?? 64)), data.length);
    }
  } finally {
    model.train(wasTraining);
  }
  const itemShape = (shape.length === 3 ? shape : [shape.reduce((a, b) => a * b, 1), 1, 1]) as unknown as ItemShape;
  const labels = Int32Array.from({ length: data.length }, (_, i) => data.label(i));
  const dataset = new ArrayDataset({ images: values!, labels, shape: itemShape, numClasses: data.numClasses, classNames: data.classNames ?? undefined, name: `${data.name} (features below ${cut || 'the input'})`, scale: 1 });
  return { dataset, shape, cut, seconds: (performance.now() - started) / 1000 };
}

/** The model's stages from `cut` on, taking cached features of `shape` (FeatureSet.shape). */
export function tailFrom(model: Module, cut: string, shape: readonly number[]): ModelTail {
  const stages = modelStages(model);
  return new ModelTail(stages.slice(cutIndex(stages, cut)), shape);
}
