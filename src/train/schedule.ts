// Learning-rate schedules: functions from the (0-based, possibly fractional) epoch to a factor that
// multiplies every parameter group's base learning rate, as torch's LambdaLR does. An epoch of
// 2.5 is half-way through the third epoch: a per-step schedule is the same function evaluated at
// epoch + step / stepsPerEpoch. Schedules compose: warmup(3, cosine(20)), product(a, b).
import { GraftError } from '../core/index.ts';

export type Schedule = (epoch: number) => number;

function positive(name: string, what: string, v: number): void {
  if (!(v > 0 && Number.isFinite(v))) throw new GraftError(`${name}: ${what} must be a positive number, got ${v}`);
}

/** Always 1. */
export function constant(factor = 1): Schedule {
  return () => factor;
}

/** torch StepLR: gamma ^ floor(epoch / stepSize). */
export function stepDecay(stepSize: number, gamma = 0.1): Schedule {
  positive('stepDecay', 'stepSize', stepSize);
  return (epoch) => Math.pow(gamma, Math.floor(epoch / stepSize));
}

/** torch MultiStepLR: gamma ^ (number of milestones <= epoch). */
export function multiStep(milestones: number[], gamma = 0.1): Schedule {
  return (epoch) => Math.pow(gamma, milestones.filter((m) => m <= epoch).length);
}

/**
 * torch CosineAnnealingLR over `epochs` (T_max), as a factor: minFactor + (1 - minFactor) *
 * (1 + cos(pi * epoch / epochs)) / 2, and minFactor after `epochs`.
 */
export function cosine(epochs: number, { minFactor = 0 }: { minFactor?: number } = {}): Schedule {
  positive('cosine', 'epochs', epochs);
  return (epoch) => minFactor + ((1 - minFactor) * (1 + Math.cos((Math.PI * Math.min(epoch, epochs)) / epochs))) / 2;
}

/**
 * Linear warm-up for `epochs`, from `from` (torch LinearLR's start_factor, default 1/3) to 1, then
 * `after` evaluated from 0 (torch SequentialLR): warmup(2, cosine(8)) warms up for two epochs and
 * anneals over the next eight.
 */
export function warmup(epochs: number, after: Schedule = constant(), { from = 1 / 3 }: { from?: number } = {}): Schedule {
  positive('warmup', 'epochs', epochs);
  return (epoch) => (epoch < epochs ? (from + ((1 - from) * epoch) / epochs) * after(0) : after(epoch - epochs));
}

/** The product of several schedules' factors. */
export function product(...schedules: Schedule[]): Schedule {
  return (epoch) => schedules.reduce((f, s) => f * s(epoch), 1);
}
