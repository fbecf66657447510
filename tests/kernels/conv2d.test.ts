import { describe, expect, it } from 'vitest';
import { backward } from '../../src/graph/autograd.ts';
import { parameter } from '../../src/graph/module.ts';
import * as ops from '../../src/graph/ops.ts';
import { Tensor, scope } from '../../src/graph/tensor.ts';
import * as conv from '../../src/kernels/conv2d.ts';
import { type GpuData } from '../../src/kernels/runtime/index.ts';
import { expectClose, finiteDiff, randArray, read, testGpu, weightedSum } from '../helpers.ts';
import * as ref from '../reference/conv2d.ts';

// Kernels against the float64 reference: f32 sums of up to ~600 products of values in [-1, 1].
const KERNEL = { atol: 1e-4, rtol: 1e-4 };
// Backward rules against central differences (eps 1e-3) of the float64 reference.
const FD = { atol: 2e-3, rtol: 2e-3 };

const VARIANTS = ['subgroup', 'tiled', 'reference'] as const;

// Awkward shapes: odd sizes, Cout not a tile multiple, stride 2, 1x1, 7x7, 1 and 3 channels, batch;
// Cin below and above conv2dLimits.flatBelowCin (the 'subgroup' forward loops); 3x3 stride 1 with
// Cin >= 16 (forward_3x3, backward_input_3x3) at padding 0, 1 and 2 and more than one 32-row block.
const SHAPES: ref.ConvShape[] = [
  { n: 2, cin: 3, h: 9, w: 9, cout: 5, k: 3, stride: 1, pad: 1 },
  { n: 2, cin: 4, h: 11, w: 13, cout: 17, k: 3, stride: 2, pad: 1 },
  { n: 2, cin: 20, h: 7, w: 6, cout: 33, k: 1, stride: 1, pad: 0 },
  { n: 3, cin: 6, h: 7, w: 9, cout: 9, k: 1, stride: 2, pad: 0 },
  { n: 1, cin: 3, h: 15, w: 15, cout: 8, k: 7, stride: 2, pad: 3 },
  { n: 2, cin: 1, h: 10, w: 10, cout: 17, k: 3, stride: 1, pad: 1 },
  { n: 1, cin: 35, h: 6, w: 5, cout: 19, k: 3, stride: 1, pad: 0 },
  { n: 2, cin: 18, h: 9, w: 8, cout: 21, k: 3, stride: 2, pad: 1 },
  { n: 2, cin: 37, h: 5, w: 7, cout: 40, k: 3, stride: 1, pad: 2 },
];

const label = (s: ref.ConvShape) => `N${s.n} ${s.cin}x${s.h}x${s.w} -> ${s.cout} k${s.k} s${s.stride} p${s.pad}`;
const xShape = (s: ref.ConvShape) => [s.n, s.cin, s.h, s.w];
const wShape = (s: ref.ConvShape) => [s.cout, s.cin, s.k, s.k];
const yShape = (s: ref.ConvShape) => [s.n, s.cout, ...ref.outSize(s)];
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

// 'subgroup' needs the adapter feature 'subgroups'. Where the adapter lacks it, the variant cannot
// run; each test that would have run it gets a skipped twin that says so, so the summary shows it.
const hasSubgroups = (await testGpu()).adapter.features.includes('subgroups');

function variantsOf(hasSubgroups: boolean) {
  return VARIANTS.filter((v) => v !== 'subgroup' || hasSubgroups);
}

/** it(), plus a visible skip of the 'subgroup' variant of the same test where the adapter has no subgroups. */
function itEveryVariant(title: string, fn: () => Promise<void>): void {
  it(title, fn);
  if (!hasSubgroups) it.skip(`${title} ['subgroup' variant] (skipped: this adapter lacks the 'subgroups' feature)`, () => {});
}

