// ResNet 18/34/50/101/152 as torchvision builds them (v1.5: a Bottleneck strides in its 3x3 conv),
// with torchvision's names: conv1, bn1, layer1..layer4 of blocks (conv1, bn1, conv2, bn2[, conv3,
// bn3], downsample.0 / downsample.1), fc.
//
//   stem     conv 7x7 stride 2 (no bias), BN, ReLU, max pool 3x3 stride 2 padding 1
//   layerK   blocks; the first block of layer2..4 halves the size (stride 2) and, when the shape
//            changes, its shortcut is downsample = conv 1x1 (stride s, no bias) + BN
//   head     AdaptiveAvgPool2d((1, 1)), flatten to [N, C], fc
// A block's output is relu(residual + shortcut).
import type { Gpu } from '../graph/gpu.ts';
import { Module } from '../graph/module.ts';
import * as ops from '../graph/ops.ts';
import type { Tensor } from '../graph/tensor.ts';
import { GraftError } from '../core/index.ts';
import { type HeadOptions, ImageClassifier, type ModelOptions, checkClasses, checkImageInput, seedStream } from './heads.ts';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, type LayerInit, Linear, MaxPool2d, ReLU, Sequential, convBnAct } from './layers.ts';
import { PREPROCESSING } from './preprocess.ts';
import { type Stage, flatten, headStage, single } from './stages.ts';

/** What a block needs to build its convs. */
interface BlockContext {
  gpu: Gpu;
  nextSeed: () => number | undefined;
  init?: LayerInit;
}

function conv(ctx: BlockContext, cin: number, cout: number, kernel: number, stride = 1): Conv2d {
  return new Conv2d(ctx.gpu, cin, cout, kernel, { stride, padding: (kernel - 1) / 2, bias: false, seed: ctx.nextSeed(), init: ctx.init });
}

/** conv 1x1 (stride s) + BN on the shortcut, when the block changes the shape. */
function downsample(ctx: BlockContext, cin: number, cout: number, stride: number): Sequential | null {
  if (stride === 1 && cin === cout) return null;
  return new Sequential(conv(ctx, cin, cout, 1, stride), new BatchNorm2d(ctx.gpu, cout));
}

/** The block's shortcut: x, or downsample (conv 1x1 + BN, folded at inference) of x. */
function shortcut(ds: Sequential | null, x: Tensor): Tensor {
  return ds ? convBnAct(ds.layers[0] as Conv2d, ds.layers[1] as BatchNorm2d, x) : x;
}

/**
 * Two 3x3 convs (resnet18, resnet34); the first strides. Each conv carries its batchnorm, ReLU
 * and (the second) the residual add in its epilogue at inference (layers.ts convBnAct).
 */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly relu: ReLU;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;
  constructor(ctx: BlockContext, cin: number, planes: number, stride: number) {
    super();
    this.conv1 = this.addModule('conv1', conv(ctx, cin, planes, 3, stride));
    this.bn1 = this.addModule('bn1', new BatchNorm2d(ctx.gpu, planes));
    this.relu = this.addModule('relu', new ReLU());
    this.conv2 = this.addModule('conv2', conv(ctx, planes, planes, 3));
    this.bn2 = this.addModule('bn2', new BatchNorm2d(ctx.gpu, planes));
    const ds = downsample(ctx, cin, planes, stride);
    this.downsample = ds && this.addModule('downsample', ds);
  }
  forward(x: Tensor): Tensor {
    const out = convBnAct(this.conv1, this.bn1, x, { activation: 'relu' });
    return convBnAct(this.conv2, this.bn2, out, { activation: 'relu', residual: shortcut(this.downsample, x) });
  }
}

/** 1x1 reduce, 3x3 (strided, torchvision v1.5), 1x1 expand to 4x planes (resnet50/101/152). */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly relu: ReLU;
  readonly downsample: Sequential | null;
  constructor(ctx: BlockContext, cin: number, planes: number, stride: number) {
    super();
    const out = planes * Bottleneck.expansion;
    this.conv1 = this.addModule('conv1', conv(ctx, cin, planes, 1));
    this.bn1 = this.addModule('bn1', new BatchNorm2d(ctx.gpu, planes));
    this.conv2 = this.addModule('conv2', conv(ctx, planes, planes, 3, stride));
    this.bn2 = this.addModule('bn2', new BatchNorm2d(ctx.gpu, planes));
    this.conv3 = this.addModule('conv3', conv(ctx, planes, out, 1));
    this.bn3 = this.addModule('bn3', new BatchNorm2d(ctx.gpu, out));
    this.relu = this.addModule('relu', new ReLU());
    const ds = downsample(ctx, cin, out, stride);
    this.downsample = ds && this.addModule('downsample', ds);
  }
  forward(x: Tensor): Tensor {
    const out = convBnAct(this.conv2, this.bn2, convBnAct(this.conv1, this.bn1, x, { activation: 'relu' }), { activation: 'relu' });
    return convBnAct(this.conv3, this.bn3, out, { activation: 'relu', residual: shortcut(this.downsample, x) });
  }
}

export type ResNetDepth = 18 | 34 | 50 | 101 | 152;

