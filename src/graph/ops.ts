// Differentiable ops: check inputs, run the kernel, record the op for backward (rules.ts).
// Sections by kernel family; each op is a few lines.
import { GraftError, numel, shapeError, shapeStr } from '../core/index.ts';
import * as bn from '../kernels/batchnorm.ts';
import * as conv from '../kernels/conv2d.ts';
import * as dropoutKernel from '../kernels/dropout.ts';
import * as ew from '../kernels/elementwise.ts';
import * as mm from '../kernels/matmul.ts';
import * as penaltyKernel from '../kernels/penalty.ts';
import * as pool from '../kernels/pool.ts';
import * as reduce from '../kernels/reduce.ts';
import * as sm from '../kernels/softmax.ts';
import type { Gpu } from './gpu.ts';
import { mulberry32 } from './random.ts';
import { Tensor, checkInputs, isGradEnabled, record, tensor as uploadTensor } from './tensor.ts';

// ---- elementwise (kernels/elementwise.ts) -------------------------------------------------------

/** a + b; b of a's shape, or 1-D broadcast along `axis` (bias over channels/features). */
export function add(a: Tensor, b: Tensor, axis = 1): Tensor {
  const rt = checkInputs('add', [a, b]);
  return record(rt, ew.add(rt, a, b, axis), 'add', [a, b], { axis });
}

export function relu(x: Tensor): Tensor {
  const rt = checkInputs('relu', [x]);
  return record(rt, ew.leakyRelu(rt, x, 0), 'leakyRelu', [x], { alpha: 0 });
}

export function leakyRelu(x: Tensor, alpha = 0.01): Tensor {
  const rt = checkInputs('leakyRelu', [x]);
  return record(rt, ew.leakyRelu(rt, x, alpha), 'leakyRelu', [x], { alpha });
}

export function mulScalar(x: Tensor, alpha: number): Tensor {
  const rt = checkInputs('mulScalar', [x]);
  return record(rt, ew.scale(rt, x, alpha), 'mulScalar', [x], { alpha });
}

/** The same values with another shape (a copy; the gradient is reshaped back). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const rt = checkInputs('reshape', [x]);
  const resolved = [...shape];
  const free = resolved.indexOf(-1);
  if (free >= 0) resolved[free] = x.size / numel(resolved.filter((d) => d !== -1));
  if (numel(resolved) !== x.size || !resolved.every(Number.isInteger)) {
    throw new GraftError(`reshape: cannot view ${shapeStr(x.shape)} (${x.size} elements) as ${shapeStr(shape)}`);
  }
  const out = rt.alloc(x.size * 4);
  rt.copy(x.buffer, out, x.size * 4);
  return record(rt, { buffer: out, shape: resolved, dtype: x.dtype }, 'reshape', [x]);
}

// ---- reductions (kernels/reduce.ts) -------------------------------------------------------------

export function sum(x: Tensor): Tensor {
  const rt = checkInputs('sum', [x]);
  return record(rt, reduce.sumAll(rt, x), 'sum', [x]);
}

export function mean(x: Tensor): Tensor {
  const rt = checkInputs('mean', [x]);
  return record(rt, reduce.sumAll(rt, x, 1 / x.size), 'mean', [x]);
}

// ---- matmul, linear (kernels/matmul.ts) ---------------------------------------------------------

/**
 * op(a) x op(b) with op = transpose where asked: a [M, K] or [B, M, K] ([.., K, M] with transA),
 * b [K, N] or [B, K, N] ([.., N, K] with transB); a rank-2 operand is broadcast over the other's batch.
 */
export function matmul(a: Tensor, b: Tensor, { transA = false, transB = false }: { transA?: boolean; transB?: boolean } = {}): Tensor {
  const rt = checkInputs('matmul', [a, b]);
  return record(rt, mm.matmul(rt, a, b, { transA, transB }), 'matmul', [a, b], { transA, transB });
}

export interface LinearOptions {
  /** Fused after the bias. */
  activation?: mm.Activation;
  /** leakyRelu slope (default 0.01); must be >= 0 (backward reads the sign of the output). */
  slope?: number;
}

