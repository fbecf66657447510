// VGG 11/13/16/19, with or without batch norm, as torchvision builds them (names and shapes of
// every state-dict key match: features.28.weight, classifier.6.bias, ...).
//
//   features    3x3 convs (padding 1, with bias) [+ BatchNorm2d] + ReLU, a 2x2 max pool per block
//   avgpool     AdaptiveAvgPool2d((7, 7)): any input of 32x32 or more reaches the classifier as
//               512 x 7 x 7 (a 2x2 map is spread over 7x7 bins, as torch does)
//   classifier  Linear(25088, 4096) ReLU Dropout Linear(4096, 4096) ReLU Dropout Linear(4096, classes)
// A ReLU is fused into the conv or linear before it (runFused). VGG16's classifier.0.weight is
// 411 MB, over WebGPU's default storage-binding limit: matmul binds it in ranges.
import { Module } from '../graph/module.ts';
import * as ops from '../graph/ops.ts';
import type { Tensor } from '../graph/tensor.ts';
import { GraftError } from '../core/index.ts';
import { type HeadOptions, ImageClassifier, type ModelOptions, checkClasses, checkDropout, checkImageInput, runFused, seedStream } from './heads.ts';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Linear, MaxPool2d, ReLU, Sequential } from './layers.ts';
import { PREPROCESSING } from './preprocess.ts';
import { type Stage, flatten, headStage, layerStages } from './stages.ts';

export type VggDepth = 11 | 13 | 16 | 19;

/** Output channels of each conv at width 64; 'M' a 2x2 max pool (torchvision's configs A, B, D, E). */
const CONFIGS: Record<VggDepth, (number | 'M')[]> = {
  11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M'],
};

export interface VggOptions extends ModelOptions {
  /** BatchNorm2d after every conv (the `_bn` archs). */
  batchNorm?: boolean;
  /** Channels of the first block, 64 in torchvision; the others scale with it (narrow nets for tests). */
  width?: number;
  /** Width of the two hidden classifier layers, 4096 in torchvision. */
  hidden?: number;
  /** p of the classifier's two dropouts (0.5). */
  dropout?: number;
}

export class VGG extends ImageClassifier {
  readonly arch: string;
  readonly features: Sequential;
  readonly avgpool: AdaptiveAvgPool2d;
  /** torchvision's classifier (includeTop), or null. */
  classifier: Sequential | null = null;
  /** The head withHead attaches to a network built without its classifier. */
  head: Linear | null = null;
  /** The dropout before `head`. */
  dropout: Dropout | null = null;
  readonly numFeatures: number;
  private readonly featureCuts: string[];

  constructor(depth: VggDepth, { gpu, includeTop = true, classes = 1000, seed, init, batchNorm = false, width = 64, hidden = 4096, dropout = 0.5 }: VggOptions) {
    super(gpu, PREPROCESSING.torchvision);
    const cfg = CONFIGS[depth];
    this.arch = `vgg${depth}${batchNorm ? '_bn' : ''}`;
    if (!cfg) throw new GraftError(`vgg: depth ${depth} is not one of 11, 13, 16, 19`);
    if (!Number.isInteger(width) || width < 1 || (width * 8) % 64 !== 0) throw new GraftError(`${this.arch}: width ${width} must be a positive multiple of 8`);
    if (!Number.isInteger(hidden) || hidden < 1) throw new GraftError(`${this.arch}: hidden ${hidden} must be a positive integer`);
    checkClasses(this.arch, classes);
    checkDropout(this.arch, dropout);
    const nextSeed = seedStream(seed);
    const layers: Module[] = [];
    const cuts = ['features', 'features.0'];
    let channels = 3;
    for (const [i, v] of cfg.entries()) {
      if (v === 'M') {
        layers.push(new MaxPool2d(2, 2));
        if (i < cfg.length - 1) cuts.push(`features.${layers.length}`);
        continue;
      }
      const out = (v * width) / 64;
      layers.push(new Conv2d(gpu, channels, out, 3, { padding: 1, seed: nextSeed(), init }));
      if (batchNorm) layers.push(new BatchNorm2d(gpu, out));
      layers.push(new ReLU());
      channels = out;
    }
    this.features = this.addModule('features', new Sequential(...layers));
    this.avgpool = this.addModule('avgpool', new AdaptiveAvgPool2d([7, 7]));
    this.numFeatures = channels * 7 * 7;
    if (includeTop) {
      const classifier = new Sequential(
        new Linear(gpu, this.numFeatures, hidden, { seed: nextSeed(), init }),
        new ReLU(),
        new Dropout(dropout, nextSeed()),
        new Linear(gpu, hidden, hidden, { seed: nextSeed(), init }),
        new ReLU(),
        new Dropout(dropout, nextSeed()),
        new Linear(gpu, hidden, classes, { seed: nextSeed(), init }),
      );
      this.classifier = this.addModule('classifier', classifier);
    }
    this.featureCuts = cuts;
  }

  get cutPoints(): readonly string[] {
    return [...this.featureCuts, ...(this.classifier ? ['classifier'] : []), ...(this.head ? ['head'] : [])];
  }

  /** x: [N, 3, H, W], H, W >= 32 -> logits [N, classes], or features [N, numFeatures] without a classifier or head. */
  forward(x: Tensor): Tensor {
    checkImageInput(this.arch, x, 32);
    const pooled = this.avgpool.forward(runFused(this.features.layers, x));
    const flat = ops.reshape(pooled, [x.shape[0], this.numFeatures]);
    if (this.classifier) return runFused(this.classifier.layers, flat);
    if (this.head) return this.head.forward(this.dropout!.forward(flat));
    return flat;
  }

  /** `features.i` (a conv and its ReLU together), `avgpool`, then `classifier.i` or `head`. */
  stages(): Stage[] {
    const s = layerStages('features', this.features.layers);
    s.push(flatten('avgpool', (x) => this.avgpool.forward(x), this.numFeatures));
    if (this.classifier) s.push(...layerStages('classifier', this.classifier.layers));
    else if (this.head) s.push(headStage('head', this.dropout, this.head));
    return s;
  }

  attachHead({ classes, dropout, seed }: HeadOptions): void {
    if (this.classifier) {
      const layers = [...this.classifier.layers];
      const old = layers[6] as Linear;
      layers[6] = new Linear(this.gpu, old.inFeatures, classes, { seed });
      if (dropout !== undefined) for (const i of [2, 5]) layers[i] = new Dropout(dropout, (layers[i] as Dropout).seed);
      old.dispose();
      this.classifier = this.addModule('classifier', new Sequential(...layers).train(this.training));
      return;
    }
    this.head?.dispose();
    // New modules take the model's mode (a dropout added after eval() stays off).
    this.dropout = this.addModule('dropout', new Dropout(dropout ?? 0).train(this.training));
    this.head = this.addModule('head', new Linear(this.gpu, this.numFeatures, classes, { seed }).train(this.training));
  }
}

export function vgg(depth: VggDepth, options: VggOptions): VGG {
  return new VGG(depth, options);
}
