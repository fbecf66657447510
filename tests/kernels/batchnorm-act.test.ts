// ReLU / LeakyReLU fused into batchnorm's normalising pass (training and eval): the same values and
// gradients as batchnorm followed by the activation op, one kernel fewer, and the float64 reference.
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/graph/autograd.ts';
import { parameter } from '../../src/graph/module.ts';
import * as ops from '../../src/graph/ops.ts';
import { type Tensor, scope } from '../../src/graph/tensor.ts';
import type { BatchNormVariant } from '../../src/kernels/batchnorm.ts';
import { expectClose, randArray, read, testGpu } from '../helpers.ts';
import * as ref from '../reference/batchnorm.ts';
import * as ewRef from '../reference/elementwise.ts';

// The tolerance of batchnorm.test.ts's forward against the float64 reference.
const FWD = { atol: 2e-5, rtol: 2e-5 };
const VARIANTS: BatchNormVariant[] = ['reference', 'split'];
// H*W a multiple of 4 (the split variant's vec4 pass), and not (its scalar pass).
const SHAPES: [number, number, number, number][] = [
  [2, 5, 4, 4],
  [3, 3, 5, 7],
];
const ACTS = [
  { activation: 'relu' as const, slope: 0 },
  { activation: 'leakyRelu' as const, slope: 0.1 },
];

describe('batchnorm with a fused activation', () => {
  it('training and eval: exactly the unfused values and gradients, one kernel fewer, and the float64 reference', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      for (const [si, shape] of SHAPES.entries()) {
        const c = shape[1];
        const size = shape.reduce((a, b) => a * b);
        const xv = randArray(size, 10 + si);
        const gv = randArray(c, 20 + si, 0.5, 1.5);
        const bv = randArray(c, 30 + si);
        const seed = gpu.tensor(randArray(size, 40 + si), shape);
        for (const variant of VARIANTS) {
          for (const training of [true, false]) {
            for (const { activation, slope } of ACTS) {
              const at = `${variant} ${shape.join('x')} ${training ? 'training' : 'eval'} ${activation}`;
              const run = async (fused: boolean) => {
                const x = parameter(gpu.tensor(xv, shape));
                const gamma = parameter(gpu.tensor(gv, [c]));
                const beta = parameter(gpu.tensor(bv, [c]));
                const [rm, rv] = [gpu.tensor(randArray(c, 50, -0.5, 0.5), [c]), gpu.tensor(randArray(c, 51, 0.5, 2), [c])];
                gpu.resetCounters();
                const o = { training, variant, eps: 1e-5 };
                const y: Tensor = fused ? ops.batchNorm2d(x, gamma, beta, rm, rv, { ...o, activation, slope }) : ops.leakyRelu(ops.batchNorm2d(x, gamma, beta, rm, rv, o), slope);
                const { copy: _c, ...d } = gpu.stats().dispatches;
                const kernels = Object.values(d).reduce((a, v) => a + v, 0);
                backward(y, seed);
                const out = await Promise.all([y, x.grad!, gamma.grad!, beta.grad!, rm, rv].map(read));
                return { out, kernels };
              };
              const [f, u] = [await run(true), await run(false)];
              expect(f.kernels, at).toBe(u.kernels - 1);
              for (const [i, name] of ['y', 'dx', 'dgamma', 'dbeta', 'running mean', 'running var'].entries()) expect(Array.from(f.out[i]), `${name} ${at}`).toEqual(Array.from(u.out[i]));
              if (training) {
                const expected = ewRef.leakyRelu(ref.batchNormTrain(xv, shape, gv, bv, 1e-5), slope);
                expectClose(f.out[0], expected, FWD, `float64 ${at}`);
              }
            }
          }
        }
      }
    });
  });

  it('rejects a negative leakyRelu slope (the backward reads the output sign)', async () => {
    const gpu = await testGpu();
    scope(() => {
      const [x, g, b, m, v] = [gpu.zeros([2, 3, 4, 4]), gpu.full([3], 1), gpu.zeros([3]), gpu.zeros([3]), gpu.full([3], 1)];
      expect(() => ops.batchNorm2d(x, g, b, m, v, { training: true, activation: 'leakyRelu', slope: -0.1 })).toThrow(/batchNorm2d: a fused leakyRelu needs a slope >= 0/);
    });
  });
});
