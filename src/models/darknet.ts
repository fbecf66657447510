// Darknet's "tiny" ImageNet classifier (darknet.cfg `tiny`): 15 conv + batchnorm + LeakyReLU(0.1)
// blocks with 4 max pools, then global average pooling and a 1000-way classifier.
//
// Names (torchvision style; readLayersModel produces exactly these from the Keras/TF.js model):
//   features.{i}.conv.weight            Conv2D kernel, OIHW, no bias
//   features.{i}.bn.weight / .bias      BatchNormalization gamma / beta
//   features.{i}.bn.running_mean / .running_var / .num_batches_tracked
//   features.{i}                        (pools take an index too, as in torchvision's VGG)
//   classifier.weight [classes, 128] / classifier.bias
// i: 0 conv16 3x3 | 1 pool | 2 conv32 3x3 | 3 pool | 4 conv16 1x1 | 5 conv128 3x3 | 6 conv16 1x1 |
//    7 conv128 3x3 | 8 pool | 9 conv32 1x1 | 10 conv256 3x3 | 11 conv32 1x1 | 12 conv256 3x3 |
//    13 pool | 14 conv64 1x1 | 15 conv512 3x3 | 16 conv64 1x1 | 17 conv512 3x3 | 18 conv128 1x1
// The original's last layer is a 1x1 convolution (with bias) followed by the global average; the
// average of a 1x1 convolution is the Linear map of the average, so here it is a Linear classifier
// after the pooling (cheaper, and the usual place to cut for a new head).
//
// Keras details kept: convolutions pad 'same' (3x3 -> 1, 1x1 -> 0), max pools 2x2 stride 2 pad 'same'
// (no padding for even sizes; the extra row/column at the bottom/right for odd ones), batchnorm
// eps 1e-3 and Keras momentum 0.99 (torch momentum 0.01).
//
// Transfer learning as for VGG/ResNet (heads.ts): `includeTop: false` ends with the pooled features
// [N, 128]; withHead(net, { classes, dropout }) puts a new `classifier` (after a parameter-less
// `dropout`) in place; cut points are the stages between pools.
import type { Gpu } from '../graph/gpu.ts';
import { Module } from '../graph/module.ts';
import * as ops from '../graph/ops.ts';
import type { Tensor } from '../graph/tensor.ts';
import { GraftError } from '../core/index.ts';
import { type HeadOptions, ImageClassifier, type ModelOptions, checkClasses, checkImageInput, seedStream } from './heads.ts';
import type { Preprocessing } from './image.ts';
import { type Stage, flatten, headStage, single } from './stages.ts';
import { BatchNorm2d, Conv2d, Dropout, type LayerInit, LeakyReLU, Linear, MaxPool2d, Sequential, convBnAct } from './layers.ts';

export interface ConvBnLeakyOptions {
  slope?: number;
  eps?: number;
  momentum?: number;
  seed?: number;
  init?: LayerInit;
}

/** Conv2d (no bias, 'same' padding) -> BatchNorm2d -> LeakyReLU: children conv, bn, act. */
export class ConvBnLeaky extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  readonly act: LeakyReLU;
  constructor(gpu: Gpu, inChannels: number, outChannels: number, kernelSize: number, { slope = 0.1, eps = 1e-3, momentum = 0.01, seed, init }: ConvBnLeakyOptions = {}) {
    super();
    if (kernelSize % 2 !== 1) throw new GraftError(`ConvBnLeaky: kernel size ${kernelSize} must be odd ('same' padding is symmetric only for odd kernels)`);
    this.conv = this.addModule('conv', new Conv2d(gpu, inChannels, outChannels, kernelSize, { padding: (kernelSize - 1) / 2, bias: false, seed, init }));
    this.bn = this.addModule('bn', new BatchNorm2d(gpu, outChannels, { eps, momentum }));
    this.act = this.addModule('act', new LeakyReLU(slope));
  }
  forward(x: Tensor): Tensor {
    return convBnAct(this.conv, this.bn, x, { activation: 'leakyRelu', slope: this.act.negativeSlope });
  }
}

