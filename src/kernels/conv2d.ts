// 2-D convolution: forward with fused bias + activation, input gradient, weight gradient
// (split-K), bias gradient. x: [N, Cin, H, W], w: [Cout, Cin, kH, kW] (OIHW), y: [N, Cout, Ho, Wo].
// Variants (every pass has all three):
//   'subgroup'  register-blocked implicit GEMMs sharing weights through subgroupBroadcast
//               (shaders/conv2d_subgroup.wgsl); the fastest where the adapter has subgroups.
//   'tiled'     workgroup-memory tiled implicit GEMMs (shaders/conv2d.wgsl), for adapters
//               without subgroups.
//   'reference' one thread per output, plain loops (shaders/conv2d.wgsl).
// 'auto' (default) picks 'subgroup' when the device has the feature, else 'tiled'.
import wgsl from '../../shaders/conv2d.wgsl?raw';
import subgroupMain from '../../shaders/conv2d_subgroup.wgsl?raw';
import gemmBlock from '../../shaders/gemm_32x8.wgsl?raw';
import { sumToAxis } from './reduce.ts';
import { GraftError, numel, shapeError, shapeStr } from '../core/index.ts';
import { type CompiledKernel, type GpuData, type KernelConstants, type Runtime, expectDtype, grid1d, output, shaderConstant, threadsPerWorkgroup } from './runtime/index.ts';

export type Conv2dVariant = 'auto' | 'subgroup' | 'tiled' | 'reference';
export type Conv2dActivation = 'none' | 'relu' | 'leakyRelu';

export interface Conv2dOptions {
  stride?: number;
  padding?: number;
  variant?: Conv2dVariant;
  /** Tile shape of the 'tiled' variant (tuning scripts); the measured default otherwise. */
  tile?: Conv2dTile;
}

export interface Conv2dForwardOptions extends Conv2dOptions {
  activation?: Conv2dActivation;
  /** Negative slope of leakyRelu (default 0.01); must be >= 0 (the backward reads y's sign). */
  slope?: number;
  /**
   * Forward of 'subgroup' (from 16 input channels) and 'tiled': cut the reduction into this many
   * slices (at most; fewer when they would be shorter than the kernel's step), summed by a second
   * pass that runs the epilogue (split-K). Default: chosen from the shape, on GPUs only (see
   * forwardSplits); tests and tuning force it.
   */
  splitK?: number;
}

/** An inference batchnorm (running statistics) to fold into the forward's epilogue: all [Cout]. */
export interface FoldedBatchNorm {
  gamma: GpuData;
  beta: GpuData;
  mean: GpuData;
  variance: GpuData;
  eps: number;
}

/**
 * Inference-only epilogue additions (no backward exists for them): y = act(bn(conv + bias) + residual),
 * bn with its running statistics, residual of y's shape.
 */
export interface Conv2dFusedOptions extends Conv2dForwardOptions {
  bn?: FoldedBatchNorm;
  residual?: GpuData;
}

/** Everything the kernels need to know about one convolution. */
export interface Conv2dGeometry {
  n: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  ho: number;
  wo: number;
  kh: number;
  kw: number;
  stride: number;
  pad: number;
}

/** 'tiled': TX x TY threads, a 4x4 register block each, reduction depth BK per workgroup-memory step. */
export interface Conv2dTile {
  TX: number;
  TY: number;
  BK: number;
}

// The register block (accumulators, multiply_add) lives in its own file, written by scripts/gemm-block.js.
const subgroupWgsl = `${subgroupMain}\n${gemmBlock}`;
const entry = (name: string) => ({ name: `conv2d.${name}`, wgsl, entry: name });
const subgroupEntry = (name: string) => ({ name: `conv2d.subgroup.${name}`, wgsl: subgroupWgsl, entry: name, requires: ['subgroups'] });
const K = {
  forward: entry('forward'),
  forwardReference: entry('forward_reference'),
  backwardInput: entry('backward_input'),
  backwardInputReference: entry('backward_input_reference'),
  backwardFilter: entry('backward_filter'),
  backwardFilterReference: entry('backward_filter_reference'),
  sumSlices: entry('sum_slices'),
  forwardSumSlices: entry('forward_sum_slices'),
  forwardSubgroup: subgroupEntry('forward'),
  forward3x3Subgroup: subgroupEntry('forward_3x3'),
  forwardFlatSubgroup: subgroupEntry('forward_flat'),
  backwardInputSubgroup: subgroupEntry('backward_input'),
  backwardInput3x3Subgroup: subgroupEntry('backward_input_3x3'),
  backwardFilterSubgroup: subgroupEntry('backward_filter'),
};
/** Every kernel of the family (the subgroup ones compile only where the adapter has subgroups). */
export const kernels = Object.values(K);

