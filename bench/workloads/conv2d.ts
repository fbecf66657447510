// conv2d forward, input gradient and weight gradient on ResNet and VGG layer shapes.
// Graft: ops.conv2d and the two backward kernels its autograd rule calls. tfjs: tf.conv2d,
// tf.conv2dTranspose (its Conv2DBackpropInput kernel) and the Conv2DBackpropFilter kernel that
// tf.conv2d's gradient calls. No bias, no activation (ResNet's convolutions have neither).
import { ops } from '../../src/index.ts';
import { Tensor } from '../../src/graph/tensor.ts';
import * as conv from '../../src/kernels/conv2d.ts';
import { hwioToOihw, nchwToNhwc, nhwcToNchw, numel, oihwToHwio, randn } from '../data.ts';
import { type TfTensor, type Workload, graftInstance, lazy, missingKernels, tfInstance } from '../workload.ts';

export interface ConvShape {
  /** Where the shape comes from. */
  from: string;
  n: number;
  cin: number;
  h: number;
  cout: number;
  k: number;
  stride: number;
}

/** Real layer shapes (square inputs): ResNet stages, bottleneck 1x1s, VGG's first block. */
export const CONV_SHAPES: Omit<ConvShape, 'n'>[] = [
  { from: 'resnet layer1', cin: 64, h: 56, cout: 64, k: 3, stride: 1 },
  { from: 'resnet layer2', cin: 128, h: 28, cout: 128, k: 3, stride: 1 },
  { from: 'resnet layer2, stride 2', cin: 128, h: 28, cout: 128, k: 3, stride: 2 },
  { from: 'resnet50 bottleneck reduce', cin: 256, h: 56, cout: 64, k: 1, stride: 1 },
  { from: 'resnet50 bottleneck expand', cin: 64, h: 56, cout: 256, k: 1, stride: 1 },
  { from: 'vgg16 block1', cin: 64, h: 224, cout: 64, k: 3, stride: 1 },
];

const geometry = (s: ConvShape) => {
  const pad = (s.k - 1) >> 1;
  const ho = Math.floor((s.h + 2 * pad - s.k) / s.stride) + 1;
  return { pad, ho, x: [s.n, s.cin, s.h, s.h], w: [s.cout, s.cin, s.k, s.k], y: [s.n, s.cout, ho, ho] };
};

export function conv2dWorkloads(shapes: ConvShape[]): Workload[] {
  const out: Workload[] = [];
  for (const s of shapes) {
    const g = geometry(s);
    const label = `${s.h}x${s.h}x${s.cin}→${s.cout} ${s.k}x${s.k}${s.stride > 1 ? ` s${s.stride}` : ''}${s.n > 1 ? ` N=${s.n}` : ''}`;
    const idShape = `${s.n}x${s.h}x${s.h}x${s.cin}-${s.cout}-k${s.k}s${s.stride}`;
    const flops = 2 * numel(g.y) * s.cin * s.k * s.k;
    // Weights with fan-in scaling keep every output O(1), so the relative check is meaningful.
    const data = lazy(() => ({
      x: randn(numel(g.x), 11), w: randn(numel(g.w), 12, Math.sqrt(2 / (s.cin * s.k * s.k))), dy: randn(numel(g.y), 13),
    }));
    const tfPad = { strides: s.stride, pad: g.pad, rounding: 'floor' as const };
    const common = { family: 'conv2d' as const, flops, tolerance: 1e-3, release: data.release };

    out.push({
      ...common,
      id: `conv2d.fwd/${idShape}`,
      title: `conv2d fwd ${label} (${s.from})`,
      outputs: 'y',
      graft: (gpu) => {
        const x = gpu.tensor(data.get().x, g.x);
        const w = gpu.tensor(data.get().w, g.w);
        return graftInstance([x, w], () => [ops.conv2d(x, w, null, { stride: s.stride, padding: g.pad })]);
      },
      tfjs: (tf) => {
        const x = tf.tensor4d(nchwToNhwc(data.get().x, g.x), [s.n, s.h, s.h, s.cin]);
        const w = tf.tensor4d(oihwToHwio(data.get().w, g.w), [s.k, s.k, s.cin, s.cout]);
        return tfInstance(tf, [x, w], () => [tf.conv2d(x, w, tfPad.strides, tfPad.pad, 'NHWC', 1, tfPad.rounding)], {
          common: ([y]) => [nhwcToNchw(y, g.y)],
        });
      },
    });

    out.push({
      ...common,
      id: `conv2d.dx/${idShape}`,
      title: `conv2d input grad ${label} (${s.from})`,
      outputs: 'dx',
      graft: (gpu) => {
        const dy = gpu.tensor(data.get().dy, g.y);
        const w = gpu.tensor(data.get().w, g.w);
        return graftInstance([dy, w], () => [new Tensor(gpu.rt, conv.conv2dBackwardInput(gpu.rt, dy, w, g.x, { stride: s.stride, padding: g.pad }))]);
      },
      tfjs: (tf, backend) => {
        const missing = missingKernels(tf, backend, ['Conv2DBackpropInput']);
        if (missing) return missing;
        const dy = tf.tensor4d(nchwToNhwc(data.get().dy, g.y), [s.n, g.ho, g.ho, s.cout]);
        const w = tf.tensor4d(oihwToHwio(data.get().w, g.w), [s.k, s.k, s.cin, s.cout]);
        return tfInstance(tf, [dy, w], () => [tf.conv2dTranspose(dy, w, [s.n, s.h, s.h, s.cin], tfPad.strides, tfPad.pad, tfPad.rounding)], {
          common: ([dx]) => [nhwcToNchw(dx, g.x)],
        });
      },
    });

    out.push({
      ...common,
      id: `conv2d.dw/${idShape}`,
      title: `conv2d weight grad ${label} (${s.from})`,
      outputs: 'dw',
      graft: (gpu) => {
        const dy = gpu.tensor(data.get().dy, g.y);
        const x = gpu.tensor(data.get().x, g.x);
        return graftInstance([dy, x], () => [new Tensor(gpu.rt, conv.conv2dBackwardFilter(gpu.rt, dy, x, g.w, { stride: s.stride, padding: g.pad }))]);
      },
      tfjs: (tf, backend) => {
        const missing = missingKernels(tf, backend, ['Conv2DBackpropFilter']);
        if (missing) return missing;
        const x = tf.tensor4d(nchwToNhwc(data.get().x, g.x), [s.n, s.h, s.h, s.cin]);
        const dy = tf.tensor4d(nchwToNhwc(data.get().dy, g.y), [s.n, g.ho, g.ho, s.cout]);
        const attrs = { strides: tfPad.strides, pad: tfPad.pad, dataFormat: 'NHWC', dimRoundingMode: tfPad.rounding, filterShape: [s.k, s.k, s.cin, s.cout] };
        // The kernel tf.conv2d's gradient runs for dw (tfjs exports no public op for it).
        const run = () => [tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) as TfTensor];
        return tfInstance(tf, [x, dy], run, { common: ([dw]) => [hwioToOihw(dw, g.w)] });
      },
    });
  }
  return out;
}