/** [out channels, kernel] per conv block; 'M' a 2x2 stride-2 max pool. */
const TINY: (readonly [number, number] | 'M')[] = [
  [16, 3], 'M', [32, 3], 'M',
  [16, 1], [128, 3], [16, 1], [128, 3], 'M',
  [32, 1], [256, 3], [32, 1], [256, 3], 'M',
  [64, 1], [512, 3], [64, 1], [512, 3], [128, 1],
];

/** What images the ImageNet weights expect: RGB in [0, 1] at 224x224, no mean subtraction. */
export const DARKNET_PREPROCESSING: Readonly<Preprocessing> = Object.freeze<Preprocessing>({
  size: [224, 224],
  channels: 'RGB',
  scale: 1 / 255,
  mean: [0, 0, 0],
  std: [1, 1, 1],
  resize: 'bilinear',
  crop: 'none',
});

export type DarknetOptions = ModelOptions;

export class DarknetTiny extends ImageClassifier {
  readonly arch = 'darknet-tiny';
  readonly features: Sequential;
  classifier: Linear | null = null;
  /** Parameter-less dropout before a classifier attached by withHead (identity in eval mode). */
  dropout: Dropout | null = null;
  /** Channels of the pooled features (the classifier's input). */
  readonly numFeatures: number;
  /** The first block after each pool, and the classifier. */
  readonly cutPoints = ['features', 'features.0', 'features.2', 'features.4', 'features.9', 'features.14', 'classifier'];

  constructor({ gpu, includeTop = true, classes = 1000, seed, init }: DarknetOptions) {
    super(gpu, { ...DARKNET_PREPROCESSING, size: [...DARKNET_PREPROCESSING.size], mean: [0, 0, 0], std: [1, 1, 1] });
    checkClasses('darknetTiny', classes);
    const nextSeed = seedStream(seed);
    let channels = 3;
    const items: Module[] = [];
    for (const spec of TINY) {
      if (spec === 'M') {
        items.push(new MaxPool2d(2, 2, 'same'));
        continue;
      }
      const [out, kernel] = spec;
      items.push(new ConvBnLeaky(gpu, channels, out, kernel, { seed: nextSeed(), init }));
      channels = out;
    }
    this.numFeatures = channels;
    this.features = this.addModule('features', new Sequential(...items));
    if (includeTop) this.classifier = this.addModule('classifier', new Linear(gpu, channels, classes, { seed: nextSeed(), init }));
  }

  /** x: [N, 3, H, W] (224x224 for the ImageNet weights) -> logits [N, classes], or features [N, 128] without a classifier. */
  forward(x: Tensor): Tensor {
    checkImageInput(this.arch, x, 1);
    const pooled = ops.globalAvgPool(this.features.forward(x));
    const flat = ops.reshape(pooled, [x.shape[0], this.numFeatures]);
    if (!this.classifier) return flat;
    return this.classifier.forward(this.dropout ? this.dropout.forward(flat) : flat);
  }

  /** `features.0` .. `features.18`, `pool`, `classifier` (its dropout included). */
  stages(): Stage[] {
    const s = this.features.layers.map((m, i) => single(`features.${i}`, m));
    s.push(flatten('pool', (x) => ops.globalAvgPool(x), this.numFeatures));
    if (this.classifier) s.push(headStage('classifier', this.dropout, this.classifier));
    return s;
  }

  /** A new `classifier` Linear(128, classes), after a `dropout` when asked; the old one is disposed. */
  attachHead({ classes, dropout, seed }: HeadOptions): void {
    this.classifier?.dispose();
    if (dropout || this.dropout) this.dropout = this.addModule('dropout', new Dropout(dropout ?? 0));
    this.classifier = this.addModule('classifier', new Linear(this.gpu, this.numFeatures, classes, { seed }));
    this.train(this.training); // new modules take the model's current mode
  }
}

/** The Darknet tiny classifier, freshly initialised; load weights with readLayersModel + loadStateDict. */
export function darknetTiny(options: DarknetOptions): DarknetTiny {
  return new DarknetTiny(options);
}
