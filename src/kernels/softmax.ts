// Softmax over the last axis and fused softmax + cross-entropy (shaders/softmax.wgsl).
// Variants (see the shader): 'reference' (a thread per row, scalar), 'vec4' (a thread per row,
// vec4 loads, one read for the row statistics; C % 4 == 0) and 'workgroup' (TPR threads per row
// and a tree in workgroup memory). Choice: on CPU adapters 'vec4' where C allows, else
// 'reference': barriers are very costly on SwiftShader (measured on [64, 1000]: the workgroup
// kernel with 16 threads per row was 5x slower than 'vec4', with 128 threads 30x). On GPUs
// 'workgroup' from C >= 64.
import wgsl from '../../shaders/softmax.wgsl?raw';
import { GraftError, numel, shapeError, shapeStr } from '../core/index.ts';
import { type GpuData, type KernelSource, type Runtime, expectDtype, grid1d, output } from './runtime/index.ts';

export type SoftmaxVariant = 'reference' | 'vec4' | 'workgroup';

export interface RowOptions {
  /** Force a variant (tests, benchmarks); chosen from the shape and adapter when absent. */
  variant?: SoftmaxVariant;
  /** 'workgroup' only: threads per row, a power of two in [1, 256]; chosen from C when absent. */
  threadsPerRow?: number;
}

export interface CrossEntropyKernelOptions extends RowOptions {
  /** torch label_smoothing: target = (1 - eps) * onehot + eps / C. */
  labelSmoothing?: number;
}

const entry = (name: string): KernelSource => ({ name: `softmax.${name}`, wgsl, entry: name });
const K = {
  softmax: { reference: entry('softmax_reference'), vec4: entry('softmax_vec4'), workgroup: entry('softmax_workgroup') },
  softmaxBackward: { reference: entry('softmax_backward_reference'), vec4: entry('softmax_backward_vec4'), workgroup: entry('softmax_backward_workgroup') },
  crossEntropy: { reference: entry('cross_entropy_reference'), vec4: entry('cross_entropy_vec4'), workgroup: entry('cross_entropy_workgroup') },
  crossEntropyTotal: entry('cross_entropy_total'),
  crossEntropyBackward: entry('cross_entropy_backward'),
  crossEntropyBackwardVec4: entry('cross_entropy_backward_vec4'),
};

// Workgroup sizes. A thread per row: 16 rows per workgroup on CPUs spreads a batch of 64 rows
// over several cores; 64 on GPUs. The workgroup kernel: 256 threads, TPR of them per row.
const rowsPerGroup = (rt: Runtime): number => (rt.report.isCpu ? 16 : 64);
const WORKGROUP_WG = 256;
// Backward elements (vec4s) per thread: long chunks on CPUs (an invocation costs more than a loop
// step there: 16 vec4s per thread ran ~4x faster than one), one per thread on GPUs.
const backwardChunk = (rt: Runtime): number => (rt.report.isCpu ? 16 : 1);

/** Threads per row for C columns in the workgroup kernel: ~8 columns per thread, at most 256. */
export function threadsPerRow(c: number): number {
  let t = 1;
  while (t < WORKGROUP_WG && t * 8 < c) t *= 2;
  return t;
}

export function chooseVariant(rt: Runtime, c: number): SoftmaxVariant {
  if (!rt.report.isCpu && c >= 64) return 'workgroup';
  return c % 4 === 0 ? 'vec4' : 'reference';
}

interface Plan {
  kernel: KernelSource;
  constants: Record<string, number>;
  workgroups: [number, number];
}