/**
 * torch's F.linear, y = x W^T + b, as one GEMM with the bias (and an optional activation) fused:
 * x [..., in], weight [out, in], bias [out] -> y [..., out].
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, { activation = 'none', slope = 0.01 }: LinearOptions = {}): Tensor {
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const rt = checkInputs('linear', inputs);
  if (x.shape.length < 1) shapeError('linear', 'input', '[..., in]', x.shape);
  const inF = x.shape[x.shape.length - 1];
  if (weight.shape.length !== 2 || weight.shape[1] !== inF) shapeError('linear', `weight (input is ${shapeStr(x.shape)})`, `[out, ${inF}]`, weight.shape);
  const outF = weight.shape[0];
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== outF)) shapeError('linear', `bias (weight is ${shapeStr(weight.shape)})`, `[${outF}]`, bias.shape);
  if (activation === 'leakyRelu' && !(slope >= 0)) throw new GraftError(`linear: a fused leakyRelu needs slope >= 0, got ${slope}`);
  const rows = x.size / Math.max(inF, 1);
  const y = mm.matmul(rt, { buffer: x.buffer, shape: [rows, inF], dtype: x.dtype }, weight, { transB: true, bias: bias ?? undefined, activation, slope });
  return record(rt, { buffer: y.buffer, shape: [...x.shape.slice(0, -1), outF], dtype: 'f32' }, 'linear', inputs, { activation, slope });
}

// ---- convolution (kernels/conv2d.ts) ------------------------------------------------------------

/**
 * 2-D convolution, x: [N, Cin, H, W], weight: [Cout, Cin, kH, kW] (OIHW), bias: [Cout] or null,
 * y: [N, Cout, Ho, Wo]; zero padding. `activation` ('relu' | 'leakyRelu' with `slope` >= 0) is
 * fused into the kernel's epilogue and differentiated from the output's sign.
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null, opts: conv.Conv2dForwardOptions = {}): Tensor {
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const rt = checkInputs('conv2d', inputs);
  const saved: conv.Conv2dForwardOptions = { stride: opts.stride ?? 1, padding: opts.padding ?? 0, activation: opts.activation ?? 'none', slope: opts.activation === 'relu' ? 0 : (opts.slope ?? 0.01), variant: opts.variant };
  return record(rt, conv.conv2dForward(rt, x, weight, bias, { ...opts, ...saved }), 'conv2d', inputs, saved as Record<string, unknown>);
}

/** An inference batchnorm (running statistics) for conv2dBnAct. */
export interface InferenceBatchNorm {
  gamma: Tensor;
  beta: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
  eps: number;
}

export interface Conv2dBnActOptions extends conv.Conv2dForwardOptions {
  /** Batchnorm with its running statistics, applied to conv + bias. */
  bn?: InferenceBatchNorm | null;
  /** Added after the batchnorm, before the activation (a ResNet shortcut): y's shape. */
  residual?: Tensor | null;
}

/**
 * act(bn(conv2d(x, weight) + bias) + residual), bn in inference mode. When nothing needs a
 * gradient (noGrad, or no input requires one) it is ONE conv dispatch with the batchnorm folded
 * into the epilogue (scale and shift computed there from the live parameters); otherwise it is
 * conv2d then batchNorm2d with the residual add and activation in its normalising pass (without a
 * batchnorm: add and activation ops), whose backward rules give the gradients.
 */
export function conv2dBnAct(x: Tensor, weight: Tensor, bias: Tensor | null, { bn, residual, ...opts }: Conv2dBnActOptions = {}): Tensor {
  const inputs = [x, weight, ...(bias ? [bias] : []), ...(bn ? [bn.gamma, bn.beta, bn.runningMean, bn.runningVar] : []), ...(residual ? [residual] : [])];
  const rt = checkInputs('conv2d', inputs);
  const activation = opts.activation ?? 'none';
  if ((bn || residual) && isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    const { activation: _a, slope: _s, ...geometry } = opts;
    let y = conv2d(x, weight, bias, geometry);
    // The residual add and the activation ride in batchnorm's normalising pass (and the
    // activation's backward in its backward kernels).
    if (bn) return batchNorm2d(y, bn.gamma, bn.beta, bn.runningMean, bn.runningVar, { training: false, eps: bn.eps, activation, slope: opts.slope ?? 0.01, residual });
    if (residual) y = add(y, residual);
    if (activation === 'none') return y;
    return activation === 'relu' ? relu(y) : leakyRelu(y, opts.slope ?? 0.01);
  }
  if (!bn && !residual) return conv2d(x, weight, bias, opts);
  const folded = bn ? { gamma: bn.gamma, beta: bn.beta, mean: bn.runningMean, variance: bn.runningVar, eps: bn.eps } : undefined;
  // Nothing here needs a gradient, so record() makes no graph node (no backward rule exists).
  return record(rt, conv.conv2dForward(rt, x, weight, bias, { ...opts, bn: folded, residual: residual ?? undefined }), 'conv2dBnAct', inputs);
}

