// Losses for fit(): softmax cross-entropy (with label smoothing) and L1 / L2 weight penalties as
// differentiable terms added to the loss (Keras' kernel_regularizer convention: l2 * sum(w^2),
// l1 * sum(|w|)). Weight decay folded into the update is the optimizers' `weightDecay` instead:
// SGD's weightDecay = wd is the same as an l2 penalty of wd / 2.
import type { Module } from '../graph/module.ts';
import * as ops from '../graph/ops.ts';
import type { Tensor } from '../graph/tensor.ts';
import { GraftError } from '../core/index.ts';
import { type ParamMatch, matchesName } from './optim.ts';

/** logits [N, C] and labels i32 [N] (and the model, for penalties) -> a one-element loss. */
export type Loss = (logits: Tensor, labels: Tensor, model: Module) => Tensor;

export interface CrossEntropyOptions {
  /** torch's label_smoothing: the target is (1 - eps) * onehot + eps / C. */
  labelSmoothing?: number;
}

/** Mean softmax cross-entropy over the batch (torch's F.cross_entropy). */
export function crossEntropy({ labelSmoothing = 0 }: CrossEntropyOptions = {}): Loss {
  if (!(labelSmoothing >= 0 && labelSmoothing < 1)) throw new GraftError(`crossEntropy: labelSmoothing must be in [0, 1), got ${labelSmoothing}`);
  return (logits, labels) => ops.softmaxCrossEntropy(logits, labels, { labelSmoothing });
}

export interface PenaltyOptions {
  /** Coefficient of sum(|w|). */
  l1?: number;
  /** Coefficient of sum(w^2). */
  l2?: number;
  /**
   * Which trainable parameters are penalised, by name. Default: those of rank >= 2 (convolution
   * and linear weights, not biases or BatchNorm), as Keras' kernel_regularizer.
   */
  match?: ParamMatch;
}

function checkCoefficients(o: PenaltyOptions): void {
  for (const k of ['l1', 'l2'] as const) {
    const v = o[k] ?? 0;
    if (!(v >= 0 && Number.isFinite(v))) throw new GraftError(`penalty: ${k} must be a finite number >= 0, got ${v}`);
  }
}

/** The parameters a penalty applies to: trainable, and matched by name (default: rank >= 2). */
export function penalizedParameters(model: Module, match?: ParamMatch): [string, Tensor][] {
  return model.namedParameters().filter(([n, p]) => p.trainable && (match === undefined ? p.shape.length >= 2 : matchesName(match, n)));
}

/** l1 * sum(|w|) + l2 * sum(w^2) over the chosen parameters, as a one-element tensor (null if none). */
export function penalty(model: Module, options: PenaltyOptions): Tensor | null {
  checkCoefficients(options);
  const { l1 = 0, l2 = 0 } = options;
  let total: Tensor | null = null;
  const add = (t: Tensor) => (total = total ? ops.add(total, t) : t);
  for (const [, p] of penalizedParameters(model, options.match)) {
    if (l2) add(ops.mulScalar(ops.sumOfSquares(p), l2));
    if (l1) add(ops.mulScalar(ops.sumOfAbs(p), l1));
  }
  return total;
}

/** `loss` plus weight penalties: withPenalty(crossEntropy(), { l2: 1e-4 }). */
export function withPenalty(loss: Loss, options: PenaltyOptions): Loss {
  checkCoefficients(options);
  return (logits, labels, model) => {
    const base = loss(logits, labels, model);
    const extra = penalty(model, options);
    return extra ? ops.add(base, extra) : base;
  };
}