// 'tiled' tile: 16x16 threads (64x64 outputs), BK = 16 (scratch/conv-bench.ts on SwiftShader:
// 8x8 threads and BK 32 were no faster; this variant exists for GPUs without subgroups).
const TILE: Conv2dTile = { TX: 16, TY: 16, BK: 16 };
// Workgroup size of the reference and sum kernels: chosen here, passed to the shader as REF_WG.
const REF_WG = 64;
export const conv2dLimits = {
  /**
   * Upper bound on multiply-adds per dispatch (long single dispatches have crashed SwiftShader);
   * larger convolutions are split over several dispatches. Tests lower it to exercise the splits.
   */
  maxFmaPerDispatch: 2 ** 29,
  /**
   * 'subgroup' forward: below this many input channels one flat loop over (ci, ky, kx) replaces
   * the per-tap loops (3-channel first layers: 2-3x faster there, ~15% slower at 16 channels).
   */
  flatBelowCin: 16,
};
/**
 * Split-K of the forward ('subgroup' from 16 input channels, and 'tiled'), on GPUs: late layers at
 * small batch have few output pixels (7x7 at batch 1: 32 workgroups of 8 threads for 512 channels
 * in 'subgroup', 8 in 'tiled'), far from filling a GPU, while their reduction is long (Cin * 9 =
 * 4608). Slices of at least FORWARD_MIN_SLICE channels, until about FORWARD_TARGET_GROUPS
 * workgroups. CPU adapters need no more workgroups than cores: no split unless forced.
 */
const FORWARD_TARGET_GROUPS = 256;
const FORWARD_MIN_SLICE = 32;

/** Slices of the reduction (`total` steps, sliced in multiples of `align`) and their length. */
function forwardSplits(rt: Runtime, g: Conv2dGeometry, groups: number, total: number, align: number, forced: number | undefined): { splits: number; splitLen: number } {
  let wanted = 1;
  if (forced !== undefined) {
    if (!Number.isInteger(forced) || forced < 1) throw new GraftError(`conv2d: splitK must be a positive integer, got ${forced}`);
    wanted = forced;
  } else if (!rt.report.isCpu) {
    wanted = Math.max(1, Math.min(ceilDiv(FORWARD_TARGET_GROUPS, groups), Math.floor(g.cin / FORWARD_MIN_SLICE)));
  }
  // As few slices of a multiple of `align` as cover the reduction.
  const splitLen = wanted > 1 ? align * ceilDiv(ceilDiv(total, wanted), align) : total;
  return { splits: ceilDiv(total, splitLen), splitLen };
}

/**
 * Record a forward: in one pass, or split-K: raw partial sums per slice into a [splits, ...y]
 * buffer (epilogue off), then forward_sum_slices adds them and runs the epilogue into `out`.
 */
function forwardPasses(rt: Runtime, kernel: CompiledKernel, g: Conv2dGeometry, plan: { blocks: number; fmaPerBlock: number; rows: number; extra: Record<string, number> },
  split: { splits: number; splitLen: number }, epilogue: Record<string, number>, buffers: Record<string, GPUBuffer>, out: GpuData): GpuData {
  const { splits, splitLen } = split;
  if (splits === 1) {
    dispatchBlocks(rt, kernel, plan.blocks, plan.fmaPerBlock, params(g, { ...epilogue, ...plan.extra, split_len: splitLen }), buffers, [plan.rows, 1]);
    return out;
  }
  const count = numel(out.shape);
  const partial = output(rt, [splits, ...out.shape]);
  dispatchBlocks(rt, kernel, plan.blocks, plan.fmaPerBlock, params(g, { ...plan.extra, split_len: splitLen, splits }), { ...buffers, y: partial.buffer }, [plan.rows, splits]);
  const { x: _x, wt: _w, ...epilogueBuffers } = buffers;
  rt.dispatch(rt.kernel(K.forwardSumSlices, { REF_WG }), {
    params: params(g, { ...epilogue, count, splits }),
    buffers: { ...epilogueBuffers, partial: partial.buffer },
    workgroups: grid1d(rt, ceilDiv(count, REF_WG)),
  });
  rt.release(partial.buffer);
  return out;
}