// ---- batchnorm (kernels/batchnorm.ts) -----------------------------------------------------------

export interface BatchNorm2dOptions {
  /** Batch statistics and a running-stat update (true), or the running statistics (false). */
  training: boolean;
  /** running = (1 - momentum) * running + momentum * batch, as torch. */
  momentum?: number;
  eps?: number;
  /** Force a kernel variant (tests); 'split' by default. */
  variant?: bn.BatchNormVariant;
  /** ReLU / LeakyReLU fused into the normalising pass; its backward reads the output's sign. */
  activation?: 'none' | 'relu' | 'leakyRelu';
  /** leakyRelu's slope (default 0.01), >= 0. */
  slope?: number;
  /** Added after the normalisation, before the activation (a ResNet shortcut; x's shape): act(bn(x) + residual). */
  residual?: Tensor | null;
}

/**
 * torch.nn.BatchNorm2d on x: [N, C, H, W] with gamma, beta, runningMean, runningVar: [C].
 * Training: normalises with the batch mean and biased variance over N, H, W and updates
 * runningMean/runningVar IN PLACE (running_var with the unbiased variance); they get no gradient.
 * Eval: normalises with the running statistics, and the backward treats them as constants.
 */
export function batchNorm2d(x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor, { training, momentum = 0.1, eps = 1e-5, variant, activation = 'none', slope = 0.01, residual = null }: BatchNorm2dOptions): Tensor {
  const rt = checkInputs('batchNorm2d', residual ? [x, gamma, beta, runningMean, runningVar, residual] : [x, gamma, beta, runningMean, runningVar]);
  const actSlope = activation === 'relu' ? 0 : slope;
  const { y, stats } = bn.batchNorm2dForward(rt, x, gamma, beta, runningMean, runningVar, { training, momentum, eps, variant, activation, slope: actSlope, residual });
  // stats: [4, C] (mean, invstd, scale, shift) of this forward, kept for the backward.
  const saved = new Tensor(rt, stats);
  const out = record(rt, y, 'batchNorm2d', residual ? [x, gamma, beta, residual] : [x, gamma, beta], { stats: saved, training, variant, activation, slope: actSlope });
  if (!out.node) saved.dispose();
  return out;
}

// ---- pooling (kernels/pool.ts) ------------------------------------------------------------------

/** torch.nn.MaxPool2d (dilation 1, floor mode): -inf padding, ties to the first maximum. Also TF's 'same' and per-side padding. */
export function maxPool2d(x: Tensor, opts: pool.MaxPool2dOptions): Tensor {
  const rt = checkInputs('maxPool2d', [x]);
  const { y, argmax, geometry } = pool.maxPool2d(rt, x, opts, isGradEnabled() && x.requiresGrad);
  return record(rt, y, 'maxPool2d', [x], { argmax: argmax && new Tensor(rt, argmax), geometry });
}

/** torch.nn.AdaptiveAvgPool2d to [N, C, oh, ow]; oh, ow may exceed H, W (bins then repeat rows). */
export function adaptiveAvgPool2d(x: Tensor, size: readonly [number, number]): Tensor {
  const rt = checkInputs('adaptiveAvgPool2d', [x]);
  return record(rt, pool.adaptiveAvgPool2d(rt, x, size), 'adaptiveAvgPool2d', [x]);
}

/** Mean over H and W per (n, c): returns [N, C, 1, 1] (not [N, C]; reshape for a Linear head). */
export function globalAvgPool(x: Tensor): Tensor {
  const rt = checkInputs('globalAvgPool', [x]);
  return record(rt, pool.adaptiveAvgPool2d(rt, x, [1, 1], 'globalAvgPool'), 'adaptiveAvgPool2d', [x]);
}

// ---- softmax, cross-entropy (kernels/softmax.ts) ------------------------------------------------

/** Softmax over the last axis of x ([N, C], or any rank viewed as [rows, C]). */
export function softmax(x: Tensor, opts: sm.RowOptions = {}): Tensor {
  const rt = checkInputs('softmax', [x]);
  const saved = { variant: opts.variant, threadsPerRow: opts.threadsPerRow };
  return record(rt, sm.softmax(rt, x, saved), 'softmax', [x], saved);
}