function plan(rt: Runtime, op: string, rows: number, c: number, opts: RowOptions, kernels: Record<SoftmaxVariant, KernelSource>): Plan {
  const variant = opts.variant ?? chooseVariant(rt, c);
  if (variant === 'workgroup') {
    const tpr = opts.threadsPerRow ?? threadsPerRow(c);
    if (!Number.isInteger(tpr) || tpr < 1 || tpr > WORKGROUP_WG || (tpr & (tpr - 1)) !== 0) {
      throw new GraftError(`${op}: threadsPerRow must be a power of two in [1, ${WORKGROUP_WG}], got ${tpr}`);
    }
    return { kernel: kernels.workgroup, constants: { WG: WORKGROUP_WG, TPR: tpr }, workgroups: grid1d(rt, Math.ceil(rows / (WORKGROUP_WG / tpr))) };
  }
  if (variant !== 'reference' && variant !== 'vec4') throw new GraftError(`${op}: unknown variant '${variant}' (expected 'reference', 'vec4' or 'workgroup')`);
  if (variant === 'vec4' && c % 4 !== 0) throw new GraftError(`${op}: variant 'vec4' needs C % 4 == 0, got C = ${c}`);
  const wg = rowsPerGroup(rt);
  return { kernel: kernels[variant], constants: { WG: wg }, workgroups: grid1d(rt, Math.ceil(rows / wg)) };
}

const params = (rows: number, c: number, p: Partial<{ eps: number; gStride: number; scale: number; chunkLen: number }> = {}) => ({
  rows,
  c,
  eps: p.eps ?? 0,
  g_stride: p.gStride ?? 0,
  scale: p.scale ?? 1,
  chunk_len: p.chunkLen ?? 1,
});

function rowsOf(op: string, x: GpuData): { rows: number; c: number } {
  expectDtype(op, 'input', x, 'f32');
  if (x.shape.length < 1 || numel(x.shape) === 0) shapeError(op, 'input', 'a non-empty tensor (softmax over the last axis)', x.shape);
  const c = x.shape[x.shape.length - 1];
  return { rows: numel(x.shape) / c, c };
}

/** Softmax over the last axis of x (any rank, viewed as [rows, C]). */
export function softmax(rt: Runtime, x: GpuData, opts: RowOptions = {}): GpuData {
  const { rows, c } = rowsOf('softmax', x);
  const p = plan(rt, 'softmax', rows, c, opts, K.softmax);
  const out = output(rt, x.shape);
  rt.dispatch(rt.kernel(p.kernel, p.constants), { params: params(rows, c), buffers: { x: x.buffer, x4: x.buffer, out: out.buffer, out4: out.buffer }, workgroups: p.workgroups });
  return out;
}

/** dx = y * (dy - sum(dy * y)) per row, from the upstream gradient dy and the softmax output y. */
export function softmaxBackward(rt: Runtime, dy: GpuData, y: GpuData, opts: RowOptions = {}): GpuData {
  const { rows, c } = rowsOf('softmaxBackward', y);
  if (dy.shape.join() !== y.shape.join()) shapeError('softmaxBackward', 'upstream gradient', shapeStr(y.shape), dy.shape);
  const p = plan(rt, 'softmaxBackward', rows, c, opts, K.softmaxBackward);
  const out = output(rt, y.shape);
  rt.dispatch(rt.kernel(p.kernel, p.constants), {
    params: params(rows, c),
    buffers: { x: y.buffer, x4: y.buffer, dy: dy.buffer, dy4: dy.buffer, out: out.buffer, out4: out.buffer },
    workgroups: p.workgroups,
  });
  return out;
}