/** Split-K aims at this many workgroups in the weight-gradient pass, slices of >= MIN_SLICE pixels. */
const FILTER_TARGET_GROUPS_CPU = 8;
const FILTER_TARGET_GROUPS_GPU = 256;
const MIN_SLICE = 256;

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

/** Validate shapes and derive the output size. `op` names the caller in errors. */
export function conv2dGeometry(op: string, xShape: readonly number[], wShape: readonly number[], stride = 1, padding = 0): Conv2dGeometry {
  if (xShape.length !== 4) shapeError(op, 'input x', 'rank 4 [N, Cin, H, W]', xShape);
  if (wShape.length !== 4) shapeError(op, 'weight', 'rank 4 [Cout, Cin, kH, kW]', wShape);
  if (!Number.isInteger(stride) || stride < 1) throw new GraftError(`${op}: stride must be a positive integer, got ${stride}`);
  if (!Number.isInteger(padding) || padding < 0) throw new GraftError(`${op}: padding must be a non-negative integer, got ${padding}`);
  const [n, cin, h, w] = xShape;
  const [cout, wcin, kh, kw] = wShape;
  if (wcin !== cin) shapeError(op, `weight (for input ${shapeStr(xShape)})`, `[Cout, ${cin}, kH, kW]`, wShape);
  const ho = Math.floor((h + 2 * padding - kh) / stride) + 1;
  const wo = Math.floor((w + 2 * padding - kw) / stride) + 1;
  if (ho < 1 || wo < 1 || kh < 1 || kw < 1) {
    shapeError(op, `input (for kernel ${kh}x${kw}, padding ${padding})`, `spatial size at least ${kh - 2 * padding}x${kw - 2 * padding}`, xShape);
  }
  return { n, cin, h, w, cout, ho, wo, kh, kw, stride, pad: padding };
}

/** The uniform struct (shared by both shader files): geometry plus per-dispatch fields. */
function params(g: Conv2dGeometry, extra: Partial<Record<string, number>> = {}): Record<string, number> {
  return {
    n: g.n, cin: g.cin, h: g.h, w: g.w, cout: g.cout, ho: g.ho, wo: g.wo, kh: g.kh, kw: g.kw, stride: g.stride, pad: g.pad,
    has_bias: 0, act: 0, slope: 0, tile_base: 0, col_stride: 0, r_begin: 0, r_end: 0, split_len: 0, accumulate: 0, count: 0, splits: 0,
    has_bn: 0, bn_eps: 0, has_res: 0,
    ...extra,
  };
}

/** A forced variant, else the tuner's measured choice for this pass and geometry, else the heuristic. */
function pickVariant(rt: Runtime, v: Conv2dVariant | undefined, pass: string, g: Conv2dGeometry): Exclude<Conv2dVariant, 'auto'> {
  if (v === 'subgroup' && !rt.report.features.includes('subgroups')) throw new GraftError(`conv2d: variant 'subgroup' needs the adapter feature 'subgroups', which this device lacks`);
  if (v && v !== 'auto') return v;
  const allowed = rt.report.features.includes('subgroups') ? ['subgroup', 'tiled'] as const : ['tiled'] as const;
  const key = `n=${g.n} cin=${g.cin} h=${g.h} w=${g.w} cout=${g.cout} k=${g.kh}x${g.kw} stride=${g.stride} pad=${g.pad}`;
  return (rt.tuner.choose(`conv2d.${pass}`, key, allowed) as (typeof allowed)[number] | undefined) ?? allowed[0];
}

const tileConstants = (t: Conv2dTile): KernelConstants => ({ TX: t.TX, TY: t.TY, BK: t.BK });

/** Record `blocks` column blocks (grid x) in dispatches of bounded work, offset by tile_base. */
function dispatchBlocks(rt: Runtime, kernel: CompiledKernel, blocks: number, fmaPerBlock: number, p: Record<string, number>, buffers: Record<string, GPUBuffer>, yz: [number, number]): void {
  const per = Math.max(1, Math.min(rt.limits.maxComputeWorkgroupsPerDimension, Math.floor(conv2dLimits.maxFmaPerDispatch / Math.max(1, fmaPerBlock))));
  for (let base = 0; base < blocks; base += per) {
    rt.dispatch(kernel, { params: { ...p, tile_base: base }, buffers, workgroups: [Math.min(per, blocks - base), ...yz] });
  }
}

