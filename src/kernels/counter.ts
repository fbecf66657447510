// In-place integer counters (shaders/counter.wgsl).
import wgsl from '../../shaders/counter.wgsl?raw';
import { type GpuData, type Runtime, expectDtype } from './runtime/index.ts';

const incrementKernel = { name: 'counter.increment', wgsl, entry: 'increment' };

/** counter[0] += by, on the GPU (no readback, no flush). */
export function increment(rt: Runtime, counter: GpuData, by = 1): void {
  expectDtype('increment', 'counter', counter, 'i32');
  rt.dispatch(rt.kernel(incrementKernel), { params: { by }, buffers: { counter: counter.buffer }, workgroups: [1] });
}

export const kernels = [incrementKernel];