/** Throw unless logits are f32 [N, C] and labels are i32 [N]; returns N and C. */
export function checkCrossEntropy(op: string, logits: GpuData, labels: GpuData, labelSmoothing = 0): { n: number; c: number } {
  expectDtype(op, 'logits', logits, 'f32');
  if (logits.shape.length !== 2 || numel(logits.shape) === 0) shapeError(op, 'logits', '[N, C] with N, C >= 1', logits.shape);
  const [n, c] = logits.shape;
  expectDtype(op, 'labels', labels, 'i32');
  if (labels.shape.length !== 1 || labels.shape[0] !== n) shapeError(op, `labels (for logits ${shapeStr(logits.shape)})`, `[${n}]`, labels.shape);
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) throw new GraftError(`${op}: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  return { n, c };
}

/**
 * Per-row softmax cross-entropy of logits [N, C] against i32 labels [N]: `loss` [N] and the
 * log-sum-exp `lse` [N] that the backward needs. A label outside [0, C) gives a NaN loss for its row.
 */
export function crossEntropy(rt: Runtime, logits: GpuData, labels: GpuData, opts: CrossEntropyKernelOptions = {}): { loss: GpuData; lse: GpuData } {
  const eps = opts.labelSmoothing ?? 0;
  const { n, c } = checkCrossEntropy('softmaxCrossEntropy', logits, labels, eps);
  const p = plan(rt, 'softmaxCrossEntropy', n, c, opts, K.crossEntropy);
  const loss = output(rt, [n]);
  const lse = output(rt, [n]);
  rt.dispatch(rt.kernel(p.kernel, p.constants), {
    params: params(n, c, { eps }),
    buffers: { x: logits.buffer, x4: logits.buffer, labels: labels.buffer, out: loss.buffer, lse_out: lse.buffer },
    workgroups: p.workgroups,
  });
  return { loss, lse };
}

/** scale * sum of the per-row losses [N], as shape [1] (1 / N for a mean). */
export function crossEntropyTotal(rt: Runtime, rowLoss: GpuData, scale: number): GpuData {
  if (rowLoss.shape.length !== 1) shapeError('softmaxCrossEntropy', 'row losses', '[N]', rowLoss.shape);
  const out = output(rt, [1]);
  rt.dispatch(rt.kernel(K.crossEntropyTotal), { params: params(rowLoss.shape[0], 1, { scale }), buffers: { x: rowLoss.buffer, out: out.buffer }, workgroups: [1] });
  return out;
}

/**
 * d logits = g * scale * (softmax(logits) - target), softmax recomputed from the saved lse.
 * g is the upstream gradient: [1] (a 'mean' or 'sum' loss) or [N] (reduction 'none').
 * Rows with a label outside [0, C) get NaN.
 */
export function crossEntropyBackward(
  rt: Runtime,
  logits: GpuData,
  labels: GpuData,
  lse: GpuData,
  g: GpuData,
  opts: { labelSmoothing?: number; scale?: number; vec4?: boolean; chunkLen?: number } = {},
): GpuData {
  const op = 'softmaxCrossEntropy backward';
  const eps = opts.labelSmoothing ?? 0;
  const { n, c } = checkCrossEntropy(op, logits, labels, eps);
  if (lse.shape.length !== 1 || lse.shape[0] !== n) shapeError(op, 'saved lse', `[${n}]`, lse.shape);
  const gn = numel(g.shape);
  if (gn !== 1 && gn !== n) shapeError(op, 'upstream gradient', `[1] or [${n}]`, g.shape);
  const vec4 = opts.vec4 ?? c % 4 === 0;
  if (vec4 && c % 4 !== 0) throw new GraftError(`${op}: vec4 needs C % 4 == 0, got C = ${c}`);
  // Chunk length in vec4s (vec4) or elements (scalar): the same bytes per thread either way.
  const chunkLen = opts.chunkLen ?? backwardChunk(rt) * (vec4 ? 1 : 4);
  const chunks = Math.ceil((vec4 ? c / 4 : c) / chunkLen);
  const wg = rowsPerGroup(rt);
  const out = output(rt, logits.shape);
  rt.dispatch(rt.kernel(vec4 ? K.crossEntropyBackwardVec4 : K.crossEntropyBackward, { WG: wg }), {
    params: params(n, c, { eps, gStride: gn === 1 ? 0 : 1, scale: opts.scale ?? 1, chunkLen }),
    buffers: { x: logits.buffer, x4: logits.buffer, labels: labels.buffer, lse: lse.buffer, g: g.buffer, out: out.buffer, out4: out.buffer },
    workgroups: grid1d(rt, Math.ceil((n * chunks) / wg)),
  });
  return out;
}

export const kernels: KernelSource[] = [
  ...Object.values(K.softmax),
  ...Object.values(K.softmaxBackward),
  ...Object.values(K.crossEntropy),
  K.crossEntropyTotal,
  K.crossEntropyBackward,
  K.crossEntropyBackwardVec4,
];
