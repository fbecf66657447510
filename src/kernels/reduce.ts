// Sum reductions (shaders/reduce.wgsl).
import wgsl from '../../shaders/reduce.wgsl?raw';
import { type GpuData, type Runtime, numel, output, shapeError, shapeStr } from './runtime.ts';

const sumToChannelsKernel = { name: 'reduce.sum_to_channels', wgsl, entry: 'sum_to_channels' };

/** out[c] = scale * sum of x over every axis but `axis` (bias gradients). */
export function sumToAxis(rt: Runtime, x: GpuData, axis: number, scale = 1): GpuData {
  if (axis < 0 || axis >= x.shape.length) shapeError('sumToAxis', `axis ${axis} of`, 'a tensor with that axis', x.shape);
  const c = x.shape[axis];
  const out = output(rt, [c]);
  rt.dispatch(rt.kernel(sumToChannelsKernel), {
    params: { outer: numel(x.shape.slice(0, axis)), c, inner: numel(x.shape.slice(axis + 1)), scale },
    buffers: { x: x.buffer, out: out.buffer },
    workgroups: [c],
  });
  return out;
}

/** scale * sum of all elements, as shape [1]. */
export function sumAll(rt: Runtime, x: GpuData, scale = 1): GpuData {
  if (numel(x.shape) === 0) shapeError('sumAll', 'input', 'at least one element', shapeStr(x.shape));
  const out = output(rt, [1]);
  rt.dispatch(rt.kernel(sumToChannelsKernel), {
    params: { outer: 1, c: 1, inner: numel(x.shape), scale },
    buffers: { x: x.buffer, out: out.buffer },
    workgroups: [1],
  });
  return out;
}

export const kernels = [sumToChannelsKernel];
