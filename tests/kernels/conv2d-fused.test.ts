// Inference fusion: conv2d + folded batchnorm (running statistics) + residual add + activation in
// one dispatch (ops.conv2dBnAct), against the same ops unfused and the float64 CPU reference.
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/graph/autograd.ts';
import { parameter } from '../../src/graph/module.ts';
import * as ops from '../../src/graph/ops.ts';
import { type Tensor, noGrad, scope } from '../../src/graph/tensor.ts';
import * as conv from '../../src/kernels/conv2d.ts';
import type { Gpu } from '../../src/graph/gpu.ts';
import { expectClose, randArray, read, testGpu } from '../helpers.ts';
import * as bnRef from '../reference/batchnorm.ts';
import * as ref from '../reference/conv2d.ts';
import * as ewRef from '../reference/elementwise.ts';

// Against the float64 reference: the conv tolerance of conv2d.test.ts (the folded scale is <= 1
// here, gamma in [0.5, 1] and variance in [1, 2], so it does not amplify the conv's error).
const KERNEL = { atol: 1e-4, rtol: 1e-4 };
// Fused against unfused: the same accumulation, so only the epilogue's few roundings differ.
const FUSED = { atol: 1e-5, rtol: 1e-5 };

// Awkward shapes: stride 2, padding, batch > 1, Cout not a multiple of 16 (rows) or of the tiles,
// Cin below and above conv2dLimits.flatBelowCin, 1x1 and 7x7 kernels.
const SHAPES: ref.ConvShape[] = [
  { n: 2, cin: 3, h: 9, w: 9, cout: 5, k: 3, stride: 1, pad: 1 },
  { n: 2, cin: 4, h: 11, w: 13, cout: 17, k: 3, stride: 2, pad: 1 },
  { n: 3, cin: 20, h: 7, w: 6, cout: 33, k: 1, stride: 2, pad: 0 },
  { n: 1, cin: 3, h: 15, w: 15, cout: 8, k: 7, stride: 2, pad: 3 },
  { n: 2, cin: 18, h: 9, w: 8, cout: 21, k: 3, stride: 1, pad: 1 },
];

interface Combo {
  bias: boolean;
  bn: boolean;
  residual: boolean;
  activation: 'none' | 'relu' | 'leakyRelu';
  slope?: number;
}
const COMBOS: Combo[] = [
  { bias: false, bn: true, residual: false, activation: 'relu' }, // ResNet conv1 / bn1 / relu
  { bias: false, bn: true, residual: true, activation: 'relu' }, // ResNet conv2 / bn2 / add / relu
  { bias: false, bn: true, residual: false, activation: 'none' }, // a downsample shortcut
  { bias: false, bn: true, residual: false, activation: 'leakyRelu', slope: 0.1 }, // darknet
  { bias: true, bn: true, residual: true, activation: 'leakyRelu', slope: 0.2 },
  { bias: true, bn: false, residual: true, activation: 'relu' },
];

const label = (s: ref.ConvShape) => `N${s.n} ${s.cin}x${s.h}x${s.w} -> ${s.cout} k${s.k} s${s.stride} p${s.pad}`;
const comboLabel = (c: Combo) => `${c.bias ? 'bias ' : ''}${c.bn ? 'bn ' : ''}${c.residual ? 'residual ' : ''}${c.activation}`;
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const yShapeOf = (s: ref.ConvShape): [number, number, number, number] => [s.n, s.cout, ...ref.outSize(s)];

const hasSubgroups = (await testGpu()).adapter.features.includes('subgroups');
const VARIANTS = (['subgroup', 'tiled', 'reference'] as const).filter((v) => v !== 'subgroup' || hasSubgroups);

function itEveryVariant(title: string, fn: () => Promise<void>): void {
  it(title, fn);
  if (!hasSubgroups) it.skip(`${title} ['subgroup' variant] (skipped: this adapter lacks the 'subgroups' feature)`, () => {});
}

/** Seeded inputs of one shape: x, w, bias, batchnorm parameters and running statistics, residual. */
function data(s: ref.ConvShape, seed: number) {
  return {
    x: randArray(s.n * s.cin * s.h * s.w, seed),
    w: randArray(s.cout * s.cin * s.k * s.k, seed + 1),
    b: randArray(s.cout, seed + 2),
    gamma: randArray(s.cout, seed + 3, 0.5, 1),
    beta: randArray(s.cout, seed + 4),
    mean: randArray(s.cout, seed + 5, -0.5, 0.5),
    variance: randArray(s.cout, seed + 6, 1, 2),
    res: randArray(size(yShapeOf(s)), seed + 7),
  };
}

