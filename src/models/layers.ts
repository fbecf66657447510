// Layers with torchvision's parameter names and defaults: Conv2d, BatchNorm2d, Linear, ReLU,
// LeakyReLU, MaxPool2d, AdaptiveAvgPool2d, Dropout, Flatten, Sequential.
import type { Gpu } from '../graph/gpu.ts';
import { Module, type Parameter } from '../graph/module.ts';
import * as ops from '../graph/ops.ts';
import { mulberry32 } from '../graph/random.ts';
import type { Tensor } from '../graph/tensor.ts';
import { incrementCounter } from '../graph/inplace.ts';
import { GraftError, shapeStr } from '../core/index.ts';
import type { MaxPoolPadding } from '../graph/ops.ts';

/**
 * How Conv2d and Linear fill their parameters: 'uniform' is torch's default, U(-b, b) with
 * b = 1/sqrt(fanIn); 'zeros' skips the random numbers (weights are about to be loaded).
 */
export type LayerInit = 'uniform' | 'zeros';

/** U(-bound, bound) with bound = 1/sqrt(fanIn): torch's default for Conv2d and Linear. */
function uniformInit(gpu: Gpu, shape: number[], fanIn: number, seed: number, init: LayerInit = 'uniform'): Tensor {
  if (init === 'zeros') return gpu.zeros(shape);
  const rand = mulberry32(seed);
  const bound = 1 / Math.sqrt(fanIn);
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (rand() * 2 - 1) * bound;
  return gpu.tensor(v, shape);
}

let seedCounter = 1;
/** Seeds for initialisation: deterministic per process unless given. */
const nextSeed = () => seedCounter++ * 7919;

export interface Conv2dOptions {
  stride?: number;
  padding?: number;
  bias?: boolean;
  seed?: number;
  init?: LayerInit;
}

export class Conv2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly stride: number;
  readonly padding: number;
  constructor(gpu: Gpu, readonly inChannels: number, readonly outChannels: number, readonly kernelSize: number, opts: Conv2dOptions = {}) {
    super();
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    const seed = opts.seed ?? nextSeed();
    const fanIn = inChannels * kernelSize * kernelSize;
    this.weight = this.addParameter('weight', uniformInit(gpu, [outChannels, inChannels, kernelSize, kernelSize], fanIn, seed, opts.init));
    this.bias = opts.bias === false ? null : this.addParameter('bias', uniformInit(gpu, [outChannels], fanIn, seed + 1, opts.init));
  }
  forward(x: Tensor): Tensor {
    return ops.conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding });
  }
}

export interface BatchNorm2dOptions {
  eps?: number;
  momentum?: number;
}

/**
 * BatchNorm2d (weight, bias, running_mean, running_var, num_batches_tracked as torchvision).
 * Uses batch statistics only when the module is in train mode AND its weight is trainable: a frozen
 * BatchNorm stays in inference mode (running statistics), as Keras does for trainable = false and as
 * fine-tuning practice expects.
 */
export class BatchNorm2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  readonly eps: number;
  /** Running-statistics momentum (torch convention: new = (1 - m) * old + m * batch); settable for fine-tuning. */
  momentum: number;
  constructor(gpu: Gpu, readonly numFeatures: number, opts: BatchNorm2dOptions = {}) {
    super();
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
    this.weight = this.addParameter('weight', gpu.full([numFeatures], 1));
    this.bias = this.addParameter('bias', gpu.zeros([numFeatures]));
    this.addBuffer('running_mean', gpu.zeros([numFeatures]));
    this.addBuffer('running_var', gpu.full([numFeatures], 1));
    this.addBuffer('num_batches_tracked', gpu.tensor([0], [], 'i32'));
  }
  get usesBatchStats(): boolean {
    return this.training && this.weight.trainable;
  }
  /** Its parameters and running statistics, for folding into a conv (ops.conv2dBnAct). */
  inference(): ops.InferenceBatchNorm {
    return { gamma: this.weight, beta: this.bias, runningMean: this.buffer('running_mean'), runningVar: this.buffer('running_var'), eps: this.eps };
  }
  forward(x: Tensor): Tensor {
    return this.forwardAct(x);
  }
  /** The forward with a residual add and a ReLU / LeakyReLU fused into its normalising pass: act(bn(x) + residual). */
  forwardAct(x: Tensor, activation: 'none' | 'relu' | 'leakyRelu' = 'none', slope = 0.01, residual: Tensor | null = null): Tensor {
    const training = this.usesBatchStats;
    // torch counts every forward that updates the running statistics.
    if (training) incrementCounter(this.buffer('num_batches_tracked'));
    return ops.batchNorm2d(x, this.weight, this.bias, this.buffer('running_mean'), this.buffer('running_var'), {
      training,
      momentum: this.momentum,
      eps: this.eps,
      activation,
      slope,
      residual,
    });
  }
}

