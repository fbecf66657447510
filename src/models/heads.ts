// What VGG and ResNet share as image classifiers: construction options, the preprocessing they
// carry, named cut points for freezing, fused layer runs, and the classifier head that transfer
// learning replaces (withHead).
import type { Gpu } from '../graph/gpu.ts';
import { Module } from '../graph/module.ts';
import * as ops from '../graph/ops.ts';
import { type Tensor, noGrad, scope } from '../graph/tensor.ts';
import { GraftError, shapeStr } from '../core/index.ts';
import type { Preprocessing } from './image.ts';
import { type ModelSummary, summarize } from './summary.ts';
import { BatchNorm2d, Conv2d, type LayerInit, Linear, ReLU, convBnAct } from './layers.ts';

export interface ModelOptions {
  gpu: Gpu;
  /** Keep the ImageNet classifier (default). false: the network ends with its pooled features [N, numFeatures]. */
  includeTop?: boolean;
  /** Outputs of the classifier (default 1000, ImageNet). */
  classes?: number;
  /** Seed of the random initialisation (a fixed per-process sequence without it). */
  seed?: number;
  /** 'uniform' (torch's layer default) or 'zeros': skip the random numbers when weights are loaded next. */
  init?: LayerInit;
}

export interface HeadOptions {
  /** Outputs of the new classifier. */
  classes: number;
  /** Dropout before the new classifier (VGG with its classifier: the p of its two dropouts). */
  dropout?: number;
  seed?: number;
}

/** A per-layer seed sequence from one model seed (undefined without one: the layers' own counter). */
export function seedStream(seed?: number): () => number | undefined {
  let i = 0;
  return () => (seed === undefined ? undefined : (seed * 1_000_003 + 7919 * ++i) >>> 0);
}

export function checkClasses(what: string, classes: number): void {
  if (!Number.isInteger(classes) || classes < 1) throw new GraftError(`${what}: classes must be a positive integer, got ${classes}`);
}

export function checkDropout(what: string, p: number | undefined): void {
  if (p !== undefined && !(p >= 0 && p < 1)) throw new GraftError(`${what}: dropout must be in [0, 1), got ${p}`);
}

/** Throw unless x is an image batch [N, 3, H, W] with H, W >= minSize. */
export function checkImageInput(arch: string, x: Tensor, minSize: number): void {
  const ok = x.shape.length === 4 && x.shape[1] === 3 && x.shape[0] >= 1 && x.shape[2] >= minSize && x.shape[3] >= minSize;
  if (!ok) throw new GraftError(`${arch}: input expected [N, 3, H, W] with H, W >= ${minSize}, got ${shapeStr(x.shape)}`);
}

/**
 * Run layers in order, fusing a ReLU into the Conv2d or Linear just before it (one kernel, the
 * ReLU's backward read from the output's sign), and a Conv2d + BatchNorm2d [+ ReLU] through
 * convBnAct (one kernel at inference). The ReLU modules stay in the tree for the names.
 */
export function runFused(layers: readonly Module[], x: Tensor): Tensor {
  let y = x;
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i];
    const reluNext = layers[i + 1] instanceof ReLU;
    const bnNext = layers[i + 1] instanceof BatchNorm2d;
    if (bnNext && layer instanceof Conv2d) {
      // conv + BN [+ ReLU] (vgg_bn): one dispatch at inference (convBnAct).
      const relu = layers[i + 2] instanceof ReLU;
      y = convBnAct(layer, layers[i + 1] as BatchNorm2d, y, { activation: relu ? 'relu' : 'none' });
      i += relu ? 2 : 1;
    } else if (reluNext && layer instanceof Conv2d) {
      y = ops.conv2d(y, layer.weight, layer.bias, { stride: layer.stride, padding: layer.padding, activation: 'relu' });
      i++;
    } else if (reluNext && layer instanceof Linear) {
      y = ops.linear(y, layer.weight, layer.bias, { activation: 'relu' });
      i++;
    } else {
      y = layer.forward(y);
    }
  }
  return y;
}

export interface Prediction {
  /** The most probable classes, best first. */
  top: { index: number; label: string; probability: number }[];
  /** Every class's probability. */
  probabilities: Float32Array;
}