/** One shape's data as tensors: input, weight, bias, inference batchnorm, residual. */
function uploaded(gpu: Gpu, s: ref.ConvShape, d: ReturnType<typeof data>, eps: number) {
  const t = (v: Float64Array, shape: number[]) => gpu.tensor(v, shape);
  const bn: ops.InferenceBatchNorm = { gamma: t(d.gamma, [s.cout]), beta: t(d.beta, [s.cout]), runningMean: t(d.mean, [s.cout]), runningVar: t(d.variance, [s.cout]), eps };
  return { x: t(d.x, [s.n, s.cin, s.h, s.w]), w: t(d.w, [s.cout, s.cin, s.k, s.k]), b: t(d.b, [s.cout]), bn, res: t(d.res, yShapeOf(s)) };
}

/** The float64 reference: act(bn(conv + bias) + residual). */
function expected(s: ref.ConvShape, d: ReturnType<typeof data>, c: Combo, eps: number): Float64Array {
  let y = ref.conv2d(s, d.x, d.w, c.bias ? d.b : null);
  if (c.bn) y = bnRef.batchNormEval(y, yShapeOf(s), d.gamma, d.beta, d.mean, d.variance, eps);
  if (c.residual) y = y.map((v, i) => v + d.res[i]);
  return c.activation === 'none' ? y : ewRef.leakyRelu(y, c.activation === 'relu' ? 0 : c.slope!);
}

