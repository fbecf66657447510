// BatchNorm2d in training mode (batch statistics, running statistics updated as torch does):
// forward; forward + backward (dx, dgamma, dbeta); and Graft's backward pass on its own.
// tfjs has no fused training-mode batchnorm: it is tf.moments + tf.batchNorm (what tfjs-layers'
// BatchNormalization runs), and its gradient is autodiff through both.
import { backward, ops, zeroGrad } from '../../src/index.ts';
import { Tensor } from '../../src/graph/tensor.ts';
import * as bn from '../../src/kernels/batchnorm.ts';
import { nchwToNhwc, nhwcToNchw, numel, randn, uniform } from '../data.ts';
import { type Instance, type Tf, type TfTensor, type Workload, graftInstance, lazy, tfInstance } from '../workload.ts';
import type { Gpu } from '../../src/graph/gpu.ts';

const MOMENTUM = 0.1;
const EPS = 1e-5;

export function batchnormWorkloads(shapes: [number, number, number][]): Workload[] {
  const out: Workload[] = [];
  for (const [n, c, h] of shapes) {
    const shape = [n, c, h, h];
    const nhwc = [n, h, h, c];
    const m = n * h * h;
    const data = lazy(() => ({
      x: randn(numel(shape), 31, 2).map((v, i) => v + (Math.floor(i / (h * h)) % c) * 0.1),
      gamma: uniform(c, 32, 0.5, 1.5),
      beta: randn(c, 33, 0.1),
      dy: randn(numel(shape), 34),
    }));
    const label = `${n}x${c}x${h}x${h}`;
    const base = { family: 'batchnorm' as const, release: data.release };
    // Per element: mean, variance, normalise, scale (~8 flops forward); the backward ~2x that.
    const elems = numel(shape);

    const graftTensors = (gpu: Gpu) => {
      const d = data.get();
      return { x: gpu.tensor(d.x, shape), gamma: gpu.tensor(d.gamma, [c]), beta: gpu.tensor(d.beta, [c]), rm: gpu.zeros([c]), rv: gpu.full([c], 1), dy: gpu.tensor(d.dy, shape) };
    };
    const tfTensors = (tf: Tf) => {
      const d = data.get();
      return {
        x: tf.tensor4d(nchwToNhwc(d.x, shape), nhwc as [number, number, number, number]), gamma: tf.tensor1d(d.gamma), beta: tf.tensor1d(d.beta),
        rm: tf.variable(tf.zeros([c])), rv: tf.variable(tf.ones([c])), dy: tf.tensor4d(nchwToNhwc(d.dy, shape), nhwc as [number, number, number, number]),
      };
    };
    /** tfjs training-mode batchnorm over N, H, W with torch's running-statistics update. */
    const tfTrain = (tf: Tf, t: ReturnType<typeof tfTensors>, x: TfTensor, gamma: TfTensor, beta: TfTensor): TfTensor => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      t.rm.assign(tf.add(tf.mul(t.rm, 1 - MOMENTUM), tf.mul(mean, MOMENTUM)));
      t.rv.assign(tf.add(tf.mul(t.rv, 1 - MOMENTUM), tf.mul(variance, (MOMENTUM * m) / (m - 1))));
      return tf.batchNorm(x, mean, variance, beta as never, gamma as never, EPS);
    };
    const fwdBwdTf = (tf: Tf): Instance => {
      const t = tfTensors(tf);
      const grads = tf.grads((x: TfTensor, g: TfTensor, b: TfTensor) => tfTrain(tf, t, x, g, b));
      return tfInstance(tf, Object.values(t), () => grads([t.x, t.gamma, t.beta], t.dy), { common: ([dx, dg, db]) => [nhwcToNchw(dx, shape), dg, db] });
    };

    out.push({
      ...base,
      id: `batchnorm.fwd/${label}`,
      title: `batchnorm fwd (train) ${label}`,
      flops: 8 * elems,
      tolerance: 1e-3,
      outputs: 'y',
      graft: (gpu) => {
        const t = graftTensors(gpu);
        return graftInstance(Object.values(t), () => [ops.batchNorm2d(t.x, t.gamma, t.beta, t.rm, t.rv, { training: true, momentum: MOMENTUM, eps: EPS })]);
      },
      tfjs: (tf) => {
        const t = tfTensors(tf);
        return tfInstance(tf, Object.values(t), () => [tfTrain(tf, t, t.x, t.gamma, t.beta)], { common: ([y]) => [nhwcToNchw(y, shape)] });
      },
    });

    out.push({
      ...base,
      id: `batchnorm.fwdbwd/${label}`,
      title: `batchnorm fwd+bwd (train) ${label}`,
      flops: 24 * elems,
      tolerance: 1e-3,
      outputs: 'dx, dgamma, dbeta',
      graft: (gpu) => {
        const t = graftTensors(gpu);
        const leaves = [t.x, t.gamma, t.beta];
        for (const l of leaves) l.requiresGrad = true;
        return graftInstance(Object.values(t), () => {
          zeroGrad(leaves);
          const y = ops.batchNorm2d(t.x, t.gamma, t.beta, t.rm, t.rv, { training: true, momentum: MOMENTUM, eps: EPS });
          backward(y, t.dy);
          return leaves.map((l) => l.grad!);
        });
      },
      tfjs: (tf) => fwdBwdTf(tf),
    });

    out.push({
      ...base,
      id: `batchnorm.bwd/${label}`,
      title: `batchnorm bwd only (train) ${label}`,
      flops: 16 * elems,
      tolerance: 1e-3,
      outputs: 'dx, dgamma, dbeta',
      graft: (gpu) => {
        const t = graftTensors(gpu);
        // The forward's saved statistics ([4, C]: mean, invstd, scale, shift), made once outside timing.
        const fwd = bn.batchNorm2dForward(gpu.rt, t.x, t.gamma, t.beta, t.rm, t.rv, { training: true, momentum: MOMENTUM, eps: EPS });
        gpu.rt.release(fwd.y.buffer);
        const stats = new Tensor(gpu.rt, fwd.stats);
        return graftInstance([...Object.values(t), stats], () => {
          const r = bn.batchNorm2dBackward(gpu.rt, t.dy, t.x, stats, { training: true, dx: true, dgamma: true, dbeta: true });
          return [r.dx!, r.dgamma!, r.dbeta!].map((d) => new Tensor(gpu.rt, d));
        });
      },
      tfjs: (tf) => ({
        unavailable: 'tfjs has no backward-only batchnorm: its training gradient is autodiff through tf.moments + tf.batchNorm (timed in fwd+bwd)',
        reference: fwdBwdTf(tf),
      }),
    });
  }
  return out;
}
