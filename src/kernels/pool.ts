// Pooling kernels (shaders/pool.wgsl) over x: [N, C, H, W]: max pooling (torch.nn.MaxPool2d,
// dilation 1, floor mode) and adaptive average pooling (torch.nn.AdaptiveAvgPool2d).
import wgsl from '../../shaders/pool.wgsl?raw';
import { GraftError, numel, shapeError, shapeStr } from '../core/index.ts';
import { type CompiledKernel, type GpuData, type Runtime, expectDtype, expectRank, grid1d, output, shaderConstant, threadsPerWorkgroup } from './runtime/index.ts';


/**
 * Max-pool backward kernels: 'reference' runs one invocation per input; 'rows' (the default) one
 * per 4 consecutive inputs of a row, loading each window's argmax and dy once for all of them
 * (3x faster on SwiftShader for 3x3 stride 2). The forward is one invocation per output in both.
 */
export type MaxPoolVariant = 'reference' | 'rows';
const entry = (name: string) => ({ name: `pool.${name}`, wgsl, entry: name });
const K = {
  maxPool: entry('max_pool'),
  maxPoolArgmax: entry('max_pool_argmax'),
  maxPoolBackward: entry('max_pool_backward'),
  maxPoolBackwardRows: entry('max_pool_backward_rows'),
  adaptiveAvgPool: entry('adaptive_avg_pool'),
  adaptiveAvgPoolBackward: entry('adaptive_avg_pool_backward'),
};

/**
 * Window, stride and padding as [rows, cols], and the kernel variant. `padding` is the top/left
 * padding the window starts from; the bottom/right padding only shows in the output size.
 */
export interface Pool2dGeometry {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  variant: MaxPoolVariant;
}

/**
 * Max-pool padding: symmetric (torch: p or [ph, pw]), explicit [top, bottom, left, right], or
 * 'same' (TensorFlow/Keras: OH = ceil(H / s), total padding max((OH - 1) s + k - H, 0) with the odd
 * pixel at the bottom/right). Padding counts as -inf in every form.
 */
export type MaxPoolPadding = number | [number, number] | [number, number, number, number] | 'same';

export interface MaxPool2dOptions {
  kernel: number | [number, number];
  /** Defaults to the kernel size, as in torch. */
  stride?: number | [number, number];
  padding?: MaxPoolPadding;
  /** Force the backward's kernel variant (tests); 'rows' by default. */
  variant?: MaxPoolVariant;
}

const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

/** [top, bottom, left, right] for any padding form, given the input's H, W. */
function resolvePadding(padding: MaxPoolPadding, kernel: [number, number], stride: [number, number], h: number, w: number): [number, number, number, number] {
  if (padding === 'same') {
    const total = (size: number, a: number) => Math.max((Math.ceil(size / stride[a]) - 1) * stride[a] + kernel[a] - size, 0);
    const th = total(h, 0);
    const tw = total(w, 1);
    return [Math.floor(th / 2), th - Math.floor(th / 2), Math.floor(tw / 2), tw - Math.floor(tw / 2)];
  }
  if (Array.isArray(padding) && padding.length === 4) return [...padding];
  const [ph, pw] = pair(padding as number | [number, number]);
  return [ph, ph, pw, pw];
}

/** Resolve and check max-pool options against x; returns the geometry and the output shape. */
export function maxPool2dShape(x: GpuData, opts: MaxPool2dOptions): { geometry: Pool2dGeometry; outShape: number[] } {
  expectRank('maxPool2d', 'input', x, 4, '[N, C, H, W]');
  expectDtype('maxPool2d', 'input', x, 'f32');
  const kernel = pair(opts.kernel);
  const stride = pair(opts.stride ?? opts.kernel);
  const [n, c, h, w] = x.shape;
  const explicit = Array.isArray(opts.padding) && opts.padding.length === 4;
  const symmetric = typeof opts.padding === 'number' || (Array.isArray(opts.padding) && opts.padding.length === 2) || opts.padding === undefined;
  if (!explicit && !symmetric && opts.padding !== 'same') {
    throw new GraftError(`maxPool2d: padding must be a number, [ph, pw], [top, bottom, left, right] or 'same', got ${JSON.stringify(opts.padding)}`);
  }
  const valid = (v: number, min: number) => Number.isInteger(v) && v >= min;
  if (!(kernel.every((k) => valid(k, 1)) && stride.every((s) => valid(s, 1)))) {
    throw new GraftError(`maxPool2d: kernel [${kernel}] and stride [${stride}] must be positive integers`);
  }
  const pad = resolvePadding(opts.padding ?? 0, kernel, stride, h, w);
  const shown = typeof opts.padding === 'string' ? `'same' (= [${pad}])` : `[${symmetric ? pair((opts.padding ?? 0) as number | [number, number]) : pad}]`;
  if (!pad.every((p) => valid(p, 0))) throw new GraftError(`maxPool2d: padding ${shown} must be integers >= 0`);
  for (let a = 0; a < 2; a++) {
    const [before, after] = [pad[2 * a], pad[2 * a + 1]];
    // A window never lies wholly in the padding: torch's rule (at most half the kernel) for symmetric
    // padding; for explicit per-side padding, less than the kernel on each side.
    if (symmetric && before > kernel[a] / 2) throw new GraftError(`maxPool2d: padding ${shown} must be at most half the kernel [${kernel}]`);
    if (explicit && Math.max(before, after) >= kernel[a]) throw new GraftError(`maxPool2d: padding ${shown} must be less than the kernel [${kernel}] on each side`);
  }
  const oh = Math.floor((h + pad[0] + pad[1] - kernel[0]) / stride[0]) + 1;
  const ow = Math.floor((w + pad[2] + pad[3] - kernel[1]) / stride[1]) + 1;
  if (oh < 1 || ow < 1) shapeError('maxPool2d', `input (kernel [${kernel}], padding ${shown})`, `H, W of at least the kernel minus the padding`, x.shape);
  return { geometry: { kernel, stride, padding: [pad[0], pad[2]], variant: opts.variant ?? 'rows' }, outShape: [n, c, oh, ow] };
}

