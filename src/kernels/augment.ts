// Image-batch augmentation and preprocessing kernels (shaders/augment.wgsl) on x: [N, C, H, W].
import wgsl from '../../shaders/augment.wgsl?raw';
import { GraftError, numel, shapeError, shapeStr } from '../core/index.ts';
import { type CompiledKernel, type GpuData, type KernelSource, type Runtime, expectDtype, expectRank, grid1d, output, threadsPerWorkgroup } from './runtime/index.ts';

const K = {
  cropFlip: { name: 'augment.crop_flip', wgsl, entry: 'crop_flip' },
  resize: { name: 'augment.resize_bilinear', wgsl, entry: 'resize_bilinear' },
  normalize: { name: 'augment.normalize', wgsl, entry: 'normalize' },
};

function checkImages(op: string, x: GpuData): [number, number, number, number] {
  expectRank(op, 'input', x, 4, '[N, C, H, W]');
  expectDtype(op, 'input', x, 'f32');
  return x.shape as [number, number, number, number];
}

/** One invocation per output element. */
function run(rt: Runtime, source: KernelSource, total: number, params: Record<string, number | number[]>, buffers: Record<string, GPUBuffer>): void {
  const kernel: CompiledKernel = rt.kernel(source);
  rt.dispatch(kernel, { params, buffers, workgroups: grid1d(rt, Math.max(1, Math.ceil(total / threadsPerWorkgroup(kernel)))) });
}

/**
 * Per-image crop window and flip: out [N, C, outH, outW], out[n, c, y, x] = x[n, c, y + oy,
 * (flip ? outW - 1 - x : x) + ox], zero outside the image. offsets: i32 [N * 3] of (oy, ox, flip).
 */
export function cropFlip(rt: Runtime, x: GpuData, offsets: GpuData, outH: number, outW: number): GpuData {
  const [n, c, h, w] = checkImages('cropFlip', x);
  expectDtype('cropFlip', 'offsets', offsets, 'i32');
  if (numel(offsets.shape) !== 3 * n) shapeError('cropFlip', 'offsets', `[${3 * n}] (oy, ox, flip per image)`, offsets.shape);
  if (!(outH > 0 && outW > 0)) throw new GraftError(`cropFlip: output size ${outH}x${outW} is not positive`);
  const out = output(rt, [n, c, outH, outW]);
  const total = numel(out.shape);
  run(rt, K.cropFlip, total, { total, c, h, w, out_h: outH, out_w: outW }, { x: x.buffer, offsets: offsets.buffer, out: out.buffer });
  return out;
}

/** torch F.interpolate(x, size=[outH, outW], mode='bilinear', align_corners=False). */
export function resizeBilinear(rt: Runtime, x: GpuData, outH: number, outW: number): GpuData {
  const [n, c, h, w] = checkImages('resizeBilinear', x);
  if (!(Number.isInteger(outH) && Number.isInteger(outW) && outH > 0 && outW > 0)) throw new GraftError(`resizeBilinear: output size ${outH}x${outW} must be positive integers`);
  const out = output(rt, [n, c, outH, outW]);
  const total = numel(out.shape);
  run(rt, K.resize, total, { total, h, w, out_h: outH, out_w: outW, scale_h: h / outH, scale_w: w / outW }, { x: x.buffer, out: out.buffer });
  return out;
}

export interface NormalizeArgs {
  /** Multiplies the input first. */
  scale: number;
  /** Per output channel (at most 4). */
  mean: readonly number[];
  std: readonly number[];
  /** The input channel each output channel reads (default: the same; all 0 for a gray input). */
  sourceChannels?: readonly number[];
}

/** out[n, c] = (x[n, source[c]] * scale - mean[c]) / std[c]: [N, Cin, H, W] -> [N, Cout, H, W]. */
export function normalize(rt: Runtime, x: GpuData, a: NormalizeArgs): GpuData {
  const [n, cIn, h, w] = checkImages('normalize', x);
  const cOut = a.mean.length;
  if (cOut < 1 || cOut > 4 || a.std.length !== cOut) throw new GraftError(`normalize: mean and std need one value per output channel (1 to 4), got ${a.mean.length} and ${a.std.length}`);
  if (a.std.some((s) => !(s > 0) && !(s < 0))) throw new GraftError(`normalize: std must not be 0 (got [${a.std.join(', ')}])`);
  const source = a.sourceChannels ?? (cIn === 1 ? new Array(cOut).fill(0) : [...Array(cOut).keys()]);
  if (source.length !== cOut || source.some((s) => !(Number.isInteger(s) && s >= 0 && s < cIn))) {
    throw new GraftError(`normalize: input of shape ${shapeStr(x.shape)} has ${cIn} channel(s); cannot make ${cOut} output channels from input channels [${source.join(', ')}]`);
  }
  const pad = <T>(v: readonly T[], fill: T) => [...v, ...new Array(4 - v.length).fill(fill)];
  const out = output(rt, [n, cOut, h, w]);
  const total = numel(out.shape);
  const params = { total, c_in: cIn, c_out: cOut, plane: h * w, scale: a.scale, src_channel: pad(source, 0), mean: pad(a.mean, 0), deviation: pad(a.std, 1) };
  run(rt, K.normalize, total, params, { x: x.buffer, out: out.buffer });
  return out;
}

export const kernels = Object.values(K);
