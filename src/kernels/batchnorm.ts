// Batch normalisation kernels (shaders/batchnorm.wgsl) over x: [N, C, H, W], per channel over
// the m = N*H*W elements of each channel, with torch.nn.BatchNorm2d semantics.
import wgsl from '../../shaders/batchnorm.wgsl?raw';
import { GraftError, shapeError, shapeStr } from '../core/index.ts';
import { type CompiledKernel, type GpuData, type KernelConstants, type KernelSource, type Runtime, expectDtype, expectRank, grid1d, output, threadsPerWorkgroup } from './runtime/index.ts';

/**
 * 'reference': one workgroup per channel for every reduction (tree reductions; statistics in two
 * passes), scalar elementwise passes. 'split' (the default): each channel's reductions spread over
 * a (slices, C) grid of barrier-free workgroups, one partial per invocation (statistics in one pass:
 * Welford, Chan merges; vec4 loads when H*W % 4 == 0), merged by one thread per channel; vec4
 * elementwise passes whenever the total is a multiple of 4 and H*W >= 4.
 */
export type BatchNormVariant = 'reference' | 'split';

/** Units (elements, or vec4s) per split invocation: enough that the per-invocation partial
 * (12 bytes) is small next to what it reads (16 vec4s = 256 bytes), few enough that a GPU gets
 * many workgroups ([8, 64, 56, 56]: 6 slices x 64 channels). 16 and 64 measured the same on
 * SwiftShader. */
const UNITS_PER_INVOCATION = 16;
const MAX_SLICES = 256;

const entry = (name: string) => ({ name: `batchnorm.${name}`, wgsl, entry: name });
const K = {
  statsReference: entry('stats_reference'),
  statsPartial: entry('stats_partial'),
  statsPartialVec4: entry('stats_partial_vec4'),
  statsFinalize: entry('stats_finalize'),
  statsEval: entry('stats_eval'),
  normalize: entry('normalize'),
  normalizeVec4: entry('normalize_vec4'),
  backwardReduceReference: entry('backward_reduce_reference'),
  backwardReducePartial: entry('backward_reduce_partial'),
  backwardReducePartialVec4: entry('backward_reduce_partial_vec4'),
  backwardReduceFinalize: entry('backward_reduce_finalize'),
  dxTrain: entry('dx_train'),
  dxTrainVec4: entry('dx_train_vec4'),
  dxEval: entry('dx_eval'),
  dxEvalVec4: entry('dx_eval_vec4'),
};

interface Dims {
  n: number;
  c: number;
  hw: number;
  /** Elements per channel, N*H*W. */
  m: number;
}

const dimsOf = (x: GpuData): Dims => {
  const [n, c, h, w] = x.shape;
  return { n, c, hw: h * w, m: n * h * w };
};

/** The full uniform struct: every entry point shares it. */
function params(d: Dims, p: Partial<{ slices: number; span: number; total: number; eps: number; momentum: number; update: number; act: number; slope: number }> = {}) {
  return { n: d.n, c: d.c, hw: d.hw, slices: p.slices ?? 1, span: p.span ?? d.m, total: p.total ?? 0, eps: p.eps ?? 0, momentum: p.momentum ?? 0, update: p.update ?? 0, act: p.act ?? 0, slope: p.slope ?? 0 };
}

function pick(variant?: BatchNormVariant): BatchNormVariant {
  // Barrier-free split reductions win at every size on SwiftShader (a workgroup barrier makes the
  // reference kernels' loops several times slower) and give GPUs more workgroups per channel.
  return variant ?? 'split';
}

/** Split geometry: units are vec4s when H*W % 4 == 0, else elements. */
function slicing(rt: Runtime, d: Dims, scalar: KernelSource, vec4Kernel: KernelSource, constants?: KernelConstants): { stage1: CompiledKernel; vec4: boolean; slices: number; span: number; threads: number } {
  const vec4 = d.hw % 4 === 0;
  const stage1 = rt.kernel(vec4 ? vec4Kernel : scalar, constants);
  // Partials per channel: one per invocation of the (slices, C) grid of stage-1 workgroups.
  const threads = threadsPerWorkgroup(stage1);
  const units = vec4 ? d.m / 4 : d.m;
  const slices = Math.max(1, Math.min(MAX_SLICES, Math.round(units / (threads * UNITS_PER_INVOCATION))));
  return { stage1, vec4, slices, span: Math.ceil(units / slices), threads };
}