const LAYOUTS: Record<ResNetDepth, { block: typeof BasicBlock | typeof Bottleneck; blocks: [number, number, number, number] }> = {
  18: { block: BasicBlock, blocks: [2, 2, 2, 2] },
  34: { block: BasicBlock, blocks: [3, 4, 6, 3] },
  50: { block: Bottleneck, blocks: [3, 4, 6, 3] },
  101: { block: Bottleneck, blocks: [3, 4, 23, 3] },
  152: { block: Bottleneck, blocks: [3, 8, 36, 3] },
};

export interface ResNetOptions extends ModelOptions {
  /** Channels after the stem, 64 in torchvision; layerK has width * 2^(K-1) planes (narrow nets for tests). */
  width?: number;
}

export class ResNet extends ImageClassifier {
  readonly arch: string;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly relu: ReLU;
  readonly maxpool: MaxPool2d;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly layer4: Sequential;
  readonly avgpool: AdaptiveAvgPool2d;
  /** Dropout before fc: only withHead({ dropout }) adds one (torchvision's ResNet has none). */
  dropout: Dropout | null = null;
  /** The classifier (includeTop or withHead), or null. */
  fc: Linear | null = null;
  readonly numFeatures: number;

  constructor(depth: ResNetDepth, { gpu, includeTop = true, classes = 1000, seed, init, width = 64 }: ResNetOptions) {
    super(gpu, PREPROCESSING.torchvision);
    const layout = LAYOUTS[depth];
    if (!layout) throw new GraftError(`resnet: depth ${depth} is not one of 18, 34, 50, 101, 152`);
    this.arch = `resnet${depth}`;
    if (!Number.isInteger(width) || width < 1) throw new GraftError(`${this.arch}: width ${width} must be a positive integer`);
    checkClasses(this.arch, classes);
    const ctx: BlockContext = { gpu, nextSeed: seedStream(seed), init };
    this.conv1 = this.addModule('conv1', new Conv2d(gpu, 3, width, 7, { stride: 2, padding: 3, bias: false, seed: ctx.nextSeed(), init }));
    this.bn1 = this.addModule('bn1', new BatchNorm2d(gpu, width));
    this.relu = this.addModule('relu', new ReLU());
    this.maxpool = this.addModule('maxpool', new MaxPool2d(3, 2, 1));
    const { block: Block, blocks } = layout;
    let channels = width;
    const stage = (k: number): Sequential => {
      const planes = width * 2 ** k;
      const items: Module[] = [];
      for (let i = 0; i < blocks[k]; i++) {
        items.push(new Block(ctx, channels, planes, i === 0 && k > 0 ? 2 : 1));
        channels = planes * Block.expansion;
      }
      return this.addModule(`layer${k + 1}`, new Sequential(...items));
    };
    this.layer1 = stage(0);
    this.layer2 = stage(1);
    this.layer3 = stage(2);
    this.layer4 = stage(3);
    this.avgpool = this.addModule('avgpool', new AdaptiveAvgPool2d([1, 1]));
    this.numFeatures = channels;
    if (includeTop) this.fc = this.addModule('fc', new Linear(gpu, channels, classes, { seed: ctx.nextSeed(), init }));
  }

  get cutPoints(): readonly string[] {
    return ['conv1', 'bn1', 'layer1', 'layer2', 'layer3', 'layer4', ...(this.fc ? ['fc'] : [])];
  }

  /** x: [N, 3, H, W], H, W >= 32 -> logits [N, classes], or features [N, numFeatures] without fc. */
  forward(x: Tensor): Tensor {
    checkImageInput(this.arch, x, 32);
    let y = this.maxpool.forward(convBnAct(this.conv1, this.bn1, x, { activation: 'relu' }));
    y = this.layer4.forward(this.layer3.forward(this.layer2.forward(this.layer1.forward(y))));
    const flat = ops.reshape(this.avgpool.forward(y), [x.shape[0], this.numFeatures]);
    if (!this.fc) return flat;
    return this.fc.forward(this.dropout ? this.dropout.forward(flat) : flat);
  }

  /** `conv1`, `bn1` (with relu and maxpool), `layer1.0` .. `layer4.N` (one per block), `avgpool`, `fc` (with its dropout). */
  stages(): Stage[] {
    const s: Stage[] = [single('conv1', this.conv1)];
    s.push({ name: 'bn1', modules: [['bn1', this.bn1], ['relu', this.relu], ['maxpool', this.maxpool]], run: (x) => this.maxpool.forward(ops.relu(this.bn1.forward(x))) });
    for (const [k, layer] of [this.layer1, this.layer2, this.layer3, this.layer4].entries()) s.push(...layer.layers.map((b, i) => single(`layer${k + 1}.${i}`, b)));
    s.push(flatten('avgpool', (x) => this.avgpool.forward(x), this.numFeatures));
    if (this.fc) s.push(headStage('fc', this.dropout, this.fc));
    return s;
  }

  attachHead({ classes, dropout, seed }: HeadOptions): void {
    this.fc?.dispose();
    // Children keep their first position: a dropout added now still runs before fc (forward order).
    // New modules take the model's mode (a dropout added after eval() stays off).
    if (dropout !== undefined || this.dropout) this.dropout = this.addModule('dropout', new Dropout(dropout ?? 0).train(this.training));
    this.fc = this.addModule('fc', new Linear(this.gpu, this.numFeatures, classes, { seed }).train(this.training));
  }
}

export function resnet(depth: ResNetDepth, options: ResNetOptions): ResNet {
  return new ResNet(depth, options);
}