/** A network for images with its architecture name, preprocessing, cut points and a replaceable head. */
export abstract class ImageClassifier extends Module {
  /** torchvision's name of the architecture ('vgg16_bn', 'resnet50', ...). */
  abstract readonly arch: string;
  /** Size of the pooled features, the input of the classifier. */
  abstract readonly numFeatures: number;
  /**
   * Names to freeze / unfreeze at, in forward order: whole stages (VGG `features`, ResNet `layer3`)
   * and the first layer of each block (VGG `features.24`).
   */
  abstract readonly cutPoints: readonly string[];
  /** How images become this network's input; see preprocess(). Set it to match the loaded weights. */
  preprocessing: Preprocessing;
  readonly gpu: Gpu;

  constructor(gpu: Gpu, preprocessing: Preprocessing) {
    super();
    this.gpu = gpu;
    this.preprocessing = preprocessing;
  }

  /** Class names in output order, where the weights came with them (e.g. darknet-tiny's labels.txt). */
  labels: string[] | null = null;

  /**
   * Class probabilities of a batch [N, 3, H, W] (already preprocessed, e.g. by preprocess()), in
   * eval mode and without recording gradients; the top `top` classes of each image, with labels.
   * The model's train/eval mode is restored afterwards.
   */
  async predict(x: Tensor, { top = 5 }: { top?: number } = {}): Promise<Prediction[]> {
    const wasTraining = this.training;
    this.eval();
    try {
      const probs = await scope(() => noGrad(() => ops.softmax(this.forward(x)).data()));
      const n = x.shape[0];
      const c = probs.length / n;
      const out: Prediction[] = [];
      for (let i = 0; i < n; i++) {
        const row = Array.from(probs.subarray(i * c, (i + 1) * c));
        const order = row.map((p, k) => [p, k] as const).sort((a, b) => b[0] - a[0]).slice(0, top);
        out.push({ top: order.map(([p, k]) => ({ index: k, label: this.labels?.[k] ?? `class ${k}`, probability: p })), probabilities: Float32Array.from(row) });
      }
      return out;
    } finally {
      this.train(wasTraining);
    }
  }

  /**
   * Keras's model.summary(): each module's output shape for a [1, 3, H, W] input (default: the
   * preprocessing's size), parameters and trainable parameters, and the totals. formatSummary()
   * prints it as a table.
   */
  summary(size: readonly [number, number] = this.preprocessing.size as [number, number]): Promise<ModelSummary> {
    return summarize(this, size);
  }

  /** Attach a new classifier with `classes` outputs (replacing the old one); see withHead. */
  abstract attachHead(options: HeadOptions): void;

  /**
   * Make `name` (a module or parameter name, e.g. 'features.24' or 'layer4') and everything after it
   * in forward order trainable: the Keras way to open the top of a frozen network.
   */
  unfreezeFrom(name: string): this {
    const params = this.namedParameters();
    const first = params.findIndex(([n]) => n === name || n.startsWith(name + '.'));
    if (first < 0) throw new GraftError(`unfreezeFrom('${name}'): ${this.arch} has no parameter named '${name}' or under it (cut points: ${this.cutPoints.join(', ')})`);
    for (const [, p] of params.slice(first)) p.trainable = true;
    return this;
  }
}

/**
 * Transfer learning's new head, attached in place (the same model is returned, names unchanged):
 *  - with the ImageNet classifier (includeTop), its last Linear is replaced by one with `classes`
 *    outputs: VGG `classifier.6`, ResNet `fc`, exactly what torchvision builds for num_classes = classes;
 *  - without it, a Linear(numFeatures, classes) is attached: ResNet `fc` (torchvision's layout
 *    again), VGG `head` (on the flattened 7x7 average pool), after a parameter-less dropout.
 */
export function withHead<M extends ImageClassifier>(base: M, options: HeadOptions): M {
  if (!(base instanceof ImageClassifier)) throw new GraftError('withHead: expects a model built by models.vgg*/resnet* (an ImageClassifier)');
  checkClasses(`withHead(${base.arch})`, options.classes);
  checkDropout(`withHead(${base.arch})`, options.dropout);
  base.attachHead(options);
  return base;
}
