// Non-differentiable GPU work that the training code needs besides ops: uninitialised tensors,
// copies, the fused optimizer updates (in place, one dispatch per parameter) and counters. train/
// and models/ reach the kernels only through here and ops.ts.
import { increment } from '../kernels/counter.ts';
import { type AdamStepArgs, type SgdStepArgs, adamStep, sgdStep } from '../kernels/optim.ts';
import { output } from '../kernels/runtime/index.ts';
import { type DType, GraftError } from '../core/index.ts';
import { Tensor } from './tensor.ts';

export type { AdamStepArgs, SgdStepArgs };

/** A new tensor shaped like `like` (or `shape`), contents undefined until written. */
export function emptyLike(like: Tensor, shape: readonly number[] = like.shape, dtype: DType = like.dtype): Tensor {
  return new Tensor(like.rt, output(like.rt, shape, dtype));
}

/** dst <- src, element for element (same number of elements), recorded with the other GPU work. */
export function copyInto(dst: Tensor, src: Tensor): void {
  if (dst.size !== src.size) throw new GraftError(`copyInto: ${src.size} elements into ${dst.size}`);
  src.rt.copy(src.buffer, dst.buffer, src.size * 4);
}

/** A new tensor holding a copy of x (no autograd record). */
export function clone(x: Tensor): Tensor {
  const y = emptyLike(x);
  copyInto(y, x);
  return y;
}

/** param <- SGD step (PyTorch's rule, with momentum / Nesterov / weight decay), in place. */
export function sgdUpdate(param: Tensor, grad: Tensor, momentumBuffer: Tensor | null, args: SgdStepArgs): void {
  sgdStep(param.rt, param, grad, momentumBuffer, args);
}

/** param, expAvg, expAvgSq <- Adam / AdamW step, in place. */
export function adamUpdate(param: Tensor, grad: Tensor, expAvg: Tensor, expAvgSq: Tensor, args: AdamStepArgs): void {
  adamStep(param.rt, param, grad, expAvg, expAvgSq, args);
}

/** counter[0] += by on the GPU (an i32 tensor; no readback). */
export function incrementCounter(counter: Tensor, by = 1): void {
  increment(counter.rt, counter, by);
}
