// Host-side data for the workloads: seeded random arrays (made once on the CPU and uploaded to every
// contender), the layout transposes between Graft (NCHW activations, OIHW weights) and TensorFlow.js
// (NHWC activations, HWIO weights), and the output comparison.
import { mulberry32, normal } from '../src/graph/random.ts';

/** Seeded normal(0, std) values. */
export function randn(n: number, seed: number, std = 1): Float32Array {
  const rand = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = normal(rand) * std;
  return out;
}

/** Seeded uniform values in [lo, hi). */
export function uniform(n: number, seed: number, lo: number, hi: number): Float32Array {
  const rand = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + rand() * (hi - lo);
  return out;
}

/** Seeded integers in [0, k). */
export function randint(n: number, seed: number, k: number): Int32Array {
  const rand = mulberry32(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * k);
  return out;
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** x: [N, C, H, W] -> [N, H, W, C]. */
export function nchwToNhwc(x: Float32Array, [n, c, h, w]: readonly number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < h * w; i++) out[(b * h * w + i) * c + ch] = x[(b * c + ch) * h * w + i];
  return out;
}

/** y: [N, H, W, C] -> [N, C, H, W]; `shape` is the NCHW shape. */
export function nhwcToNchw(y: ArrayLike<number>, [n, c, h, w]: readonly number[]): Float32Array {
  const out = new Float32Array(n * c * h * w);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < h * w; i++) out[(b * c + ch) * h * w + i] = y[(b * h * w + i) * c + ch];
  return out;
}

/** Weights [O, I, kH, kW] (torch) -> [kH, kW, I, O] (tfjs). */
export function oihwToHwio(wt: Float32Array, [o, i, kh, kw]: readonly number[]): Float32Array {
  const out = new Float32Array(wt.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) out[((y * kw + x) * i + b) * o + a] = wt[((a * i + b) * kh + y) * kw + x];
  return out;
}

/** Weights [kH, kW, I, O] -> [O, I, kH, kW]; `shape` is the OIHW shape. */
export function hwioToOihw(wt: ArrayLike<number>, [o, i, kh, kw]: readonly number[]): Float32Array {
  const out = new Float32Array(o * i * kh * kw);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) out[((a * i + b) * kh + y) * kw + x] = wt[((y * kw + x) * i + b) * o + a];
  return out;
}

export interface Difference {
  /** max |a - b| over all outputs. */
  maxAbs: number;
  /** max |a - b| / max |b|, per output, worst over outputs: the error relative to the output's scale. */
  maxRel: number;
  /** Set when shapes disagree or a value is not finite. */
  problem?: string;
}

/**
 * Compare two lists of outputs (same order, same common layout). The relative difference is
 * taken against the largest magnitude of the reference output, not element by element: an
 * element-wise ratio explodes at values near zero that float32 sums cannot resolve.
 */
export function compareOutputs(a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[]): Difference {
  if (a.length !== b.length) return { maxAbs: Infinity, maxRel: Infinity, problem: `${a.length} outputs vs ${b.length}` };
  let maxAbs = 0;
  let maxRel = 0;
  for (let k = 0; k < a.length; k++) {
    const x = a[k];
    const y = b[k];
    if (x.length !== y.length) return { maxAbs: Infinity, maxRel: Infinity, problem: `output ${k}: ${x.length} values vs ${y.length}` };
    let scale = 0;
    let worst = 0;
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i]) || !Number.isFinite(y[i])) return { maxAbs: Infinity, maxRel: Infinity, problem: `output ${k}, element ${i}: ${x[i]} vs ${y[i]}` };
      scale = Math.max(scale, Math.abs(y[i]));
      worst = Math.max(worst, Math.abs(x[i] - y[i]));
    }
    maxAbs = Math.max(maxAbs, worst);
    maxRel = Math.max(maxRel, scale > 0 ? worst / scale : worst);
  }
  return { maxAbs, maxRel };
}
