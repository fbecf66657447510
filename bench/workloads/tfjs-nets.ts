// TensorFlow.js twins of torchvision's ResNet-18/50 and VGG16, written with tfjs ops in NHWC from
// the same state dict (convolution weights transposed to HWIO and linear weights to [in, out] —
// tfjs-layers' layouts — once, when the net is built).
// BatchNorm follows Graft's rule: batch statistics (and the running-statistics update) when the
// net trains and the layer's weight is trainable, running statistics otherwise.
import { oihwToHwio } from '../data.ts';
import type { Tf, TfTensor } from '../workload.ts';
import { type Arch, type HostWeight, RESNET, VGG16_CFG, featureIndex } from './nets.ts';

type Tensor4D = ReturnType<Tf['tensor4d']>;
type Variable = ReturnType<Tf['variable']>;

const EPS = 1e-5;
const MOMENTUM = 0.1;

export interface TfNet {
  /** Logits [N, 1000] from x [N, H, W, 3] (pooled features [N, 25088] for a VGG without classifier). */
  forward(x: TfTensor, training: boolean): TfTensor;
  /** Parameters by torchvision name (conv weights in HWIO, linear weights [in, out]). */
  params: Map<string, Variable>;
  /** Running-statistics updates recorded by the last training forward: apply after the step. */
  applyRunningUpdates(): void;
  dispose(): void;
}

