// Weights larger than one storage binding (VGG16's classifier.0.weight is 411 MB, WebGPU's default
// limit 128 MiB): on a device whose maxStorageBufferBindingSize is forced down to 1 MiB, Linear's
// forward and backward, matmul in every variant and transpose, and the elementwise update of the
// weight run on byte ranges of the buffers, and match float64 CPU references.
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/graph/autograd.ts';
import { type Gpu, graft } from '../../src/graph/gpu.ts';
import * as ops from '../../src/graph/ops.ts';
import { Tensor, scope } from '../../src/graph/tensor.ts';
import * as mm from '../../src/kernels/matmul.ts';
import { Linear } from '../../src/models/layers.ts';
import { axpbyInplace } from '../../src/kernels/elementwise.ts';
import { expectClose, randArray, read } from '../helpers.ts';
import * as ref from '../reference/matmul.ts';

const LIMIT = 1 << 20;
const FWD = { atol: 1e-4, rtol: 1e-5 };
const BWD = { atol: 1e-3, rtol: 1e-4 };

let small: Promise<Gpu> | null = null;
/** One device with a 1 MiB storage-binding limit for this file. */
const smallGpu = () => (small ??= graft({ limits: { maxStorageBufferBindingSize: LIMIT } }));

const stored = (batch: number, rows: number, cols: number, trans: boolean): number[] => [...(batch > 1 ? [batch] : []), ...(trans ? [cols, rows] : [rows, cols])];

/** Column sums of g [rows, cols]. */
function columnSums(g: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c] += g[r * cols + c];
  return out;
}

