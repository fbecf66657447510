// Fused inference in the models: eval forwards under noGrad run one conv dispatch per conv (its
// batchnorm, activation and residual add folded in), with the same outputs as the unfused ops; and
// whenever a gradient is needed (training, fine-tuning with frozen batchnorm) the conv runs on its
// own and batchnorm carries the activation and residual add (forward and backward).
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/graph/autograd.ts';
import { type Module } from '../../src/graph/module.ts';
import * as ops from '../../src/graph/ops.ts';
import { type Tensor, noGrad, scope } from '../../src/graph/tensor.ts';
import { BasicBlock, DarknetTiny, ResNet, VGG } from '../../src/models/index.ts';
import { BatchNorm2d, Conv2d, Linear, MaxPool2d, withoutFusion } from '../../src/models/layers.ts';
import { expectClose, randArray, read, testGpu } from '../helpers.ts';
import type { Gpu } from '../../src/graph/gpu.ts';

// Whole narrow networks, fused against unfused: both f32 with the same conv accumulation; the
// epilogues round differently and the differences pass through up to 20 layers.
const NET = { atol: 1e-4, rtol: 1e-4 };

/** Give every batchnorm non-trivial parameters and running statistics (seeded). */
function randomiseBatchNorms(gpu: Gpu, model: Module, seed: number): void {
  let k = seed;
  for (const [, m] of model.namedModules()) {
    if (!(m instanceof BatchNorm2d)) continue;
    const c = m.numFeatures;
    const set = (t: Tensor, lo: number, hi: number) => gpu.rt.write(t.buffer, Float32Array.from(randArray(c, k++, lo, hi)));
    const buffers = new Map(m.namedBuffers());
    set(m.weight, 0.5, 1.5);
    set(m.bias, -0.5, 0.5);
    set(buffers.get('running_mean')!, -0.2, 0.2);
    set(buffers.get('running_var')!, 0.5, 2);
  }
}

const count = (model: Module, type: abstract new (...args: never[]) => Module) => model.namedModules().filter(([, m]) => m instanceof type).length;

/** Dispatches by kernel (buffer copies apart) of one forward. */
function dispatchesOf(gpu: Gpu, run: () => Tensor): { total: number; byKernel: Record<string, number>; y: Tensor } {
  gpu.resetCounters();
  const y = run();
  const { copy: _copy, ...byKernel } = gpu.stats().dispatches;
  return { total: Object.values(byKernel).reduce((a, v) => a + v, 0), byKernel, y };
}

const kernelsLike = (d: Record<string, number>, prefix: string) => Object.keys(d).filter((k) => k.startsWith(prefix)).reduce((a, k) => a + d[k], 0);