export function buildTfNet(tf: Tf, arch: Arch, weights: Map<string, HostWeight>, trainable: (name: string) => boolean): TfNet {
  const params = new Map<string, Variable>();
  for (const [name, w] of weights) {
    if (w.dtype !== 'f32') continue;
    const isStat = name.endsWith('running_mean') || name.endsWith('running_var');
    let value: TfTensor;
    if (w.shape.length === 4) value = tf.tensor(oihwToHwio(w.data as Float32Array, w.shape), [w.shape[2], w.shape[3], w.shape[1], w.shape[0]]);
    else if (w.shape.length === 2) value = tf.tidy(() => tf.transpose(tf.tensor(w.data as Float32Array, w.shape)));
    else value = tf.tensor(w.data as Float32Array, w.shape);
    params.set(name, tf.variable(value, !isStat && trainable(name)));
    value.dispose();
  }
  const p = (name: string): Variable => {
    const v = params.get(name);
    if (!v) throw new Error(`bench: the ${arch} twin has no weight '${name}'`);
    return v;
  };
  // Batch statistics of this forward, kept past the gradient tape for the running update.
  let pending: { name: string; mean: TfTensor; variance: TfTensor; count: number }[] = [];

  const conv = (x: TfTensor, name: string, stride: number, pad: number, activation: 'linear' | 'relu' = 'linear'): TfTensor => {
    const bias = params.get(`${name}.bias`);
    return tf.fused.conv2d({ x: x as Tensor4D, filter: p(`${name}.weight`) as Tensor4D, strides: stride, pad, dimRoundingMode: 'floor', bias, activation });
  };
  const bn = (x: TfTensor, name: string, training: boolean): TfTensor => {
    const [gamma, beta] = [p(`${name}.weight`), p(`${name}.bias`)];
    if (!(training && gamma.trainable)) return tf.batchNorm(x, p(`${name}.running_mean`), p(`${name}.running_var`), beta, gamma, EPS);
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    pending.push({ name, mean: tf.keep(mean), variance: tf.keep(variance), count: x.size / x.shape[3]! });
    return tf.batchNorm(x, mean, variance, beta, gamma, EPS);
  };
  const linear = (x: TfTensor, name: string): TfTensor => tf.fused.matMul({ a: x as never, b: p(`${name}.weight`) as never, bias: p(`${name}.bias`) });

  const resnet = (x: TfTensor, training: boolean): TfTensor => {
    const { blocks, bottleneck } = RESNET[arch as 'resnet18' | 'resnet50'];
    let y = tf.relu(bn(conv(x, 'conv1', 2, 3), 'bn1', training));
    y = tf.maxPool(y as Tensor4D, 3, 2, 1, 'floor');
    blocks.forEach((count, stage) => {
      for (let b = 0; b < count; b++) {
        const q = `layer${stage + 1}.${b}`;
        const stride = b === 0 && stage > 0 ? 2 : 1;
        let out: TfTensor;
        if (bottleneck) {
          out = tf.relu(bn(conv(y, `${q}.conv1`, 1, 0), `${q}.bn1`, training));
          out = tf.relu(bn(conv(out, `${q}.conv2`, stride, 1), `${q}.bn2`, training));
          out = bn(conv(out, `${q}.conv3`, 1, 0), `${q}.bn3`, training);
        } else {
          out = tf.relu(bn(conv(y, `${q}.conv1`, stride, 1), `${q}.bn1`, training));
          out = bn(conv(out, `${q}.conv2`, 1, 1), `${q}.bn2`, training);
        }
        const identity = params.has(`${q}.downsample.0.weight`) ? bn(conv(y, `${q}.downsample.0`, stride, 0), `${q}.downsample.1`, training) : y;
        y = tf.relu(tf.add(out, identity));
      }
    });
    return linear(tf.mean(y, [1, 2]), 'fc');
  };

  const vgg = (x: TfTensor): TfTensor => {
    let y = x;
    VGG16_CFG.forEach((v, i) => {
      if (v === 'M') y = tf.maxPool(y as Tensor4D, 2, 2, 0, 'floor');
      else y = conv(y, `features.${featureIndex(i)}`, 1, 1, 'relu');
    });
    // torch flattens [N, C, 7, 7] channel-major: go to NCHW before flattening.
    const pooled = tf.transpose(adaptiveAvgPool(tf, y, 7), [0, 3, 1, 2]);
    y = tf.reshape(pooled, [x.shape[0], -1]);
    if (!params.has('classifier.0.weight')) return y; // built without the classifier
    y = tf.relu(linear(y, 'classifier.0'));
    y = tf.relu(linear(y, 'classifier.3'));
    return linear(y, 'classifier.6');
  };

  return {
    params,
    forward: (x, training) => {
      pending = [];
      return arch === 'vgg16' ? vgg(x) : resnet(x, training);
    },
    applyRunningUpdates: () => {
      for (const u of pending) {
        const [rm, rv] = [p(`${u.name}.running_mean`), p(`${u.name}.running_var`)];
        tf.tidy(() => {
          rm.assign(tf.add(tf.mul(rm, 1 - MOMENTUM), tf.mul(u.mean, MOMENTUM)));
          rv.assign(tf.add(tf.mul(rv, 1 - MOMENTUM), tf.mul(u.variance, (MOMENTUM * u.count) / (u.count - 1))));
        });
        tf.dispose([u.mean, u.variance]);
      }
      pending = [];
    },
    dispose: () => {
      for (const u of pending) tf.dispose([u.mean, u.variance]);
      for (const v of params.values()) v.dispose();
    },
  };
}

/** torch's AdaptiveAvgPool2d on NHWC: bin i covers rows floor(i*H/out) .. ceil((i+1)*H/out) - 1. */
export function adaptiveAvgPool(tf: Tf, x: TfTensor, out: number): TfTensor {
  const [, h, w] = x.shape as number[];
  if (h === out && w === out) return x;
  if (h % out === 0 && w % out === 0) return tf.avgPool(x as Tensor4D, [h / out, w / out], [h / out, w / out], 0);
  const rows: TfTensor[] = [];
  for (let i = 0; i < out; i++) {
    const [h0, h1] = [Math.floor((i * h) / out), Math.ceil(((i + 1) * h) / out)];
    const cols: TfTensor[] = [];
    for (let j = 0; j < out; j++) {
      const [w0, w1] = [Math.floor((j * w) / out), Math.ceil(((j + 1) * w) / out)];
      cols.push(tf.mean(tf.slice(x, [0, h0, w0, 0], [-1, h1 - h0, w1 - w0, -1]), [1, 2], true));
    }
    rows.push(tf.concat(cols, 2));
  }
  return tf.concat(rows, 1);
}