/** One invocation per channel. */
function perChannel(rt: Runtime, source: KernelSource, d: Dims, p: ReturnType<typeof params>, buffers: Record<string, GPUBuffer>): void {
  const kernel = rt.kernel(source);
  rt.dispatch(kernel, { params: p, buffers, workgroups: [Math.ceil(d.c / threadsPerWorkgroup(kernel))] });
}

/** Throw unless x is [N, C, H, W] f32 and gamma, beta, runningMean, runningVar are [C] f32. */
export function checkBatchNorm2d(op: string, x: GpuData, perChannel: Record<string, GpuData>): void {
  expectRank(op, 'input', x, 4, '[N, C, H, W]');
  expectDtype(op, 'input', x, 'f32');
  const c = x.shape[1];
  for (const [what, t] of Object.entries(perChannel)) {
    if (t.shape.length !== 1 || t.shape[0] !== c) shapeError(op, `${what} (for input ${shapeStr(x.shape)})`, `[${c}]`, t.shape);
    expectDtype(op, what, t, 'f32');
  }
}

/** No constants: the pipeline cache's keyless fast path. */
const orNone = (c: KernelConstants): KernelConstants | undefined => (Object.keys(c).length ? c : undefined);

/** Bindings over a whole [N, C, H, W] tensor: bound as `${name}4` by the vec4 kernels. */
const FULL_SIZE = new Set(['x', 'dy', 'y', 'res', 'out']);

/**
 * An elementwise pass over all of x. With `useVec4`: vec4 when the total is a multiple of 4 and
 * H*W >= 4 (a vec4 then spans at most two planes; MIXED handles that when H*W % 4 != 0).
 */
function elementwise(rt: Runtime, d: Dims, scalar: KernelSource, vec4: KernelSource, useVec4: boolean, buffers: Record<string, GPUBuffer>, extra: { act?: number; slope?: number } = {}, constants: KernelConstants = {}): void {
  const total = d.m * d.c;
  const wide = useVec4 && total % 4 === 0 && d.hw >= 4;
  const count = wide ? total / 4 : total;
  const named: Record<string, GPUBuffer> = {};
  for (const [k, b] of Object.entries(buffers)) named[wide && FULL_SIZE.has(k) ? `${k}4` : k] = b;
  const kernel = rt.kernel(wide ? vec4 : scalar, wide ? { ...constants, MIXED: d.hw % 4 !== 0 } : orNone(constants));
  rt.dispatch(kernel, { params: params(d, { total: count, ...extra }), buffers: named, workgroups: grid1d(rt, Math.ceil(count / threadsPerWorkgroup(kernel))) });
}

export interface BatchNormForwardOptions {
  /** Batch statistics (and running-stat update) when true; running statistics when false. */
  training: boolean;
  momentum: number;
  eps: number;
  variant?: BatchNormVariant;
  /** Applied to the output in the normalising pass (a leaky ReLU; ReLU is slope 0). */
  activation?: 'none' | 'relu' | 'leakyRelu';
  /** leakyRelu's slope (default 0.01), >= 0: the backward reads the output's sign. */
  slope?: number;
  /** Added after the normalisation, before the activation (a ResNet shortcut): x's shape. */
  residual?: GpuData | null;
}

/**
 * y = act((x - mean) / sqrt(var + eps) * gamma + beta [+ residual]) per channel (act: none by default). Training: batch mean and biased
 * variance, and runningMean/runningVar updated in place. Returns y and stats: [4, C] (mean,
 * invstd, scale, shift) for the backward.
 */