describe('fused inference in the models', () => {
  it('resnet18 eval: one dispatch per conv + pools + fc, the same logits as the unfused ops', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const net = new ResNet(18, { gpu, width: 8, classes: 10, seed: 11 }).eval();
      randomiseBatchNorms(gpu, net, 500);
      const x = gpu.tensor(randArray(2 * 3 * 40 * 40, 501), [2, 3, 40, 40]);
      // torchvision's resnet18: stem conv, 8 BasicBlocks of 2 convs, 3 downsample convs = 20.
      const convs = count(net, Conv2d);
      expect(convs).toBe(20);
      const bns = count(net, BatchNorm2d);
      const fused = dispatchesOf(gpu, () => noGrad(() => net.forward(x)));
      // convs + max pool + average pool + fc (one GEMM with the bias).
      expect(fused.total, JSON.stringify(fused.byKernel)).toBe(convs + 2 + 1);
      expect(kernelsLike(fused.byKernel, 'conv2d.')).toBe(convs);
      expect(kernelsLike(fused.byKernel, 'batchnorm.') + kernelsLike(fused.byKernel, 'elementwise.')).toBe(0);

      // With gradients enabled (the parameters are trainable) the convs run on their own: each
      // batchnorm is two kernels (statistics, normalise) and carries the ReLUs and residual adds.
      const unfused = dispatchesOf(gpu, () => net.forward(x));
      expect(kernelsLike(unfused.byKernel, 'conv2d.')).toBe(convs);
      expect(kernelsLike(unfused.byKernel, 'batchnorm.')).toBe(2 * bns);
      expect(kernelsLike(unfused.byKernel, 'elementwise.')).toBe(0);
      const separate = dispatchesOf(gpu, () => withoutFusion(() => net.forward(x)));
      expect(separate.byKernel['elementwise.leaky_relu']).toBe(1 + 2 * 8);
      expect(separate.byKernel['elementwise.add']).toBe(8);
      expectClose(await read(unfused.y), await read(separate.y), { atol: 0, rtol: 0 }, 'resnet18 gradient path vs separate ops');
      expectClose(await read(fused.y), await read(unfused.y), NET, 'resnet18 fused vs unfused');
    });
  });

  it('resnet50 (Bottleneck) and darknet-tiny eval: fused and unfused agree; darknet is one dispatch per ConvBnLeaky', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const r50 = new ResNet(50, { gpu, width: 8, classes: 10, seed: 12 }).eval();
      randomiseBatchNorms(gpu, r50, 600);
      const x = gpu.tensor(randArray(1 * 3 * 40 * 44, 601), [1, 3, 40, 44]);
      const f50 = dispatchesOf(gpu, () => noGrad(() => r50.forward(x)));
      expect(f50.total).toBe(count(r50, Conv2d) + 2 + 1);
      expectClose(await read(f50.y), await read(r50.forward(x)), NET, 'resnet50 fused vs unfused');

      const dk = new DarknetTiny({ gpu, classes: 10, seed: 13 }).eval();
      randomiseBatchNorms(gpu, dk, 700);
      const xd = gpu.tensor(randArray(2 * 3 * 33 * 33, 701), [2, 3, 33, 33]);
      const fd = dispatchesOf(gpu, () => noGrad(() => dk.forward(xd)));
      // 15 ConvBnLeaky, 4 max pools, the global average pool and the classifier.
      expect(fd.total, JSON.stringify(fd.byKernel)).toBe(count(dk, Conv2d) + count(dk, MaxPool2d) + 1 + count(dk, Linear));
      expectClose(await read(fd.y), await read(dk.forward(xd)), NET, 'darknet fused vs unfused');
    });
  });

  it('vgg11_bn eval: conv + batchnorm + ReLU is one dispatch; same logits as unfused', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const net = new VGG(11, { gpu, width: 8, hidden: 16, classes: 5, seed: 14, batchNorm: true }).eval();
      randomiseBatchNorms(gpu, net, 800);
      const x = gpu.tensor(randArray(2 * 3 * 32 * 32, 801), [2, 3, 32, 32]);
      const f = dispatchesOf(gpu, () => noGrad(() => net.forward(x)));
      expect(kernelsLike(f.byKernel, 'conv2d.')).toBe(count(net, Conv2d));
      expect(kernelsLike(f.byKernel, 'batchnorm.') + (f.byKernel['elementwise.leaky_relu'] ?? 0)).toBe(0);
      expectClose(await read(f.y), await read(net.forward(x)), NET, 'vgg11_bn fused vs unfused');
    });
  });

  it('resnet18 training step: batchnorm carries the activations, residual adds and their backward; same loss and gradients as the unfused ops', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const net = new ResNet(18, { gpu, width: 8, classes: 10, seed: 12 }).train();
      const x = gpu.tensor(randArray(2 * 3 * 40 * 40, 601), [2, 3, 40, 40]);
      const labels = ops.labels(gpu, [3, 7], 10);
      const params = net.trainableParameters();
      const step = async (fused: boolean) => {
        // The same running statistics each time (a training forward updates them).
        randomiseBatchNorms(gpu, net, 600);
        for (const p of params) p.grad = null;
        const forward = dispatchesOf(gpu, () => ops.softmaxCrossEntropy(fused ? net.forward(x) : withoutFusion(() => net.forward(x)), labels));
        const back = dispatchesOf(gpu, () => (backward(forward.y), forward.y));
        return { forward, back, values: await Promise.all([forward.y, ...params.map((p) => p.grad!)].map(read)) };
      };
      const [f, u] = [await step(true), await step(false)];
      // 8 BasicBlocks: ReLU(bn2 + shortcut) rides in bn2's normalising pass (no add, no ReLU), and its
      // backward in bn2's backward kernels (the reduction writes the shortcut's gradient); the stem's
      // and each block's first ReLU ride in bn1's (forward and backward).
      const relusWithoutResidual = 1 + 8;
      expect(u.forward.byKernel['elementwise.add']).toBe(8);
      expect(u.forward.byKernel['elementwise.leaky_relu']).toBe(relusWithoutResidual + 8);
      expect(u.back.byKernel['elementwise.leaky_relu_backward']).toBe(relusWithoutResidual + 8);
      expect(f.forward.total, JSON.stringify(f.forward.byKernel)).toBe(u.forward.total - 8 - (relusWithoutResidual + 8));
      expect(f.back.total, JSON.stringify(f.back.byKernel)).toBe(u.back.total - (relusWithoutResidual + 8));
      for (const k of ['elementwise.add', 'elementwise.leaky_relu', 'elementwise.leaky_relu_backward']) expect(f.forward.byKernel[k] ?? f.back.byKernel[k], k).toBeUndefined();
      expect(f.values.length).toBe(1 + 62);
      f.values.forEach((v, i) => expect(Array.from(v), `${i ? `gradient of ${net.namedParameters()[i - 1][0]}` : 'loss'}`).toEqual(Array.from(u.values[i])));
    });
  });

  it('training is unchanged: a block in train mode, and with frozen batchnorm, gives the unfused ops\' outputs and gradients exactly', async () => {
    const gpu = await testGpu();
    await scope(async () => {
      const ctx = { gpu, nextSeed: (() => { let s = 40; return () => s++; })() };
      for (const frozenBn of [false, true]) {
        const run = async (explicit: boolean) => {
          // The same seeds each time: identical parameters, running statistics reset.
          let s = 40;
          ctx.nextSeed = () => s++;
          const block = new BasicBlock(ctx, 4, 8, 2).train();
          randomiseBatchNorms(gpu, block, 900);
          if (frozenBn) for (const [, m] of block.namedModules()) if (m instanceof BatchNorm2d) m.freeze();
          const x = gpu.tensor(randArray(2 * 4 * 9 * 9, 901), [2, 4, 9, 9]);
          let y: Tensor;
          if (explicit) {
            const out = block.bn2.forward(block.conv2.forward(ops.relu(block.bn1.forward(block.conv1.forward(x)))));
            y = ops.relu(ops.add(out, block.downsample!.forward(x)));
          } else {
            y = block.forward(x);
          }
          backward(ops.sum(y));
          const grads = block.trainableParameters().map((p) => p.grad!);
          expect(grads.length).toBe(frozenBn ? 3 : 9);
          return Promise.all([y, ...grads].map(read));
        };
        const [viaBlock, viaOps] = [await run(false), await run(true)];
        viaBlock.forEach((v, i) => expect(Array.from(v), `${frozenBn ? 'frozen' : 'training'} batchnorm, output/gradient ${i}`).toEqual(Array.from(viaOps[i])));
      }
    });
  });
});
