// matmul: a square GEMM, and fully-connected layers (x W^T + b, torch's [out, in] weights) with the
// shapes of ResNet's and VGG's heads. Graft: ops.matmul / ops.linear (bias fused); tfjs: tf.matMul /
// tf.fused.matMul with the bias, on the weight transposed to [in, out] outside timing, as
// tfjs-layers' Dense keeps it. (tfjs-backend-wasm 4.22's fused matMul with transposeB and a bias
// returns wrong values, which this bench caught: the [in, out] layout avoids it.)
import { ops } from '../../src/index.ts';
import { randn } from '../data.ts';
import { type Workload, graftInstance, lazy, tfInstance } from '../workload.ts';

export interface FcShape {
  from: string;
  batch: number;
  inF: number;
  outF: number;
}

export function matmulWorkloads(square: number, fcs: FcShape[]): Workload[] {
  const out: Workload[] = [];
  const n = square;
  const sq = lazy(() => ({ a: randn(n * n, 21), b: randn(n * n, 22, 1 / Math.sqrt(n)) }));
  out.push({
    id: `matmul.square/${n}`,
    family: 'matmul',
    title: `matmul ${n}x${n} · ${n}x${n}`,
    flops: 2 * n * n * n,
    tolerance: 1e-3,
    outputs: 'C',
    release: sq.release,
    graft: (gpu) => {
      const a = gpu.tensor(sq.get().a, [n, n]);
      const b = gpu.tensor(sq.get().b, [n, n]);
      return graftInstance([a, b], () => [ops.matmul(a, b)]);
    },
    tfjs: (tf) => {
      const a = tf.tensor2d(sq.get().a, [n, n]);
      const b = tf.tensor2d(sq.get().b, [n, n]);
      return tfInstance(tf, [a, b], () => [tf.matMul(a, b)]);
    },
  });

  for (const s of fcs) {
    const data = lazy(() => ({ x: randn(s.batch * s.inF, 23), w: randn(s.outF * s.inF, 24, 1 / Math.sqrt(s.inF)), b: randn(s.outF, 25, 0.1) }));
    out.push({
      id: `matmul.fc/${s.batch}x${s.inF}-${s.outF}`,
      family: 'matmul',
      title: `linear ${s.batch}x${s.inF} → ${s.outF} +bias (${s.from})`,
      flops: 2 * s.batch * s.inF * s.outF,
      tolerance: 1e-3,
      outputs: 'y',
      release: data.release,
      graft: (gpu) => {
        const x = gpu.tensor(data.get().x, [s.batch, s.inF]);
        const w = gpu.tensor(data.get().w, [s.outF, s.inF]);
        const b = gpu.tensor(data.get().b, [s.outF]);
        return graftInstance([x, w, b], () => [ops.linear(x, w, b)]);
      },
      tfjs: (tf) => {
        const x = tf.tensor2d(data.get().x, [s.batch, s.inF]);
        const w = tf.tidy(() => tf.transpose(tf.tensor2d(data.get().w, [s.outF, s.inF])));
        const b = tf.tensor1d(data.get().b);
        return tfInstance(tf, [x, w, b], () => [tf.fused.matMul({ a: x, b: w, bias: b })]);
      },
    });
  }
  return out;
}