describe('weights over the storage-binding limit (forced to 1 MiB)', () => {
  it('the device really has the small limit', async () => {
    const gpu = await smallGpu();
    expect(gpu.adapter.limits.maxStorageBufferBindingSize).toBe(LIMIT);
  });

  it('Linear(700, 600) (a 1.7 MB weight): forward, and backward to input, weight and bias', async () => {
    const gpu = await smallGpu();
    const [rows, inF, outF] = [3, 700, 600];
    const layer = new Linear(gpu, inF, outF, { seed: 5 });
    await scope(async () => {
      const w = await read(layer.weight);
      const b = await read(layer.bias!);
      const xv = randArray(rows * inF, 1);
      const x = gpu.tensor(xv, [rows, inF]);
      x.requiresGrad = true;
      const y = layer.forward(x);
      expectClose(await read(y), ref.matmul(xv, w, 1, 1, rows, inF, outF, { transB: true, bias: b }), FWD, 'forward');
      const gv = randArray(rows * outF, 2);
      backward(y, gpu.tensor(gv, [rows, outF]));
      expectClose(await read(x.grad!), ref.matmul(gv, w, 1, 1, rows, outF, inF), BWD, 'd input');
      expectClose(await read(layer.weight.grad!), ref.matmul(gv, xv, 1, 1, outF, rows, inF, { transA: true }), BWD, 'd weight');
      expectClose(await read(layer.bias!.grad!), columnSums(gv, rows, outF), BWD, 'd bias');

      // Accumulating a second gradient adds over ranges too (autograd's axpby), and so does an
      // in-place update of the weight (axpbyInplace, SGD's primitive): w - lr * dW.
      const dw = await read(layer.weight.grad!);
      backward(y, gpu.tensor(gv, [rows, outF]));
      expectClose(await read(layer.weight.grad!), dw.map((v) => 2 * v), BWD, 'd weight, accumulated');
      axpbyInplace(gpu.rt, layer.weight, 1, -0.25, layer.weight.grad!);
      expectClose(await read(layer.weight), w.map((v, i) => v - 0.5 * dw[i]), FWD, 'in-place update');
    });
    layer.dispose();
  });

  it('large activations too: x [2000, 140] and y [2000, 150] over the limit, fused ReLU', async () => {
    const gpu = await smallGpu();
    const [rows, inF, outF] = [2000, 140, 150];
    await scope(async () => {
      const xv = randArray(rows * inF, 3);
      const wv = randArray(outF * inF, 4, -0.05, 0.05);
      const bv = randArray(outF, 5);
      const x = gpu.tensor(xv, [rows, inF]);
      const w = gpu.tensor(wv, [outF, inF]);
      w.requiresGrad = true;
      const y = ops.linear(x, w, gpu.tensor(bv, [outF]), { activation: 'relu' });
      const expected = ref.matmul(xv, wv, 1, 1, rows, inF, outF, { transB: true, bias: bv, slope: 0 });
      expectClose(await read(y), expected, FWD, 'forward');
      const gv = randArray(rows * outF, 6);
      backward(y, gpu.tensor(gv, [rows, outF]));
      const gPre = gv.map((g, i) => (expected[i] > 0 ? g : 0));
      expectClose(await read(w.grad!), ref.matmul(gPre, xv, 1, 1, outF, rows, inF, { transA: true }), BWD, 'd weight');
    });
  });

  // [batchA, batchB, M, K, N]: in turn A, B and C over 1 MiB (262,144 floats) while the others fit,
  // and a batched A whose batches fit one by one but not together (cut per batch), B broadcast.
  const shapes = [
    [1, 1, 600, 500, 24],
    [1, 1, 24, 500, 600],
    [1, 1, 600, 16, 500],
    [3, 1, 200, 500, 24],
  ];
  for (const variant of mm.variants) {
    it(`matmul, ${variant}: transposes, operands cut into ranges, bias and ReLU`, async () => {
      const gpu = await smallGpu();
      await scope(async () => {
        let seed = 10;
        // Every transpose for the variants that run by default (blocked on CPUs, tiled on GPUs).
        const all = [[false, false], [false, true], [true, false], [true, true]];
        for (const [transA, transB] of variant === 'reference' ? [all[0], all[3]] : all) {
          for (const [batchA, batchB, m, k, n] of shapes) {
            const av = randArray(batchA * m * k, seed++);
            const bv = randArray(batchB * k * n, seed++);
            const biasV = randArray(n, seed++);
            const a = gpu.tensor(av, stored(batchA, m, k, transA));
            const b = gpu.tensor(bv, stored(batchB, k, n, transB));
            const c = new Tensor(gpu.rt, mm.matmul(gpu.rt, a, b, { transA, transB, variant, bias: gpu.tensor(biasV, [n]), activation: 'relu' }));
            const expected = ref.matmul(av, bv, batchA, batchB, m, k, n, { transA, transB, bias: biasV, slope: 0 });
            expectClose(await read(c), expected, FWD, `${variant} tA=${transA} tB=${transB} ${[batchA, batchB, m, k, n]}`);
          }
        }
      });
    });
  }

  it('matmul: sums of batch products (gradients of a broadcast operand) over the limit', async () => {
    const gpu = await smallGpu();
    await scope(async () => {
      const [batch, m, k, n] = [3, 600, 8, 500];
      const av = randArray(batch * m * k, 40);
      const bv = randArray(batch * k * n, 41);
      const c = new Tensor(gpu.rt, mm.matmul(gpu.rt, gpu.tensor(av, [batch, m, k]), gpu.tensor(bv, [batch, k, n]), { sumBatches: true }));
      expectClose(await read(c), ref.sumBatches(ref.matmul(av, bv, batch, batch, m, k, n), batch), BWD, 'sumBatches');
    });
  });

  it('says which operand cannot be cut, and which op does not split', async () => {
    const gpu = await smallGpu();
    await scope(() => {
      // One row of B (262,100 floats) is already over the limit.
      const k = 262_100;
      const a = gpu.zeros([1, k]);
      const b = gpu.zeros([8, k]);
      expect(() => mm.matmul(gpu.rt, a, b, { transB: true })).toThrow(/cannot be cut into ranges of at most maxStorageBufferBindingSize \(1048576 bytes\)/);
      // A broadcast add indexes its second operand by absolute position: not split, reported.
      const big = gpu.zeros([1, 300, 1000]);
      expect(() => ops.add(big, gpu.zeros([300]))).toThrow(/spans \d+ bytes, over this adapter's maxStorageBufferBindingSize \(1048576\)/);
    });
  });
});
