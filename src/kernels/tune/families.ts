// What the tuner can measure: for each kernel family, how to rebuild a problem from its shape key
// (seeded random inputs of the recorded shapes) and run it with a given variant. Keys are written
// by the kernel modules (matmul.ts tuneKey, conv2d.ts pickVariant); parsing them back here keeps
// those modules free of tuning code.
import { GraftError } from '../../core/index.ts';
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, conv2dGeometry, type Conv2dVariant, kernels as convKernels } from '../conv2d.ts';
import { type MatmulVariant, kernels as matmulKernels, matmul } from '../matmul.ts';
import type { GpuData, KernelSource, Runtime } from '../runtime/index.ts';

/** One problem ready to run: inputs uploaded; `run` records one variant and returns its output. */
export interface TuneProblem {
  run(variant: string): GpuData;
  dispose(): void;
}

export interface TuneFamily {
  /** The variant every other one is checked against (run for correctness, timed only if allowed). */
  reference: string;
  /** The shader files whose text the cache identity hashes. */
  sources: readonly KernelSource[];
  prepare(rt: Runtime, key: string): TuneProblem;
}

/** `name=value` pairs of a key; throws on a key this version does not write. */
function fields(family: string, key: string, names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of key.split(' ')) {
    const m = /^(\w+)=(\d+)(?:x(\d+))?$/.exec(part);
    if (!m) break;
    out[m[1]] = Number(m[2]);
    if (m[3] !== undefined) out[`${m[1]}2`] = Number(m[3]);
  }
  for (const n of names) if (!Number.isInteger(out[n])) throw new GraftError(`tuning: '${key}' is not a ${family} shape key (no '${n}')`);
  return out;
}

/** Seeded values in [-1, 1) uploaded as a new buffer of `shape`. */
function random(rt: Runtime, shape: number[], seed: number): GpuData {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    values[i] = s / 2147483648 - 1;
  }
  const buffer = rt.alloc(Math.max(4, n * 4));
  rt.write(buffer, values);
  return { buffer, shape, dtype: 'f32' };
}

function problem(rt: Runtime, inputs: GpuData[], run: (variant: string) => GpuData): TuneProblem {
  return { run, dispose: () => inputs.forEach((x) => rt.release(x.buffer)) };
}

const matmulFamily: TuneFamily = {
  reference: 'reference',
  sources: matmulKernels,
  prepare(rt, key) {
    const f = fields('matmul', key, ['batch', 'm', 'k', 'n', 'transA', 'transB', 'batchA', 'batchB', 'sum']);
    const lead = (batched: number) => (batched ? [f.batch] : []);
    const a = random(rt, [...lead(f.batchA), ...(f.transA ? [f.k, f.m] : [f.m, f.k])], 1);
    const b = random(rt, [...lead(f.batchB), ...(f.transB ? [f.n, f.k] : [f.k, f.n])], 2);
    const opts = { transA: !!f.transA, transB: !!f.transB, sumBatches: !!f.sum };
    return problem(rt, [a, b], (variant) => matmul(rt, a, b, { ...opts, variant: variant as MatmulVariant }));
  },
};

/** conv2d.forward / .backwardInput / .backwardFilter: one family per pass, the same key. */
function convFamily(pass: 'forward' | 'backwardInput' | 'backwardFilter'): TuneFamily {
  return {
    reference: 'reference',
    sources: convKernels,
    prepare(rt, key) {
      const f = fields(`conv2d.${pass}`, key, ['n', 'cin', 'h', 'w', 'cout', 'k', 'k2', 'stride', 'pad']);
      const xShape = [f.n, f.cin, f.h, f.w];
      const wShape = [f.cout, f.cin, f.k, f.k2];
      const g = conv2dGeometry('tuning', xShape, wShape, f.stride, f.pad);
      const opts = (variant: string) => ({ stride: f.stride, padding: f.pad, variant: variant as Conv2dVariant });
      if (pass === 'forward') {
        const [x, w] = [random(rt, xShape, 1), random(rt, wShape, 2)];
        return problem(rt, [x, w], (v) => conv2dForward(rt, x, w, null, opts(v)));
      }
      const dy = random(rt, [g.n, g.cout, g.ho, g.wo], 3);
      if (pass === 'backwardInput') {
        const w = random(rt, wShape, 2);
        return problem(rt, [dy, w], (v) => conv2dBackwardInput(rt, dy, w, xShape, opts(v)));
      }
      const x = random(rt, xShape, 1);
      return problem(rt, [dy, x], (v) => conv2dBackwardFilter(rt, dy, x, wShape, opts(v)));
    },
  };
}

export const tuneFamilies: Record<string, TuneFamily> = {
  matmul: matmulFamily,
  'conv2d.forward': convFamily('forward'),
  'conv2d.backwardInput': convFamily('backwardInput'),
  'conv2d.backwardFilter': convFamily('backwardFilter'),
};