export type CrossEntropyReduction = 'mean' | 'sum' | 'none';

export interface SoftmaxCrossEntropyOptions extends sm.RowOptions {
  /** torch label_smoothing: target = (1 - eps) * onehot(label) + eps / C. */
  labelSmoothing?: number;
  /** 'mean' over the batch (shape [1]), 'sum' ([1]) or 'none' (per-row losses [N]). */
  reduction?: CrossEntropyReduction;
}

/**
 * torch's F.cross_entropy(logits, labels, label_smoothing=, reduction=) with the softmax fused in:
 * logits f32 [N, C], labels i32 [N]. Only the logits get a gradient, (softmax - target) times the
 * upstream gradient (/ N for 'mean'), recomputed from the per-row log-sum-exp saved here.
 *
 * Bad labels: labels live on the GPU, so they are not checked here. A label outside [0, C) makes its
 * row's loss NaN (so a 'mean' or 'sum' is NaN) and its row of the gradient NaN. Upload labels with
 * `labels(gpu, values, numClasses)` to have them checked on the CPU first.
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor, { labelSmoothing = 0, reduction = 'mean', ...variant }: SoftmaxCrossEntropyOptions = {}): Tensor {
  const rt = checkInputs('softmaxCrossEntropy', [logits, labels]);
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    throw new GraftError(`softmaxCrossEntropy: reduction must be 'mean', 'sum' or 'none', got '${reduction}'`);
  }
  const { loss, lse } = sm.crossEntropy(rt, logits, labels, { labelSmoothing, ...variant });
  let out = loss;
  if (reduction !== 'none') {
    out = sm.crossEntropyTotal(rt, loss, reduction === 'mean' ? 1 / logits.shape[0] : 1);
    rt.release(loss.buffer);
  }
  const saved = new Tensor(rt, lse);
  const y = record(rt, out, 'softmaxCrossEntropy', [logits, labels], { lse: saved, labelSmoothing, reduction });
  if (!y.node) saved.dispose();
  return y;
}

/** Upload class labels as an i32 [N] tensor after checking each is an integer in [0, numClasses). */
export function labels(gpu: Gpu, values: ArrayLike<number>, numClasses: number): Tensor {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < 0 || v >= numClasses) throw new GraftError(`labels: label at index ${i} is ${v}, outside [0, ${numClasses}) (${numClasses} classes)`);
  }
  return uploadTensor(gpu.rt, values, [values.length], 'i32');
}

// ---- dropout (kernels/dropout.ts) ---------------------------------------------------------------

export interface DropoutOptions {
  /** Drop probability, in [0, 1). */
  p: number;
  /** Mask seed (a u32). Omitted: the next value of a fixed seed stream (reproducible per run). */
  seed?: number;
  /** false: identity. */
  training?: boolean;
}

const nextDropoutSeed = (() => {
  const rand = mulberry32(0x5eed);
  return () => Math.floor(rand() * 4294967296);
})();

/**
 * x * mask / (1 - p), the mask a hash of (seed, element index) recomputed by the backward.
 * Identity, returning x itself with no dispatch, when not training or p = 0.
 */
export function dropout(x: Tensor, { p, seed, training = true }: DropoutOptions): Tensor {
  const rt = checkInputs('dropout', [x]);
  dropoutKernel.checkDropout('dropout', p, seed ?? 0);
  if (!training || p === 0) return x;
  const s = seed ?? nextDropoutSeed();
  return record(rt, dropoutKernel.dropout(rt, x, p, s), 'dropout', [x], { p, seed: s });
}

// ---- weight penalties (kernels/penalty.ts) ------------------------------------------------------

/** sum(x^2) as shape [1]: the L2 penalty of a weight (scale it with mulScalar). */
export function sumOfSquares(x: Tensor): Tensor {
  const rt = checkInputs('sumOfSquares', [x]);
  return record(rt, penaltyKernel.penalty(rt, x, 'l2'), 'sumOfSquares', [x]);
}

/** sum(|x|) as shape [1]: the L1 penalty of a weight; its gradient is sign(x) (0 at 0). */
export function sumOfAbs(x: Tensor): Tensor {
  const rt = checkInputs('sumOfAbs', [x]);
  return record(rt, penaltyKernel.penalty(rt, x, 'l1'), 'sumOfAbs', [x]);
}

export type { MaxPoolPadding } from '../kernels/pool.ts';
