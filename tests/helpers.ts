// Shared test utilities: one GPU per test run, seeded data, tolerance checks, finite differences.
// Used by the Node (vitest) and the Chrome (puppeteer) runs alike.
import { graft, type Gpu } from '../src/graph/gpu.ts';
import { Tensor } from '../src/graph/tensor.ts';
import { conv2dLimits } from '../src/kernels/conv2d.ts';

let gpuPromise: Promise<Gpu> | null = null;

/** The shared device of this test run. */
export function testGpu(): Promise<Gpu> {
  gpuPromise ??= graft();
  return gpuPromise;
}

/** Seeded uniform floats in [lo, hi) as float64 (the CPU references run in float64). */
export function randArray(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  let a = (seed * 2654435761) >>> 0 || 1;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    a ^= a << 13;
    a >>>= 0;
    a ^= a >>> 17;
    a ^= a << 5;
    a >>>= 0;
    out[i] = lo + ((a >>> 0) / 4294967296) * (hi - lo);
  }
  return out;
}

export interface Tolerance {
  atol: number;
  rtol: number;
}

/**
 * Throw, with the worst element and the error statistics, unless |a - e| <= atol + rtol |e| everywhere.
 * Every actual and every expected element must be finite.
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, label = ''): void {
  if (actual.length !== expected.length) throw new Error(`${label}: length ${actual.length} != expected ${expected.length}`);
  let worst = -1;
  let worstExcess = 0;
  let maxAbs = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const err = Math.abs(a - e);
    if (!Number.isFinite(a)) {
      throw new Error(`${label}: element ${i} is ${a} (expected ${e})`);
    }
    // A NaN (or infinite) expected value would make every comparison false and so pass silently: the
    // reference itself is broken there, which is a failure, not a match.
    if (!Number.isFinite(e)) {
      throw new Error(`${label}: expected element ${i} is ${e} (actual ${a}); the reference is not finite`);
    }
    maxAbs = Math.max(maxAbs, err);
    const excess = err - (tol.atol + tol.rtol * Math.abs(e));
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    throw new Error(`${label}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (max abs error ${maxAbs.toExponential(3)}, atol ${tol.atol}, rtol ${tol.rtol})`);
  }
}

/** Central finite differences of a float64 scalar function: d f / d x[i] for every i. */
export function finiteDiff(f: (x: Float64Array) => number, x: Float64Array, eps = 1e-3): Float64Array {
  const g = new Float64Array(x.length);
  const xx = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    const keepV = xx[i];
    xx[i] = keepV + eps;
    const fp = f(xx);
    xx[i] = keepV - eps;
    const fm = f(xx);
    xx[i] = keepV;
    g[i] = (fp - fm) / (2 * eps);
  }
  return g;
}

/** sum(out * w) for a fixed weighting w: the scalar whose gradient a seed of w gives. */
export function weightedSum(out: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < out.length; i++) s += out[i] * w[i];
  return s;
}

export async function read(t: Tensor): Promise<Float64Array> {
  return Float64Array.from(await t.data());
}

/**
 * Run fn with no bound on the work of one conv dispatch, so that every conv pass (forward, input
 * gradient, weight gradient) is exactly one dispatch of its kernel: network-level tests can then
 * count, from the dispatches, which convs computed which gradient. (The bound exists for large convs
 * on SwiftShader; the small nets of such tests are far below it anyway.)
 */
export async function oneDispatchPerConvPass<T>(fn: () => Promise<T>): Promise<T> {
  const keep = conv2dLimits.maxFmaPerDispatch;
  conv2dLimits.maxFmaPerDispatch = Number.MAX_SAFE_INTEGER;
  try {
    return await fn();
  } finally {
    conv2dLimits.maxFmaPerDispatch = keep;
  }
}

/** Dispatches whose kernel name matches re (kernel names: 'conv2d.backward_filter', 'conv2d.subgroup.backward_filter', ...). */
export function dispatchesOf(counts: Record<string, number>, re: RegExp): number {
  return Object.entries(counts).filter(([k]) => re.test(k)).reduce((s, [, v]) => s + v, 0);
}

/** Conv weight-gradient and input-gradient passes among `counts` (every variant and entry point). */
export function convGradDispatches(counts: Record<string, number>): { filter: number; input: number } {
  return {
    filter: dispatchesOf(counts, /^conv2d\.(subgroup\.)?backward_filter$/),
    input: dispatchesOf(counts, /^conv2d\.(subgroup\.)?backward_input(_3x3)?$/),
  };
}