/** A 'subgroup' kernel's layout, from its shader: ROWS x COLS outputs per thread, WG threads. */
interface SubgroupPlan {
  kernel: CompiledKernel;
  /** Column blocks (grid x) and GEMM rows per workgroup (grid y covers rows / `rows`). */
  blocks: number;
  rows: number;
  /** Threads in use per block; the block spans cols * stride columns. */
  stride: number;
  /** Outputs of one workgroup: rows x cols x stride. */
  area: number;
}

/**
 * 'subgroup' column layout: blocks of COLS * stride columns; stride (threads in use, a multiple of
 * 4 up to WG) is as small as covers `cols` with the fewest blocks, so small images idle few lanes.
 */
function subgroupPlan(kernel: CompiledKernel, cols: number): SubgroupPlan {
  const threads = threadsPerWorkgroup(kernel);
  const perThread = shaderConstant(kernel, 'COLS');
  const rows = shaderConstant(kernel, 'ROWS');
  const blocks = ceilDiv(cols, perThread * threads);
  const stride = Math.min(threads, 4 * ceilDiv(ceilDiv(cols, perThread * blocks), 4));
  return { kernel, blocks, rows, stride, area: rows * perThread * stride };
}

function reference(rt: Runtime, k: typeof K.forward, g: Conv2dGeometry, out: GpuData, buffers: Record<string, GPUBuffer>, extra: Record<string, number> = {}): GpuData {
  const count = numel(out.shape);
  rt.dispatch(rt.kernel(k, { REF_WG }), { params: params(g, { count, ...extra }), buffers, workgroups: grid1d(rt, ceilDiv(count, REF_WG)) });
  return out;
}

/**
 * y = act(conv(x, w) + bias), and with the inference-only `bn` / `residual` of Conv2dFusedOptions
 * y = act(bn(conv(x, w) + bias) + residual) in the same dispatch.
 */
export function conv2dForward(rt: Runtime, x: GpuData, w: GpuData, bias: GpuData | null, opts: Conv2dFusedOptions = {}): GpuData {
  const g = conv2dGeometry('conv2d', x.shape, w.shape, opts.stride ?? 1, opts.padding ?? 0);
  expectDtype('conv2d', 'input x', x, 'f32');
  expectDtype('conv2d', 'weight', w, 'f32');
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== g.cout)) shapeError('conv2d', 'bias', `[${g.cout}]`, bias.shape);
  const activation = opts.activation ?? 'none';
  const slope = activation === 'relu' ? 0 : (opts.slope ?? 0.01);
  if (activation === 'leakyRelu' && !(slope >= 0)) throw new GraftError(`conv2d: the fused leakyRelu needs a slope >= 0 (its backward reads the output's sign), got ${slope}`);
  const { bn, residual } = opts;
  if (bn) {
    for (const [name, t] of [['gamma', bn.gamma], ['beta', bn.beta], ['running mean', bn.mean], ['running variance', bn.variance]] as const) {
      if (t.shape.length !== 1 || t.shape[0] !== g.cout) shapeError('conv2d (folded batchnorm)', name, `[${g.cout}]`, t.shape);
      expectDtype('conv2d (folded batchnorm)', name, t, 'f32');
    }
    if (!(bn.eps >= 0)) throw new GraftError(`conv2d (folded batchnorm): eps must be >= 0, got ${bn.eps}`);
  }
  const outShape = [g.n, g.cout, g.ho, g.wo];
  if (residual && (residual.shape.length !== 4 || residual.shape.some((d, i) => d !== outShape[i]))) shapeError('conv2d (fused residual)', 'residual', shapeStr(outShape), residual.shape);
  const out = output(rt, outShape);
  // The residual goes into y first; the epilogue adds y's contents (one fewer binding than a
  // separate buffer: the forward entries stay within WebGPU's default 8 storage buffers).
  if (residual) rt.copy(residual.buffer, out.buffer, numel(outShape) * 4);
  const buffers = {
    x: x.buffer, wt: w.buffer, bias: (bias ?? w).buffer, y: out.buffer,
    bn_w: (bn?.gamma ?? w).buffer, bn_b: (bn?.beta ?? w).buffer, bn_m: (bn?.mean ?? w).buffer, bn_v: (bn?.variance ?? w).buffer,
  };
  const epilogue = { has_bias: bias ? 1 : 0, act: activation === 'none' ? 0 : 1, slope, has_bn: bn ? 1 : 0, bn_eps: bn?.eps ?? 0, has_res: residual ? 1 : 0 };
  const variant = pickVariant(rt, opts.variant, 'forward', g);
  const kk = g.cin * g.kh * g.kw;
  const cols = g.n * g.ho * g.wo;
  if (variant === 'reference') return reference(rt, K.forwardReference, g, out, buffers, epilogue);
  if (variant === 'subgroup') {
    const flat = g.cin < conv2dLimits.flatBelowCin;
    const kernel = flat ? rt.kernel(K.forwardFlatSubgroup, { KH: g.kh, KW: g.kw }) : rt.kernel(g.kh === 3 && g.kw === 3 ? K.forward3x3Subgroup : K.forwardSubgroup);
    const sg = subgroupPlan(kernel, cols);
    const rowBlocks = ceilDiv(g.cout, sg.rows);
    // The main loop slices input channels, in multiples of 4 (its unrolling); the flat loop never splits.
    const split = flat ? { splits: 1, splitLen: g.cin } : forwardSplits(rt, g, sg.blocks * rowBlocks, g.cin, 4, opts.splitK);
    return forwardPasses(rt, kernel, g, { blocks: sg.blocks, fmaPerBlock: rowBlocks * sg.area * kk, rows: rowBlocks, extra: { col_stride: sg.stride } }, split, epilogue, buffers, out);
  }
  const t = opts.tile ?? TILE;
  const rowTiles = ceilDiv(g.cout, 4 * t.TY);
  const colTiles = ceilDiv(cols, 4 * t.TX);
  const kernel = rt.kernel(K.forward, { ...tileConstants(t), KH: g.kh, KW: g.kw, STRIDE: g.stride });
  // 'tiled' slices K = Cin * KH * KW in multiples of its step BK.
  const split = forwardSplits(rt, g, colTiles * rowTiles, kk, t.BK, opts.splitK);
  return forwardPasses(rt, kernel, g, { blocks: colTiles, fmaPerBlock: rowTiles * 16 * t.TY * t.TX * kk, rows: rowTiles, extra: {} }, split, epilogue, buffers, out);
}

