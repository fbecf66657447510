// Sum reductions (shaders/reduce.wgsl): bias gradients and full sums.
import wgsl from '../../shaders/reduce.wgsl?raw';
import { numel, shapeError, shapeStr } from '../core/index.ts';
import { type GpuData, type Runtime, output, threadsPerWorkgroup } from './runtime/index.ts';

const K = {
  partial: { name: 'reduce.sum_partial', wgsl, entry: 'sum_partial' },
  finish: { name: 'reduce.sum_finish', wgsl, entry: 'sum_finish' },
};
/** Values per stage-1 invocation to aim for: enough work to amortise it, short enough to spread. */
const PER_INVOCATION = 512;

function sumChannels(rt: Runtime, x: GpuData, outer: number, c: number, inner: number, scale: number): GpuData {
  const count = outer * inner;
  const parts = Math.max(1, Math.min(256, Math.ceil(count / PER_INVOCATION)));
  const out = output(rt, [c]);
  const params = { outer, c, inner, parts, scale };
  if (parts === 1) {
    rt.dispatch(rt.kernel(K.partial), { params, buffers: { x: x.buffer, partial: out.buffer }, workgroups: [1, c] });
    return out;
  }
  const partial = rt.alloc(c * parts * 4);
  const stage1 = rt.kernel(K.partial);
  const stage2 = rt.kernel(K.finish);
  rt.dispatch(stage1, { params, buffers: { x: x.buffer, partial }, workgroups: [Math.ceil(parts / threadsPerWorkgroup(stage1)), c] });
  rt.dispatch(stage2, { params, buffers: { partial_in: partial, out: out.buffer }, workgroups: [Math.ceil(c / threadsPerWorkgroup(stage2))] });
  rt.release(partial);
  return out;
}

/** out[c] = scale * sum of x over every axis but `axis` (bias gradients). */
export function sumToAxis(rt: Runtime, x: GpuData, axis: number, scale = 1): GpuData {
  if (axis < 0 || axis >= x.shape.length) shapeError('sumToAxis', `axis ${axis} of`, 'a tensor with that axis', x.shape);
  return sumChannels(rt, x, numel(x.shape.slice(0, axis)), x.shape[axis], numel(x.shape.slice(axis + 1)), scale);
}

/** scale * sum of all elements, as shape [1]. */
export function sumAll(rt: Runtime, x: GpuData, scale = 1): GpuData {
  if (numel(x.shape) === 0) shapeError('sumAll', 'input', 'at least one element', shapeStr(x.shape));
  return sumChannels(rt, x, 1, 1, numel(x.shape), scale);
}

export const kernels = Object.values(K);
