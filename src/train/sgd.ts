// Plain SGD, in place on the GPU: p <- p - lr * (grad + weightDecay * p).
// (The full optimizer family — momentum, Adam, AdamW, groups, schedules — builds on this.)
import { axpbyInplace } from '../kernels/elementwise.ts';
import type { Parameter } from '../graph/module.ts';

export function sgdStep(params: Iterable<Parameter>, lr: number, weightDecay = 0): void {
  for (const p of params) {
    if (!p.trainable || !p.grad) continue;
    axpbyInplace(p.rt, p, 1 - lr * weightDecay, -lr, p.grad);
  }
}