/** dL/dx from dy = dL/dy: [N, Cout, Ho, Wo] and the weight; xShape is the forward input's shape. */
export function conv2dBackwardInput(rt: Runtime, dy: GpuData, w: GpuData, xShape: readonly number[], opts: Conv2dOptions = {}): GpuData {
  const g = conv2dGeometry('conv2dBackwardInput', xShape, w.shape, opts.stride ?? 1, opts.padding ?? 0);
  expectGradShape('conv2dBackwardInput', dy, g);
  const out = output(rt, xShape);
  const buffers = { dy: dy.buffer, wt: w.buffer, dx: out.buffer };
  const variant = pickVariant(rt, opts.variant, 'backwardInput', g);
  if (variant === 'reference') return reference(rt, K.backwardInputReference, g, out, buffers);
  const s = g.stride;
  // Phase (0, 0) has the most pixels; blocks past a smaller phase's end exit at once.
  const cols = g.n * ceilDiv(g.h, s) * ceilDiv(g.w, s);
  const fmaPerColumn = g.cout * g.kh * g.kw;
  if (variant === 'subgroup') {
    // Stride 1, 3x3: one phase, taps unrolled (backward_input_3x3).
    const unrolled = s === 1 && g.kh === 3 && g.kw === 3;
    const sg = subgroupPlan(rt.kernel(unrolled ? K.backwardInput3x3Subgroup : K.backwardInputSubgroup), cols);
    const rowBlocks = ceilDiv(g.cin, sg.rows);
    dispatchBlocks(rt, sg.kernel, sg.blocks, rowBlocks * sg.area * fmaPerColumn, params(g, { col_stride: sg.stride }), buffers, [rowBlocks, s * s]);
    return out;
  }
  const t = opts.tile ?? TILE;
  const rowTiles = ceilDiv(g.cin, 4 * t.TY);
  dispatchBlocks(rt, rt.kernel(K.backwardInput, tileConstants(t)), ceilDiv(cols, 4 * t.TX), rowTiles * 16 * t.TY * t.TX * fmaPerColumn, params(g), buffers, [rowTiles, s * s]);
  return out;
}

