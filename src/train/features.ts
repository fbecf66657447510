// A model as a list of stages in forward order, cut in two at a named point: the frozen part below
// the cut runs ONCE over a dataset (eval mode, noGrad) and its outputs are cached as a new dataset;
// the part from the cut on (a ModelTail, sharing the model's parameters under their own names)
// trains on the cached outputs, with no forward pass through the frozen part per epoch.
//
// Stages: Darknet `features.0` .. `features.18`, `pool`, `classifier` (its dropout included);
// ResNet `conv1`, `bn1` (with relu and maxpool), `layer1.0` .. `layer4.1` (one per block),
// `avgpool`, `fc` (with its dropout); VGG `features.i`, `avgpool`, `classifier.i` / `head`; a
// Sequential its layers `0`, `1`, ... (in layer lists a conv or linear and the ReLU fused into it
// are one stage, and a dropout belongs to the stage after it).
// Any other model may describe itself with a `stages()` method.
import { Module } from '../graph/module.ts';
import * as ops from '../graph/ops.ts';
import { type Tensor, noGrad, scope, tensor } from '../graph/tensor.ts';
import { GraftError, shapeStr } from '../core/index.ts';
import { DarknetTiny } from '../models/darknet.ts';
import { runFused } from '../models/heads.ts';
import { Conv2d, Dropout, Linear, ReLU, Sequential } from '../models/layers.ts';
import { ResNet } from '../models/resnet.ts';
import { VGG } from '../models/vgg.ts';
import { type GpuPreprocessing, preprocessOnGpu } from './augment.ts';
import { ArrayDataset, DataLoader, type Dataset, type ItemShape } from './data.ts';

export interface Stage {
  /** The name to cut at: the module path it starts with ('features.14', 'layer3.0', 'fc') or a step's name ('pool'). */
  name: string;
  /** [dotted name, module] of every module the stage runs: its parameters keep these names. */
  modules: [string, Module][];
  run(x: Tensor): Tensor;
}

/** A model that lists its own stages. */
export interface Staged {
  stages(): Stage[];
}

const single = (name: string, m: Module): Stage => ({ name, modules: [[name, m]], run: (x) => m.forward(x) });

/**
 * Layers of a Sequential as stages, named `${prefix}.i` (or `i`): a Conv2d/Linear and the ReLU after
 * it form one stage (run fused, as the models do), and a Dropout joins the stage after it, so that
 * a cut at a layer keeps the dropout in front of it in the trained part.
 */
function layerStages(prefix: string, layers: readonly Module[]): Stage[] {
  const named = (i: number) => (prefix ? `${prefix}.${i}` : String(i));
  const out: Stage[] = [];
  let dropoutAt: number | null = null;
  for (let i = 0; i < layers.length; i++) {
    if (layers[i] instanceof Dropout && i + 1 < layers.length) {
      dropoutAt ??= i;
      continue;
    }
    const pair = (layers[i] instanceof Conv2d || layers[i] instanceof Linear) && layers[i + 1] instanceof ReLU;
    const first = dropoutAt ?? i;
    const slice = layers.slice(first, pair ? i + 2 : i + 1);
    out.push({ name: named(i), modules: slice.map((m, k) => [named(first + k), m]), run: (x) => runFused(slice, x) });
    dropoutAt = null;
    if (pair) i++;
  }
  return out;
}

/** The head: an optional dropout, then the classifier. */
function headStage(name: string, dropout: Module | null, head: Module): Stage {
  return { name, modules: [...(dropout ? [['dropout', dropout] as [string, Module]] : []), [name, head]], run: (x) => head.forward(dropout ? dropout.forward(x) : x) };
}

const flatten = (name: string, pool: (x: Tensor) => Tensor, features: number): Stage => ({ name, modules: [], run: (x) => ops.reshape(pool(x), [x.shape[0], features]) });

/** The model's stages in forward order (see the top of this file). */
export function modelStages(model: Module): Stage[] {
  if (typeof (model as Partial<Staged>).stages === 'function') return (model as unknown as Staged).stages();
  if (model instanceof DarknetTiny) {
    const s = model.features.layers.map((m, i) => single(`features.${i}`, m));
    s.push(flatten('pool', (x) => ops.globalAvgPool(x), model.numFeatures));
    if (model.classifier) s.push(headStage('classifier', model.dropout, model.classifier));
    return s;
  }
  if (model instanceof ResNet) {
    const m = model;
    const s: Stage[] = [single('conv1', m.conv1)];
    s.push({ name: 'bn1', modules: [['bn1', m.bn1], ['relu', m.relu], ['maxpool', m.maxpool]], run: (x) => m.maxpool.forward(ops.relu(m.bn1.forward(x))) });
    for (const [k, layer] of [m.layer1, m.layer2, m.layer3, m.layer4].entries()) s.push(...layer.layers.map((b, i) => single(`layer${k + 1}.${i}`, b)));
    s.push(flatten('avgpool', (x) => m.avgpool.forward(x), m.numFeatures));
    if (m.fc) s.push(headStage('fc', m.dropout, m.fc));
    return s;
  }
  if (model instanceof VGG) {
    const s = layerStages('features', model.features.layers);
    s.push(flatten('avgpool', (x) => model.avgpool.forward(x), model.numFeatures));
    if (model.classifier) s.push(...layerStages('classifier', model.classifier.layers));
    else if (model.head) s.push(headStage('head', model.dropout, model.head));
    return s;
  }
  if (model instanceof Sequential) return layerStages('', model.layers);
  throw new GraftError(`${model.constructor.name}: cannot split this model into stages (give it a stages() method, or use a Sequential or a models.* network)`);
}

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