describe('conv2d kernels', () => {
  itEveryVariant('forward (bias, no bias, relu, leaky relu) matches the float64 reference in every variant', async () => {
    const gpu = await testGpu();
    const variants = variantsOf(gpu.adapter.features.includes('subgroups'));
    await scope(async () => {
      for (const [si, s] of SHAPES.entries()) {
        const xv = randArray(size(xShape(s)), 10 + si);
        const wv = randArray(size(wShape(s)), 20 + si);
        const bv = randArray(s.cout, 30 + si);
        const x = gpu.tensor(xv, xShape(s));
        const w = gpu.tensor(wv, wShape(s));
        const b = gpu.tensor(bv, [s.cout]);
        const o = { stride: s.stride, padding: s.pad };
        for (const variant of variants) {
          const at = `${variant} ${label(s)}`;
          expectClose(await read(ops.conv2d(x, w, b, { ...o, variant })), ref.conv2d(s, xv, wv, bv), KERNEL, `forward ${at}`);
          if (si < 2) {
            expectClose(await read(ops.conv2d(x, w, null, { ...o, variant })), ref.conv2d(s, xv, wv, null), KERNEL, `no bias ${at}`);
            expectClose(await read(ops.conv2d(x, w, b, { ...o, variant, activation: 'relu' })), ref.conv2d(s, xv, wv, bv, 0), KERNEL, `relu ${at}`);
            expectClose(await read(ops.conv2d(x, w, b, { ...o, variant, activation: 'leakyRelu', slope: 0.2 })), ref.conv2d(s, xv, wv, bv, 0.2), KERNEL, `leaky ${at}`);
          }
        }
      }
    });
  });

  itEveryVariant('input, weight and bias gradients match the float64 reference in every variant', async () => {
    const gpu = await testGpu();
    const rt = gpu.rt;
    const variants = variantsOf(gpu.adapter.features.includes('subgroups'));
    await scope(async () => {
      for (const [si, s] of SHAPES.entries()) {
        const xv = randArray(size(xShape(s)), 40 + si);
        const wv = randArray(size(wShape(s)), 50 + si);
        const gv = randArray(size(yShape(s)), 60 + si);
        const x = gpu.tensor(xv, xShape(s));
        const w = gpu.tensor(wv, wShape(s));
        const g = gpu.tensor(gv, yShape(s));
        const o = { stride: s.stride, padding: s.pad };
        const wrap = (d: GpuData) => new Tensor(rt, d);
        for (const variant of variants) {
          const at = `${variant} ${label(s)}`;
          expectClose(await read(wrap(conv.conv2dBackwardInput(rt, g, w, x.shape, { ...o, variant }))), ref.conv2dBackwardInput(s, gv, wv), KERNEL, `dx ${at}`);
          expectClose(await read(wrap(conv.conv2dBackwardFilter(rt, g, x, w.shape, { ...o, variant }))), ref.conv2dBackwardFilter(s, gv, xv), KERNEL, `dw ${at}`);
        }
        expectClose(await read(wrap(conv.conv2dBackwardBias(rt, g))), ref.conv2dBackwardBias(s, gv), KERNEL, `db ${label(s)}`);
      }
    });
  });

  itEveryVariant('split-K slices and work split over several dispatches give the same results', async () => {
    const gpu = await testGpu();
    const rt = gpu.rt;
    const variants = variantsOf(gpu.adapter.features.includes('subgroups')).filter((v) => v !== 'reference');
    const s: ref.ConvShape = { n: 2, cin: 5, h: 17, w: 16, cout: 20, k: 3, stride: 1, pad: 1 };
    const xv = randArray(size(xShape(s)), 70);
    const wv = randArray(size(wShape(s)), 71);
    const gv = randArray(size(yShape(s)), 72);
    const saved = conv.conv2dLimits.maxFmaPerDispatch;
    try {
      await scope(async () => {
        const x = gpu.tensor(xv, xShape(s));
        const w = gpu.tensor(wv, wShape(s));
        const g = gpu.tensor(gv, yShape(s));
        const o = { stride: s.stride, padding: s.pad };
        for (const limit of [saved, 60_000]) {
          conv.conv2dLimits.maxFmaPerDispatch = limit;
          for (const variant of variants) {
            const at = `${variant}, limit ${limit}`;
            gpu.resetCounters();
            const y = ops.conv2d(x, w, null, { ...o, variant });
            const dx = new Tensor(rt, conv.conv2dBackwardInput(rt, g, w, x.shape, { ...o, variant }));
            const dw = new Tensor(rt, conv.conv2dBackwardFilter(rt, g, x, w.shape, { ...o, variant }));
            const counts = gpu.stats().dispatches;
            // N*Ho*Wo = 544 pixels: the weight gradient is split into slices and summed; with the
            // low limit, into several dispatches that accumulate.
            if (limit === saved) expect(counts['conv2d.sum_slices']).toBe(1);
            else {
              const prefix = variant === 'subgroup' ? 'conv2d.subgroup.' : 'conv2d.';
              const count = (kernel: string) => Object.keys(counts).filter((k) => k.startsWith(prefix + kernel)).reduce((a, k) => a + counts[k], 0);
              expect(count('forward')).toBeGreaterThan(1);
              expect(count('backward_input')).toBeGreaterThan(1);
              expect(count('backward_filter')).toBeGreaterThan(1);
            }
            expectClose(await read(y), ref.conv2d(s, xv, wv, null), KERNEL, `forward ${at}`);
            expectClose(await read(dx), ref.conv2dBackwardInput(s, gv, wv), KERNEL, `dx ${at}`);
            expectClose(await read(dw), ref.conv2dBackwardFilter(s, gv, xv), KERNEL, `dw ${at}`);
          }
        }
      });
    } finally {
      conv.conv2dLimits.maxFmaPerDispatch = saved;
    }
  });
});