/** dL/dw: [Cout, Cin, kH, kW] from dy and the forward input x (split-K over N*Ho*Wo). */
export function conv2dBackwardFilter(rt: Runtime, dy: GpuData, x: GpuData, wShape: readonly number[], opts: Conv2dOptions = {}): GpuData {
  const g = conv2dGeometry('conv2dBackwardFilter', x.shape, wShape, opts.stride ?? 1, opts.padding ?? 0);
  expectGradShape('conv2dBackwardFilter', dy, g);
  const out = output(rt, wShape);
  const variant = pickVariant(rt, opts.variant, 'backwardFilter', g);
  if (variant === 'reference') return reference(rt, K.backwardFilterReference, g, out, { dy: dy.buffer, x: x.buffer, dw: out.buffer });

  const kTotal = g.cin * g.kh * g.kw;
  const reduction = g.n * g.ho * g.wo;
  let kernel: CompiledKernel, colBlocks: number, rowBlocks: number, blockArea: number, step: number;
  let extra: Record<string, number> = {};
  if (variant === 'subgroup') {
    const sg = subgroupPlan(rt.kernel(K.backwardFilterSubgroup), kTotal);
    [kernel, colBlocks, rowBlocks, blockArea, step, extra] = [sg.kernel, sg.blocks, ceilDiv(g.cout, sg.rows), sg.area, 4, { col_stride: sg.stride }];
  } else {
    const t = opts.tile ?? TILE;
    [kernel, colBlocks, rowBlocks, blockArea, step] = [rt.kernel(K.backwardFilter, tileConstants(t)), ceilDiv(kTotal, 4 * t.TX), ceilDiv(g.cout, 4 * t.TY), 16 * t.TX * t.TY, t.BK];
  }
  const groups = colBlocks * rowBlocks;
  const target = rt.report.isCpu ? FILTER_TARGET_GROUPS_CPU : FILTER_TARGET_GROUPS_GPU;
  // Reduction indices one dispatch may cover, then the slice length (a multiple of `step`) and
  // count: the first dispatch covers every slice, so the sum pass never reads an unwritten one.
  const maxR = Math.max(step, Math.floor(conv2dLimits.maxFmaPerDispatch / (groups * blockArea) / step) * step);
  const wantSplits = Math.max(1, Math.min(ceilDiv(target, groups), Math.floor(reduction / MIN_SLICE)));
  const splitLen = ceilDiv(ceilDiv(Math.min(reduction, maxR), wantSplits), step) * step;
  const splits = ceilDiv(Math.min(reduction, maxR), splitLen);
  const chunk = splits * splitLen;
  const partial = splits > 1 ? output(rt, [splits, g.cout, kTotal]) : out;
  for (let r = 0; r < reduction; r += chunk) {
    const rEnd = Math.min(reduction, r + chunk);
    rt.dispatch(kernel, {
      params: params(g, { ...extra, r_begin: r, r_end: rEnd, split_len: splitLen, accumulate: r > 0 ? 1 : 0 }),
      buffers: { dy: dy.buffer, x: x.buffer, dw: partial.buffer },
      workgroups: [colBlocks, rowBlocks, ceilDiv(rEnd - r, splitLen)],
    });
  }
  if (splits > 1) {
    const count = g.cout * kTotal;
    rt.dispatch(rt.kernel(K.sumSlices, { REF_WG }), {
      params: params(g, { count, splits }),
      buffers: { partial: partial.buffer, dw: out.buffer },
      workgroups: grid1d(rt, ceilDiv(count, REF_WG)),
    });
    rt.release(partial.buffer);
  }
  return out;
}

/** dL/dbias: [Cout] = sum of dy over N, Ho, Wo. */
export function conv2dBackwardBias(rt: Runtime, dy: GpuData): GpuData {
  if (dy.shape.length !== 4) shapeError('conv2dBackwardBias', 'gradient dy', 'rank 4 [N, Cout, Ho, Wo]', dy.shape);
  return sumToAxis(rt, dy, 1);
}

function expectGradShape(op: string, dy: GpuData, g: Conv2dGeometry): void {
  const want = [g.n, g.cout, g.ho, g.wo];
  if (dy.shape.length !== 4 || dy.shape.some((d, i) => d !== want[i])) shapeError(op, 'gradient dy', shapeStr(want), dy.shape);
}
