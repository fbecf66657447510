// Weight penalties (shaders/penalty.wgsl): sum of squares (L2) and of absolute values (L1), and
// their gradients scaled by a one-element upstream gradient that stays on the GPU.
import wgsl from '../../shaders/penalty.wgsl?raw';
import { sumAll } from './reduce.ts';
import { GraftError, numel, shapeStr } from '../core/index.ts';
import { type GpuData, type Runtime, expectDtype, grid1d, output, vec4sPerWorkgroup } from './runtime/index.ts';

const K = {
  square: { name: 'penalty.square', wgsl, entry: 'square' },
  absolute: { name: 'penalty.absolute', wgsl, entry: 'absolute' },
  squareBackward: { name: 'penalty.square_backward', wgsl, entry: 'square_backward' },
  absoluteBackward: { name: 'penalty.absolute_backward', wgsl, entry: 'absolute_backward' },
};

export type PenaltyKind = 'l2' | 'l1';

function map(rt: Runtime, k: (typeof K)[keyof typeof K], x: GpuData, upstream: GpuData | null): GpuData {
  expectDtype(k.name, 'input', x, 'f32');
  const n4 = Math.ceil(numel(x.shape) / 4);
  const out = output(rt, x.shape);
  const buffers: Record<string, GPUBuffer> = { x: x.buffer, out: out.buffer };
  if (upstream) buffers.upstream = upstream.buffer;
  const kernel = rt.kernel(k);
  rt.dispatch(kernel, { params: { n4 }, buffers, workgroups: grid1d(rt, Math.max(1, Math.ceil(n4 / vec4sPerWorkgroup(kernel)))) });
  return out;
}

/** sum(x^2) ('l2') or sum(|x|) ('l1'), as shape [1]. */
export function penalty(rt: Runtime, x: GpuData, kind: PenaltyKind): GpuData {
  const mapped = map(rt, kind === 'l2' ? K.square : K.absolute, x, null);
  const total = sumAll(rt, mapped);
  rt.release(mapped.buffer);
  return total;
}

/** The gradient of penalty(x) times the upstream gradient g (one element): 2 g x or g sign(x). */
export function penaltyBackward(rt: Runtime, g: GpuData, x: GpuData, kind: PenaltyKind): GpuData {
  if (numel(g.shape) !== 1) throw new GraftError(`penaltyBackward: upstream gradient expected one element, got ${shapeStr(g.shape)}`);
  return map(rt, kind === 'l2' ? K.squareBackward : K.absoluteBackward, x, g);
}

export const kernels = Object.values(K);