let fusionEnabled = true;

/** Run fn with every conv + batchnorm + activation as separate module calls (model.summary() sees each module's output). */
export function withoutFusion<T>(fn: () => T): T {
  const prev = fusionEnabled;
  fusionEnabled = false;
  try {
    return fn();
  } finally {
    fusionEnabled = prev;
  }
}

export interface ConvBnActOptions {
  activation?: 'none' | 'relu' | 'leakyRelu';
  /** leakyRelu's negative slope (>= 0). */
  slope?: number;
  /** Added after the batchnorm, before the activation (a ResNet shortcut). */
  residual?: Tensor | null;
}

/**
 * act(bn(conv(x)) + residual). A batchnorm on running statistics (eval, or frozen) is folded into
 * the conv (ops.conv2dBnAct: one dispatch when nothing needs a gradient, the unfused ops when
 * something does); one on batch statistics runs as its module (statistics and counter updated),
 * with the residual add and the activation fused into its normalising pass.
 */
export function convBnAct(conv: Conv2d, bn: BatchNorm2d | null, x: Tensor, { activation = 'none', slope = 0.01, residual = null }: ConvBnActOptions = {}): Tensor {
  if (!fusionEnabled) {
    let y = conv.forward(x);
    if (bn) y = bn.forward(y);
    if (residual) y = ops.add(y, residual);
    return activation === 'relu' ? ops.relu(y) : activation === 'leakyRelu' ? ops.leakyRelu(y, slope) : y;
  }
  if (bn?.usesBatchStats) {
    // Training: the residual add and the activation ride in batchnorm's normalising pass.
    return bn.forwardAct(conv.forward(x), activation, slope, residual);
  }
  return ops.conv2dBnAct(x, conv.weight, conv.bias, { stride: conv.stride, padding: conv.padding, bn: bn?.inference(), residual, activation, slope });
}

export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  constructor(gpu: Gpu, readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean; seed?: number; init?: LayerInit } = {}) {
    super();
    const seed = opts.seed ?? nextSeed();
    this.weight = this.addParameter('weight', uniformInit(gpu, [outFeatures, inFeatures], inFeatures, seed, opts.init));
    this.bias = opts.bias === false ? null : this.addParameter('bias', uniformInit(gpu, [outFeatures], inFeatures, seed + 1, opts.init));
  }
  forward(x: Tensor): Tensor {
    if (x.shape.length !== 2 || x.shape[1] !== this.inFeatures) {
      throw new GraftError(`Linear(${this.inFeatures}, ${this.outFeatures}): input expected [N, ${this.inFeatures}], got ${shapeStr(x.shape)}`);
    }
    return ops.linear(x, this.weight, this.bias ?? undefined);
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return ops.relu(x);
  }
}

export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return ops.leakyRelu(x, this.negativeSlope);
  }
}

export class MaxPool2d extends Module {
  /** padding: torch's symmetric padding, or TF's 'same' / per-side [top, bottom, left, right]. */
  constructor(readonly kernelSize: number, readonly stride = kernelSize, readonly padding: MaxPoolPadding = 0) {
    super();
  }
  forward(x: Tensor): Tensor {
    return ops.maxPool2d(x, { kernel: this.kernelSize, stride: this.stride, padding: this.padding });
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: [number, number]) {
    super();
  }
  forward(x: Tensor): Tensor {
    return ops.adaptiveAvgPool2d(x, this.outputSize);
  }
}

/** Dropout with a fresh seed per call (from the module's own seeded counter), identity in eval mode. */
export class Dropout extends Module {
  /** Forward calls so far: with `seed` it picks each mask (training checkpoints save both to resume exactly). */
  calls = 0;
  constructor(readonly p = 0.5, public seed = nextSeed()) {
    super();
  }
  forward(x: Tensor): Tensor {
    return ops.dropout(x, { p: this.p, seed: (this.seed + this.calls++ * 0x9e3779b1) >>> 0, training: this.training });
  }
}

/** [N, ...] -> [N, rest]. */
export class Flatten extends Module {
  forward(x: Tensor): Tensor {
    return ops.reshape(x, [x.shape[0], -1]);
  }
}

/** Children named '0', '1', ... as torch.nn.Sequential (so names read `features.28.weight`). */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.addModule(String(i), m));
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) y = m.forward(y);
    return y;
  }
}
