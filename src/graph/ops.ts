// Differentiable ops: check inputs, run the kernel, record the op for backward (rules.ts).
// Sections per kernel family; each op is a few lines.
import * as ew from '../kernels/elementwise.ts';
import * as reduce from '../kernels/reduce.ts';
import { GraftError, numel, shapeStr } from '../kernels/runtime.ts';
import { type Tensor, checkInputs, record } from './tensor.ts';

// ---- elementwise ------------------------------------------------------------------------------

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

// ---- reductions -------------------------------------------------------------------------------

export function sum(x: Tensor): Tensor {
  const rt = checkInputs('sum', [x]);
  return record(rt, reduce.sumAll(rt, x), 'sum', [x]);
}

export function mean(x: Tensor): Tensor {
  const rt = checkInputs('mean', [x]);
  return record(rt, reduce.sumAll(rt, x, 1 / x.size), 'mean', [x]);
}

// ---- matmul / linear (helper: matmul) ------------------------------------------------------------

// ---- conv2d (helper: conv) ----------------------------------------------------------------------

// ---- batchnorm / pooling (helper: norm-pool) ---------------------------------------------------

// ---- softmax / cross-entropy / dropout (helper: softmax) ---------------------------------------