/** The window as template constants of the max-pool kernels. */
const windowConstants = (g: Pool2dGeometry) => ({ KH: g.kernel[0], KW: g.kernel[1], SH: g.stride[0], SW: g.stride[1], PH: g.padding[0], PW: g.padding[1] });

function poolParams(total: number, x: readonly number[], out: readonly number[]) {
  return {
    total,
    h: x[2],
    w: x[3],
    oh: out[2],
    ow: out[3],
  };
}

/** Workgroups for `total` invocations. */
const groups = (rt: Runtime, kernel: CompiledKernel, total: number) => grid1d(rt, Math.ceil(total / threadsPerWorkgroup(kernel)));

/**
 * Max pooling: y: [N, C, OH, OW] with OH = floor((H + top + bottom - k)/s) + 1. With `withArgmax`, also the
 * i32 argmax (iy*W + ix within each plane) that maxPool2dBackward needs.
 */
export function maxPool2d(rt: Runtime, x: GpuData, opts: MaxPool2dOptions, withArgmax: boolean): { y: GpuData; argmax: GpuData | null; geometry: Pool2dGeometry } {
  const { geometry, outShape } = maxPool2dShape(x, opts);
  const y = output(rt, outShape);
  const argmax = withArgmax ? output(rt, outShape, 'i32') : null;
  const total = numel(outShape);
  const kernel = rt.kernel(argmax ? K.maxPoolArgmax : K.maxPool, windowConstants(geometry));
  rt.dispatch(kernel, {
    params: poolParams(total, x.shape, outShape),
    buffers: argmax ? { x: x.buffer, out: y.buffer, argmax: argmax.buffer } : { x: x.buffer, out: y.buffer },
    workgroups: groups(rt, kernel, total),
  });
  return { y, argmax, geometry };
}

/** dx: xShape from dy and the forward's argmax (both [N, C, OH, OW]). */
export function maxPool2dBackward(rt: Runtime, dy: GpuData, argmax: GpuData, xShape: readonly number[], geometry: Pool2dGeometry): GpuData {
  if (dy.shape.join() !== argmax.shape.join()) shapeError('maxPool2dBackward', 'output gradient', shapeStr(argmax.shape), dy.shape);
  const dx = output(rt, xShape);
  const rows = geometry.variant === 'rows';
  const kernel = rt.kernel(rows ? K.maxPoolBackwardRows : K.maxPoolBackward, windowConstants(geometry));
  // rows: one invocation per ROW inputs of a row (ROW is the shader's).
  const total = rows ? numel(xShape.slice(0, 3)) * Math.ceil(xShape[3] / shaderConstant(kernel, 'ROW')) : numel(xShape);
  rt.dispatch(kernel, {
    params: poolParams(total, xShape, dy.shape),
    buffers: { dy: dy.buffer, argmax_in: argmax.buffer, out: dx.buffer },
    workgroups: groups(rt, kernel, total),
  });
  return dx;
}

/** Adaptive average pooling to [N, C, oh, ow] (torch's bin rule; oh > H is allowed). */
export function adaptiveAvgPool2d(rt: Runtime, x: GpuData, size: readonly [number, number], op = 'adaptiveAvgPool2d'): GpuData {
  expectRank(op, 'input', x, 4, '[N, C, H, W]');
  expectDtype(op, 'input', x, 'f32');
  if (size.length !== 2 || !size.every((s) => Number.isInteger(s) && s >= 1)) shapeError(op, 'output size', '[oh, ow] of positive integers', `[${size.join(', ')}]`);
  if (x.shape[2] < 1 || x.shape[3] < 1) shapeError(op, 'input', 'H, W >= 1', x.shape);
  const outShape = [x.shape[0], x.shape[1], size[0], size[1]];
  const y = output(rt, outShape);
  const total = numel(outShape);
  const kernel = rt.kernel(K.adaptiveAvgPool);
  rt.dispatch(kernel, {
    params: poolParams(total, x.shape, outShape),
    buffers: { x: x.buffer, out: y.buffer },
    workgroups: groups(rt, kernel, total),
  });
  return y;
}

export function adaptiveAvgPool2dBackward(rt: Runtime, dy: GpuData, xShape: readonly number[]): GpuData {
  const dx = output(rt, xShape);
  const total = numel(xShape);
  const kernel = rt.kernel(K.adaptiveAvgPoolBackward);
  rt.dispatch(kernel, {
    params: poolParams(total, xShape, dy.shape),
    buffers: { dy: dy.buffer, out: dx.buffer },
    workgroups: groups(rt, kernel, total),
  });
  return dx;
}

export const kernels = Object.values(K);