describe('conv2d op and backward rule', () => {
  // Small shapes (a few hundred inputs) for central differences of the float64 reference.
  const FD_SHAPES: ref.ConvShape[] = [
    { n: 2, cin: 3, h: 5, w: 5, cout: 4, k: 3, stride: 1, pad: 1 },
    { n: 1, cin: 2, h: 7, w: 6, cout: 3, k: 3, stride: 2, pad: 1 },
    { n: 2, cin: 3, h: 4, w: 5, cout: 5, k: 1, stride: 2, pad: 0 },
  ];

  for (const [si, s] of FD_SHAPES.entries()) {
    itEveryVariant(`dx, dW, db against finite differences: ${label(s)}`, async () => {
      const gpu = await testGpu();
      const variants = variantsOf(gpu.adapter.features.includes('subgroups'));
      await scope(async () => {
        const xv = randArray(size(xShape(s)), 80 + si);
        const wv = randArray(size(wShape(s)), 90 + si);
        const bv = randArray(s.cout, 100 + si);
        const seed = randArray(size(yShape(s)), 110 + si);
        // Fused activation on the first shape: its gradient is taken from the output's sign.
        const slope = si === 0 ? 0.1 : null;
        const f = (xa: Float64Array, wa: Float64Array, ba: Float64Array) => weightedSum(ref.conv2d(s, xa, wa, ba, slope), seed);
        const expected = {
          dx: finiteDiff((v) => f(v, wv, bv), xv),
          dw: finiteDiff((v) => f(xv, v, bv), wv),
          db: finiteDiff((v) => f(xv, wv, v), bv),
        };
        for (const variant of variants) {
          const x = parameter(gpu.tensor(xv, xShape(s)));
          const w = parameter(gpu.tensor(wv, wShape(s)));
          const b = parameter(gpu.tensor(bv, [s.cout]));
          const y = ops.conv2d(x, w, b, { stride: s.stride, padding: s.pad, variant, ...(slope !== null ? { activation: 'leakyRelu', slope } : {}) });
          backward(y, gpu.tensor(seed, yShape(s)));
          expectClose(await read(x.grad!), expected.dx, FD, `dx ${variant}`);
          expectClose(await read(w.grad!), expected.dw, FD, `dW ${variant}`);
          expectClose(await read(b.grad!), expected.db, FD, `db ${variant}`);
          for (const p of [x, w, b]) {
            p.grad!.dispose();
            p.dispose();
          }
        }
      });
    });
  }

  it('computes only the gradients that are needed (frozen weight and bias, input without gradient)', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const s: ref.ConvShape = { n: 2, cin: 3, h: 6, w: 6, cout: 4, k: 3, stride: 1, pad: 1 };
      const x0 = gpu.tensor(randArray(size(xShape(s)), 120), xShape(s));
      const w1 = parameter(gpu.tensor(randArray(size(wShape(s)), 121), wShape(s)));
      const b1 = parameter(gpu.tensor(randArray(4, 122), [4]));
      const w2 = parameter(gpu.tensor(randArray(4 * 4 * 9, 123), [4, 4, 3, 3]), false);
      const b2 = parameter(gpu.tensor(randArray(4, 124), [4]), false);
      const kinds = (d: Record<string, number>, what: string) => Object.keys(d).filter((k) => k.startsWith('conv2d.') && k.includes(what)).reduce((a, k) => a + d[k], 0);

      // conv1 (trainable, input x0 needs no gradient) -> conv2 (frozen): conv2 needs only dx,
      // conv1 needs dW and db but no dx.
      const y = ops.conv2d(ops.conv2d(x0, w1, b1, { padding: 1 }), w2, b2, { padding: 1, activation: 'relu' });
      gpu.resetCounters();
      backward(ops.sum(y));
      const d = gpu.stats().dispatches;
      expect(kinds(d, 'backward_input')).toBe(1);
      expect(kinds(d, 'backward_filter')).toBe(1);
      expect(d['reduce.sum_to_channels'] ?? 0).toBeLessThanOrEqual(2); // sum(y) and conv1's db
      expect(w2.grad).toBe(null);
      expect(b2.grad).toBe(null);
      expect(w1.grad).toBeTruthy();

      // Everything frozen but the last conv's bias: only its db, no conv2d gradient kernels at all.
      w1.trainable = false;
      b1.trainable = false;
      b2.trainable = true;
      const z = ops.conv2d(ops.conv2d(x0, w1, b1, { padding: 1 }), w2, b2, { padding: 1 });
      gpu.resetCounters();
      backward(ops.sum(z));
      const e = gpu.stats().dispatches;
      expect(kinds(e, 'backward')).toBe(0);
      expect(b2.grad).toBeTruthy();
      for (const p of [w1, b1, w2, b2]) {
        p.grad?.dispose();
        p.dispose();
      }
    });
  });

  it('rejects bad shapes naming the op and the shapes', async () => {
    const gpu = await testGpu();
    scope(() => {
      const x = gpu.zeros([2, 3, 8, 8]);
      expect(() => ops.conv2d(x, gpu.zeros([4, 2, 3, 3]), null)).toThrow(/conv2d: weight \(for input \[2, 3, 8, 8\]\) expected \[Cout, 3, kH, kW\], got \[4, 2, 3, 3\]/);
      expect(() => ops.conv2d(gpu.zeros([3, 8, 8]), gpu.zeros([4, 3, 3, 3]), null)).toThrow(/conv2d: input x expected rank 4 \[N, Cin, H, W\], got \[3, 8, 8\]/);
      expect(() => ops.conv2d(x, gpu.zeros([4, 3, 3]), null)).toThrow(/conv2d: weight expected rank 4 \[Cout, Cin, kH, kW\], got \[4, 3, 3\]/);
      expect(() => ops.conv2d(x, gpu.zeros([4, 3, 3, 3]), gpu.zeros([5]))).toThrow(/conv2d: bias expected \[4\], got \[5\]/);
      expect(() => ops.conv2d(x, gpu.zeros([4, 3, 11, 11]), null)).toThrow(/conv2d: input \(for kernel 11x11, padding 0\) expected spatial size at least 11x11, got \[2, 3, 8, 8\]/);
      expect(() => conv.conv2dBackwardInput(gpu.rt, gpu.zeros([2, 4, 7, 7]), gpu.zeros([4, 3, 3, 3]), [2, 3, 8, 8])).toThrow(/conv2dBackwardInput: gradient dy expected \[2, 4, 6, 6\], got \[2, 4, 7, 7\]/);
    });
  });
});
