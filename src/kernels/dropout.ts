// Dropout with a counter-based mask (shaders/dropout.wgsl): the mask is a hash of (seed, element
// index), so the backward recomputes it from the seed instead of storing it.
import wgsl from '../../shaders/dropout.wgsl?raw';
import { GraftError, numel } from '../core/index.ts';
import { type GpuData, type Runtime, expectDtype, grid1d, output, threadsPerWorkgroup } from './runtime/index.ts';

const applyKernel = { name: 'dropout.apply', wgsl, entry: 'apply' };

/** Throw unless p is in [0, 1) and seed is a u32. */
export function checkDropout(op: string, p: number, seed: number): void {
  if (!(p >= 0 && p < 1)) throw new GraftError(`${op}: p must be in [0, 1), got ${p}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new GraftError(`${op}: seed must be an integer in [0, 2^32), got ${seed}`);
}

/**
 * a * mask(seed) / (1 - p): element i is dropped with probability p. The same call is the forward
 * (a = x) and the backward (a = upstream gradient) of dropout.
 */
export function dropout(rt: Runtime, a: GpuData, p: number, seed: number): GpuData {
  checkDropout('dropout', p, seed);
  expectDtype('dropout', 'input', a, 'f32');
  const n = numel(a.shape);
  const out = output(rt, a.shape);
  const kernel = rt.kernel(applyKernel);
  rt.dispatch(kernel, {
    // p * 2^32 rounded down; p just below 1 would round to 2^32, one past the largest u32.
    params: { n, seed, threshold: Math.min(Math.floor(p * 4294967296), 0xffffffff), scale: 1 / (1 - p) },
    buffers: { a: a.buffer, out: out.buffer },
    workgroups: grid1d(rt, Math.ceil(n / threadsPerWorkgroup(kernel))),
  });
  return out;
}

export const kernels = [applyKernel];
