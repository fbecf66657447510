// Elementwise kernels (shaders/elementwise.wgsl): broadcast add, axpby, scale, fill, (leaky) ReLU.
import wgsl from '../../shaders/elementwise.wgsl?raw';
import { GraftError, numel, shapeError, shapeStr } from '../core/index.ts';
import { type BufferBinding, type GpuData, type Runtime, grid1d, inBindingRanges, output, vec4sPerWorkgroup } from './runtime/index.ts';

const entry = (name: string) => ({ name: `elementwise.${name}`, wgsl, entry: name });
const K = {
  add: entry('add'),
  addBroadcast: entry('add_broadcast'),
  axpby: entry('axpby'),
  scale: entry('scale'),
  fill: entry('fill'),
  broadcast: entry('broadcast'),
  axpbyInplace: entry('axpby_inplace'),
  leakyRelu: entry('leaky_relu'),
  leakyReluBackward: entry('leaky_relu_backward'),
};

function run(rt: Runtime, k: { name: string; wgsl: string; entry: string }, out: GpuData, a: GpuData | null, b: GpuData | null, p: Partial<{ inner: number; c: number; alpha: number; beta: number }>): GpuData {
  const n = numel(out.shape);
  const body = (count: number, bind: (x: GpuData) => BufferBinding) => {
    const n4 = Math.ceil(count / 4);
    const buffers: Record<string, BufferBinding> = { out: bind(out) };
    if (a) buffers.a = bind(a);
    // The broadcast entries read the second operand per element as `bias`, the others as vec4 `b`.
    if (b) buffers[p.c !== undefined ? 'bias' : 'b'] = p.c !== undefined ? b.buffer : bind(b);
    const kernel = rt.kernel(k);
    rt.dispatch(kernel, {
      params: { n4, bcast_inner: p.inner ?? 1, bcast_c: p.c ?? 1, alpha: p.alpha ?? 0, beta: p.beta ?? 0 },
      buffers,
      workgroups: grid1d(rt, Math.ceil(n4 / vec4sPerWorkgroup(kernel))),
    });
  };
  // The broadcast entries index `bias` by absolute position, so they are never cut into ranges
  // (the runtime reports a binding over the limit).
  if (p.c === undefined) inBindingRanges(rt, n, body);
  else body(n, (x) => x.buffer);
  return out;
}

function sameShape(op: string, a: GpuData, b: GpuData): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) shapeError(op, 'second operand', shapeStr(a.shape), b.shape);
}

/**
 * a + b. b has a's shape, or one element, or is 1-D and is broadcast along `axis` of a
 * (a bias: axis 1 of NCHW or of [N, F]).
 */
export function add(rt: Runtime, a: GpuData, b: GpuData, axis = 1): GpuData {
  if (numel(b.shape) === 1 && numel(a.shape) !== 1) return run(rt, K.addBroadcast, output(rt, a.shape), a, b, { inner: 1, c: 1 });
  if (b.shape.length === a.shape.length) {
    sameShape('add', a, b);
    return run(rt, K.add, output(rt, a.shape), a, b, {});
  }
  if (b.shape.length !== 1 || a.shape[axis] !== b.shape[0]) {
    shapeError('add', `broadcast operand (along axis ${axis} of ${shapeStr(a.shape)})`, `[${a.shape[axis]}]`, b.shape);
  }
  const inner = numel(a.shape.slice(axis + 1));
  return run(rt, K.addBroadcast, output(rt, a.shape), a, b, { inner, c: b.shape[0] });
}

/** alpha * a + beta * b, same shapes. */
export function axpby(rt: Runtime, alpha: number, a: GpuData, beta: number, b: GpuData, into?: GpuData): GpuData {
  sameShape('axpby', a, b);
  return run(rt, K.axpby, into ?? output(rt, a.shape), a, b, { alpha, beta });
}

/** In place: target = beta * target + alpha * a (a must be another buffer). */
export function axpbyInplace(rt: Runtime, target: GpuData, beta: number, alpha: number, a: GpuData): void {
  sameShape('axpbyInplace', target, a);
  if (target.buffer === a.buffer) throw new GraftError('axpbyInplace: the source aliases the target');
  run(rt, K.axpbyInplace, target, a, null, { alpha, beta });
}

export function scale(rt: Runtime, a: GpuData, alpha: number): GpuData {
  return run(rt, K.scale, output(rt, a.shape), a, null, { alpha });
}

/** alpha * b broadcast to `shape`; b has one element, or is 1-D along `axis`. */
export function broadcast(rt: Runtime, b: GpuData, shape: readonly number[], axis = 0, alpha = 1): GpuData {
  const single = numel(b.shape) === 1;
  if (!single && (b.shape.length !== 1 || shape[axis] !== b.shape[0])) shapeError('broadcast', `source (to ${shapeStr(shape)} along axis ${axis})`, `[${shape[axis]}]`, b.shape);
  const inner = single ? 1 : numel(shape.slice(axis + 1));
  return run(rt, K.broadcast, output(rt, shape), null, b, { inner, c: single ? 1 : b.shape[0], alpha });
}

export function fill(rt: Runtime, shape: readonly number[], value: number): GpuData {
  return run(rt, K.fill, output(rt, shape), null, null, { alpha: value });
}

/** LeakyReLU(x) with slope `alpha` for x < 0; alpha = 0 is ReLU. */
export function leakyRelu(rt: Runtime, x: GpuData, alpha: number): GpuData {
  if (x.dtype !== 'f32') throw new GraftError(`leakyRelu: expected dtype f32, got ${x.dtype}`);
  return run(rt, K.leakyRelu, output(rt, x.shape), x, null, { alpha });
}

/** dx from dy and the forward input x. */
export function leakyReluBackward(rt: Runtime, dy: GpuData, x: GpuData, alpha: number): GpuData {
  sameShape('leakyReluBackward', dy, x);
  return run(rt, K.leakyReluBackward, output(rt, x.shape), dy, x, { alpha });
}

export const kernels = Object.values(K);