describe('conv2d with batchnorm, residual and activation fused (inference)', () => {
  itEveryVariant('matches the unfused ops and the float64 reference in every variant, in one dispatch', async () => {
    const gpu = await testGpu();
    const eps = 1e-3;
    await noGrad(() =>
      scope(async () => {
        for (const [si, s] of SHAPES.entries()) {
          const d = data(s, 200 + 10 * si);
          const { x, w, b, bn, res } = uploaded(gpu, s, d, eps);
          for (const variant of VARIANTS) {
            for (const c of COMBOS) {
              const at = `${variant} ${label(s)} ${comboLabel(c)}`;
              const o = { stride: s.stride, padding: s.pad, variant, activation: c.activation, slope: c.slope };
              gpu.resetCounters();
              const fused = ops.conv2dBnAct(x, w, c.bias ? b : null, { ...o, bn: c.bn ? bn : null, residual: c.residual ? res : null });
              // One conv dispatch; a residual is first copied into the output (a buffer copy, counted as 'copy').
              const { copy, ...counts } = gpu.stats().dispatches;
              expect(copy ?? 0, at).toBe(c.residual ? 1 : 0);
              expect(Object.values(counts).reduce((a, v) => a + v, 0), at).toBe(1);
              expect(Object.keys(counts)[0], at).toMatch(/^conv2d\.(subgroup\.)?forward/);

              let unfused: Tensor = ops.conv2d(x, w, c.bias ? b : null, { stride: s.stride, padding: s.pad, variant });
              if (c.bn) unfused = ops.batchNorm2d(unfused, bn.gamma, bn.beta, bn.runningMean, bn.runningVar, { training: false, eps });
              if (c.residual) unfused = ops.add(unfused, res);
              if (c.activation !== 'none') unfused = ops.leakyRelu(unfused, c.activation === 'relu' ? 0 : c.slope);
              const got = await read(fused);
              expectClose(got, await read(unfused), FUSED, `fused vs unfused ${at}`);
              expectClose(got, expected(s, d, c, eps), KERNEL, `fused vs float64 ${at}`);
            }
          }
        }
      }),
    );
  });

  itEveryVariant('stays correct when the work is split over several dispatches', async () => {
    const gpu = await testGpu();
    const s: ref.ConvShape = { n: 2, cin: 5, h: 17, w: 16, cout: 20, k: 3, stride: 1, pad: 1 };
    const c: Combo = { bias: false, bn: true, residual: true, activation: 'relu' };
    const d = data(s, 300);
    const saved = conv.conv2dLimits.maxFmaPerDispatch;
    try {
      conv.conv2dLimits.maxFmaPerDispatch = 60_000;
      await noGrad(() =>
        scope(async () => {
          const t = (v: Float64Array, shape: number[]) => gpu.tensor(v, shape);
          const bn = { gamma: t(d.gamma, [20]), beta: t(d.beta, [20]), runningMean: t(d.mean, [20]), runningVar: t(d.variance, [20]), eps: 1e-5 };
          for (const variant of VARIANTS.filter((v) => v !== 'reference')) {
            gpu.resetCounters();
            const y = ops.conv2dBnAct(t(d.x, [2, 5, 17, 16]), t(d.w, [20, 5, 3, 3]), null, { padding: 1, variant, activation: 'relu', bn, residual: t(d.res, yShapeOf(s)) });
            const counts = gpu.stats().dispatches;
            expect(Object.keys(counts).reduce((a, k) => a + counts[k], 0), variant).toBeGreaterThan(1);
            expectClose(await read(y), expected(s, d, c, 1e-5), KERNEL, `split ${variant}`);
          }
        }),
      );
    } finally {
      conv.conv2dLimits.maxFmaPerDispatch = saved;
    }
  });

  // Split-K: the 'subgroup' and 'tiled' forwards cut their reduction into slices (chosen on GPUs
  // for late layers at small batch; forced here) and a second pass sums them and runs the epilogue.
  const SPLIT_VARIANTS = VARIANTS.filter((v) => v !== 'reference');
  // The subgroup forward of a 3x3 kernel has its own entry point (taps unrolled).
  const forwardKernel = (variant: string, k: number) => (variant === 'tiled' ? 'conv2d.forward' : k === 3 ? 'conv2d.subgroup.forward_3x3' : 'conv2d.subgroup.forward');
  itEveryVariant('split-K forward: every fused epilogue matches the unsplit kernel and the float64 reference', async () => {
    const gpu = await testGpu();
    const eps = 1e-3;
    // Cin not a multiple of 4 or of the slice; stride 2; 1x1; batch 2.
    const shapes: ref.ConvShape[] = [
      { n: 1, cin: 37, h: 5, w: 6, cout: 19, k: 3, stride: 1, pad: 1 },
      { n: 2, cin: 64, h: 5, w: 4, cout: 33, k: 3, stride: 2, pad: 1 },
      { n: 1, cin: 20, h: 7, w: 7, cout: 16, k: 1, stride: 1, pad: 0 },
    ];
    await noGrad(() =>
      scope(async () => {
        for (const [si, s] of shapes.entries()) {
          const d = data(s, 500 + 10 * si);
          const { x, w, b, bn, res } = uploaded(gpu, s, d, eps);
          for (const variant of SPLIT_VARIANTS) {
            for (const c of COMBOS) {
              const o = { stride: s.stride, padding: s.pad, variant, activation: c.activation, slope: c.slope, bn: c.bn ? bn : null, residual: c.residual ? res : null };
              const whole = await read(ops.conv2dBnAct(x, w, c.bias ? b : null, o));
              for (const splitK of [2, 3, 1000]) {
                const at = `${variant} ${label(s)} ${comboLabel(c)} splitK ${splitK}`;
                gpu.resetCounters();
                const y = ops.conv2dBnAct(x, w, c.bias ? b : null, { ...o, splitK });
                const { copy: _copy, ...counts } = gpu.stats().dispatches;
                expect(counts, at).toEqual({ [forwardKernel(variant, s.k)]: 1, 'conv2d.forward_sum_slices': 1 });
                const got = await read(y);
                expectClose(got, whole, KERNEL, `split vs unsplit ${at}`);
                expectClose(got, expected(s, d, c, eps), KERNEL, `split vs float64 ${at}`);
              }
            }
          }
        }
        expect(() => ops.conv2dBnAct(gpu.zeros([1, 32, 4, 4]), gpu.zeros([8, 32, 3, 3]), null, { padding: 1, splitK: 0 })).toThrow(/conv2d: splitK must be a positive integer, got 0/);
      }),
    );
  });

  itEveryVariant('split-K is chosen by default on GPU adapters only, for convolutions with few workgroups', async () => {
    const gpu = await testGpu();
    const report = gpu.rt.report as { isCpu: boolean };
    const isCpu = report.isCpu;
    await noGrad(() =>
      scope(async () => {
        // 128 channels at 4x4, batch 1: one column block and one row block of output channels.
        const x = gpu.tensor(randArray(128 * 16, 7), [1, 128, 4, 4]);
        const w = gpu.tensor(randArray(16 * 128 * 9, 8), [16, 128, 3, 3]);
        for (const variant of SPLIT_VARIANTS) {
          const run = async (cpu: boolean) => {
            report.isCpu = cpu;
            gpu.resetCounters();
            const y = ops.conv2dBnAct(x, w, null, { padding: 1, variant, activation: 'relu' });
            return { counts: gpu.stats().dispatches, y: await read(y) };
          };
          try {
            const onCpu = await run(true);
            const onGpu = await run(false);
            expect(onCpu.counts, variant).toEqual({ [forwardKernel(variant, 3)]: 1 });
            expect(onGpu.counts, variant).toEqual({ [forwardKernel(variant, 3)]: 1, 'conv2d.forward_sum_slices': 1 });
            expectClose(onGpu.y, onCpu.y, KERNEL, `${variant}: split by default vs unsplit`);
          } finally {
            report.isCpu = isCpu;
          }
        }
      }),
    );
  });

  it('takes the gradient path when an input needs one (conv, then batchnorm carrying the add and activation): the unfused ops\' values and gradients', async () => {
    const gpu = await testGpu();
    const s = SHAPES[1];
    const d = data(s, 400);
    await scope(async () => {
      const run = async (fusedOp: boolean) => {
        const x = parameter(gpu.tensor(d.x, [s.n, s.cin, s.h, s.w]));
        const w = parameter(gpu.tensor(d.w, [s.cout, s.cin, s.k, s.k]));
        const gamma = parameter(gpu.tensor(d.gamma, [s.cout]));
        const beta = parameter(gpu.tensor(d.beta, [s.cout]));
        const mean = gpu.tensor(d.mean, [s.cout]);
        const variance = gpu.tensor(d.variance, [s.cout]);
        const res = parameter(gpu.tensor(d.res, yShapeOf(s)));
        const o = { stride: s.stride, padding: s.pad };
        let y: Tensor;
        if (fusedOp) {
          y = ops.conv2dBnAct(x, w, null, { ...o, activation: 'leakyRelu', slope: 0.1, bn: { gamma, beta, runningMean: mean, runningVar: variance, eps: 1e-5 }, residual: res });
          expect(y.node?.op).toBe('batchNorm2d');
          expect(y.node?.inputs[0].node?.op).toBe('conv2d');
        } else {
          y = ops.leakyRelu(ops.add(ops.batchNorm2d(ops.conv2d(x, w, null, o), gamma, beta, mean, variance, { training: false, eps: 1e-5 }), res), 0.1);
        }
        backward(ops.sum(y));
        return Promise.all([y, x.grad!, w.grad!, gamma.grad!, beta.grad!, res.grad!].map(read));
      };
      const [fused, unfused] = [await run(true), await run(false)];
      for (const [i, name] of ['y', 'dx', 'dw', 'dgamma', 'dbeta', 'dresidual'].entries()) expect(Array.from(fused[i]), name).toEqual(Array.from(unfused[i]));
    });
  });

  it('rejects batchnorm parameters and residuals of the wrong shape', async () => {
    const gpu = await testGpu();
    noGrad(() =>
      scope(() => {
        const x = gpu.zeros([2, 3, 8, 8]);
        const w = gpu.zeros([4, 3, 3, 3]);
        const bn = (gammaSize: number) => ({ gamma: gpu.zeros([gammaSize]), beta: gpu.zeros([4]), runningMean: gpu.zeros([4]), runningVar: gpu.zeros([4]), eps: 1e-5 });
        expect(() => ops.conv2dBnAct(x, w, null, { padding: 1, bn: bn(5) })).toThrow(/conv2d \(folded batchnorm\): gamma expected \[4\], got \[5\]/);
        expect(() => ops.conv2dBnAct(x, w, null, { padding: 1, bn: bn(4), residual: gpu.zeros([2, 4, 6, 6]) })).toThrow(/conv2d \(fused residual\): residual expected \[2, 4, 8, 8\], got \[2, 4, 6, 6\]/);
      }),
    );
  });
});