export function batchNorm2dForward(rt: Runtime, x: GpuData, gamma: GpuData, beta: GpuData, runningMean: GpuData, runningVar: GpuData, opts: BatchNormForwardOptions): { y: GpuData; stats: GpuData } {
  checkBatchNorm2d('batchNorm2d', x, { gamma, beta, runningMean, runningVar });
  const d = dimsOf(x);
  if (opts.training && d.m < 2) shapeError('batchNorm2d', 'input in training mode', 'more than 1 value per channel', x.shape);
  const variant = pick(opts.variant);
  const stats = output(rt, [4, d.c]);
  const channelBuffers = { gamma: gamma.buffer, beta: beta.buffer, running_mean: runningMean.buffer, running_var: runningVar.buffer, stats_out: stats.buffer };
  const common = { eps: opts.eps, momentum: opts.momentum, update: opts.training ? 1 : 0 };
  if (!opts.training) {
    perChannel(rt, K.statsEval, d, params(d, common), channelBuffers);
  } else if (variant === 'reference') {
    rt.dispatch(rt.kernel(K.statsReference), { params: params(d, common), buffers: { x: x.buffer, ...channelBuffers }, workgroups: [d.c] });
  } else {
    const { stage1, vec4, slices, span, threads } = slicing(rt, d, K.statsPartial, K.statsPartialVec4);
    const partial = output(rt, [d.c, slices * threads, 3]);
    const p = params(d, { ...common, slices, span });
    rt.dispatch(stage1, { params: p, buffers: { [vec4 ? 'x4' : 'x']: x.buffer, partial: partial.buffer }, workgroups: [slices, d.c] });
    perChannel(rt, K.statsFinalize, d, p, { partial_in: partial.buffer, ...channelBuffers });
    rt.release(partial.buffer);
  }
  const y = output(rt, x.shape);
  const activation = opts.activation ?? 'none';
  const slope = activation === 'relu' ? 0 : (opts.slope ?? 0.01);
  if (activation === 'leakyRelu' && !(slope >= 0)) throw new GraftError(`batchNorm2d: a fused leakyRelu needs a slope >= 0 (its backward reads the output's sign), got ${slope}`);
  const res = opts.residual;
  if (res) {
    if (res.shape.join() !== x.shape.join()) shapeError('batchNorm2d', 'residual', shapeStr(x.shape), res.shape);
    expectDtype('batchNorm2d', 'residual', res, 'f32');
  }
  // Without a residual, `res` is bound to x and never read (the kernel names it statically).
  const buffers = { x: x.buffer, res: (res ?? x).buffer, stats: stats.buffer, out: y.buffer };
  elementwise(rt, d, K.normalize, K.normalizeVec4, variant === 'split', buffers, { act: activation === 'none' ? 0 : 1, slope }, res ? { RESIDUAL: true } : {});
  return { y, stats };
}

export interface BatchNormBackwardOptions {
  /** The forward's mode: training differentiates through the batch statistics. */
  training: boolean;
  /** Which gradients to compute. */
  dx: boolean;
  dgamma: boolean;
  dbeta: boolean;
  variant?: BatchNormVariant;
  /**
   * The forward fused a leaky ReLU (ReLU: slope 0) with output y: the kernels gate dy by y's sign
   * on the fly, g = dy * (y > 0 ? 1 : slope), with no pass of its own.
   */
  gate?: { y: GpuData; slope: number } | null;
  /**
   * Also return g (the residual's gradient, when the forward added one), written by the
   * reduction pass; it must run (training dx, or dgamma / dbeta), else this throws.
   */
  keep?: boolean;
}

/**
 * Gradients of batchNorm2dForward from dy, the forward input x and its stats. Only the requested
 * ones are computed: the per-channel reduction (dgamma = sum g*xhat, dbeta = sum g) runs only
 * when dgamma or dbeta is asked for, or for dx in training mode. g is dy, or dy gated (opts.gate).
 */
