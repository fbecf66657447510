// The benchmarked networks as torchvision defines them: every state-dict key with its shape, and
// seeded random weights for them. The bench builds its TensorFlow.js twins from this list, and
// loads the same arrays into Graft's models by name (strictly: a key Graft names differently fails).
import { randn, uniform } from '../data.ts';

export type Arch = 'resnet18' | 'resnet50' | 'vgg16';

export interface HostWeight {
  shape: number[];
  dtype: 'f32' | 'i32';
  data: Float32Array | Int32Array;
}

/** torchvision's ResNet stages: blocks per stage, and whether blocks are bottlenecks (x4 expansion). */
export const RESNET: Record<'resnet18' | 'resnet50', { blocks: number[]; bottleneck: boolean }> = {
  resnet18: { blocks: [2, 2, 2, 2], bottleneck: false },
  resnet50: { blocks: [3, 4, 6, 3], bottleneck: true },
};

/** torchvision's VGG16 `features` configuration: channels of each 3x3 conv, 'M' a 2x2 max pool. */
export const VGG16_CFG: (number | 'M')[] = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'];

export const CLASSES = 1000;

/** Every state-dict key of the network with its shape (BatchNorm: weight, bias, running stats, counter). */
export function stateDictShapes(arch: Arch): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const conv = (name: string, cout: number, cin: number, k: number, bias = false) => {
    m.set(`${name}.weight`, [cout, cin, k, k]);
    if (bias) m.set(`${name}.bias`, [cout]);
  };
  const bn = (name: string, c: number) => {
    for (const p of ['weight', 'bias', 'running_mean', 'running_var']) m.set(`${name}.${p}`, [c]);
    m.set(`${name}.num_batches_tracked`, []);
  };
  const linear = (name: string, out: number, inF: number) => {
    m.set(`${name}.weight`, [out, inF]);
    m.set(`${name}.bias`, [out]);
  };
  if (arch === 'vgg16') {
    let cin = 3;
    VGG16_CFG.forEach((v, i) => {
      if (v === 'M') return;
      conv(`features.${featureIndex(i)}`, v, cin, 3, true);
      cin = v;
    });
    linear('classifier.0', 4096, 512 * 7 * 7);
    linear('classifier.3', 4096, 4096);
    linear('classifier.6', CLASSES, 4096);
    return m;
  }
  const { blocks, bottleneck } = RESNET[arch];
  const expansion = bottleneck ? 4 : 1;
  conv('conv1', 64, 3, 7);
  bn('bn1', 64);
  let cin = 64;
  blocks.forEach((count, stage) => {
    const width = 64 << stage;
    for (let b = 0; b < count; b++) {
      const p = `layer${stage + 1}.${b}`;
      const stride = b === 0 && stage > 0 ? 2 : 1;
      if (bottleneck) {
        conv(`${p}.conv1`, width, cin, 1);
        bn(`${p}.bn1`, width);
        conv(`${p}.conv2`, width, width, 3);
        bn(`${p}.bn2`, width);
        conv(`${p}.conv3`, width * expansion, width, 1);
        bn(`${p}.bn3`, width * expansion);
      } else {
        conv(`${p}.conv1`, width, cin, 3);
        bn(`${p}.bn1`, width);
        conv(`${p}.conv2`, width, width, 3);
        bn(`${p}.bn2`, width);
      }
      if (stride !== 1 || cin !== width * expansion) {
        conv(`${p}.downsample.0`, width * expansion, cin, 1);
        bn(`${p}.downsample.1`, width * expansion);
      }
      cin = width * expansion;
    }
  });
  linear('fc', CLASSES, cin);
  return m;
}

/** Index in torchvision's `features` Sequential of cfg entry i (each conv is followed by a ReLU). */
export function featureIndex(cfgIndex: number): number {
  let idx = 0;
  for (let i = 0; i < cfgIndex; i++) idx += VGG16_CFG[i] === 'M' ? 1 : 2;
  return idx;
}

function seedOf(name: string, base: number): number {
  let h = base >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * Seeded weights that keep activations O(1) through a deep network, so the relative comparison of
 * outputs means something: He-normal convolutions, torch-default linears, and BatchNorm layers
 * whose affine parameters and running statistics are random but near identity.
 */
export function randomWeights(shapes: Map<string, number[]>, seed = 2024): Map<string, HostWeight> {
  const out = new Map<string, HostWeight>();
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const s = seedOf(name, seed);
    const prefix = name.slice(0, name.lastIndexOf('.'));
    const isBn = shapes.has(`${prefix}.running_mean`);
    const leaf = name.slice(name.lastIndexOf('.') + 1);
    let data: Float32Array | Int32Array;
    if (leaf === 'num_batches_tracked') data = new Int32Array(1);
    else if (isBn) {
      data = leaf === 'weight' ? uniform(n, s, 0.5, 1) : leaf === 'running_var' ? uniform(n, s, 0.5, 1.5) : randn(n, s, 0.1);
    } else if (shape.length === 4) data = randn(n, s, Math.sqrt(2 / (shape[1] * shape[2] * shape[3])));
    else if (shape.length === 2) data = uniform(n, s, -1 / Math.sqrt(shape[1]), 1 / Math.sqrt(shape[1]));
    else data = uniform(n, s, -0.05, 0.05);
    out.set(name, { shape: [...shape], dtype: leaf === 'num_batches_tracked' ? 'i32' : 'f32', data });
  }
  return out;
}