export function batchNorm2dBackward(rt: Runtime, dy: GpuData, x: GpuData, stats: GpuData, opts: BatchNormBackwardOptions): { dx: GpuData | null; dgamma: GpuData | null; dbeta: GpuData | null; g: GpuData | null } {
  if (dy.shape.join() !== x.shape.join()) shapeError('batchNorm2dBackward', 'output gradient', shapeStr(x.shape), dy.shape);
  const gate = opts.gate ?? null;
  if (gate && gate.y.shape.join() !== x.shape.join()) shapeError('batchNorm2dBackward', 'forward output', shapeStr(x.shape), gate.y.shape);
  const d = dimsOf(x);
  const variant = pick(opts.variant);
  const reduces = opts.dgamma || opts.dbeta || (opts.dx && opts.training);
  if (opts.keep && !reduces) throw new GraftError('batchNorm2dBackward: keep needs the reduction pass (training dx, dgamma or dbeta)');
  // Without a gate, y is bound to dy and never read (the kernels name it statically).
  const gated = { dy: dy.buffer, y: (gate?.y ?? dy).buffer };
  const gateConstants: KernelConstants = gate ? { GATE: true } : {};
  const slope = gate?.slope ?? 0;
  let sumDy: GpuData | null = null;
  let sumDyXhat: GpuData | null = null;
  let g: GpuData | null = null;
  if (reduces) {
    sumDy = output(rt, [d.c]);
    sumDyXhat = output(rt, [d.c]);
    const sums = { sum_dy: sumDy.buffer, sum_dy_xhat: sumDyXhat.buffer };
    const constants = opts.keep ? { ...gateConstants, KEEP: true } : gateConstants;
    if (opts.keep) g = output(rt, x.shape);
    // Without keep, `out` is bound to a 16-byte scratch buffer and never written (WebGPU forbids
    // binding a buffer the dispatch already writes).
    const out = g ?? output(rt, [4]);
    if (variant === 'reference') {
      const buffers = { x: x.buffer, ...gated, stats: stats.buffer, ...sums, out: out.buffer };
      rt.dispatch(rt.kernel(K.backwardReduceReference, orNone(constants)), { params: params(d, { slope }), buffers, workgroups: [d.c] });
    } else {
      const { stage1, vec4, slices, span, threads } = slicing(rt, d, K.backwardReducePartial, K.backwardReducePartialVec4, orNone(constants));
      const partial = output(rt, [d.c, slices * threads, 2]);
      const p = params(d, { slices, span, slope });
      const full: Record<string, GPUBuffer> = { x: x.buffer, ...gated, out: out.buffer };
      const inputs: Record<string, GPUBuffer> = {};
      for (const [k, b] of Object.entries(full)) inputs[vec4 ? `${k}4` : k] = b;
      rt.dispatch(stage1, { params: p, buffers: { ...inputs, stats: stats.buffer, partial: partial.buffer }, workgroups: [slices, d.c] });
      perChannel(rt, K.backwardReduceFinalize, d, p, { partial_in: partial.buffer, stats: stats.buffer, ...sums });
      rt.release(partial.buffer);
    }
    if (!g) rt.release(out.buffer);
  }
  let dx: GpuData | null = null;
  if (opts.dx) {
    dx = output(rt, x.shape);
    // With keep, the gated gradient exists: the dx pass reads it as dy, ungated.
    const source = g ? { dy: g.buffer, y: g.buffer } : gated;
    const constants = g ? {} : gateConstants;
    if (opts.training) {
      elementwise(rt, d, K.dxTrain, K.dxTrainVec4, variant === 'split', { x: x.buffer, ...source, stats: stats.buffer, sum_dy: sumDy!.buffer, sum_dy_xhat: sumDyXhat!.buffer, out: dx.buffer }, { slope }, constants);
    } else {
      elementwise(rt, d, K.dxEval, K.dxEvalVec4, variant === 'split', { ...source, stats: stats.buffer, out: dx.buffer }, { slope }, constants);
    }
  }
  const dbeta = opts.dbeta ? sumDy : null;
  const dgamma = opts.dgamma ? sumDyXhat : null;
  if (sumDy && !dbeta) rt.release(sumDy.buffer);
  if (sumDyXhat && !dgamma) rt.release(sumDyXhat.buffer);
  return { dx, dgamma, dbeta, g };
}

export const kernels = Object.values(K);
