// Keras application weights -> torchvision names and layouts.
//   conv kernel  Keras HWIO [kh, kw, in, out]  -> torch OIHW [out, in, kh, kw]
//   dense kernel Keras [in, out]               -> torch [out, in]
//   VGG fc1      Keras flattens the last feature map NHWC (row p*C + c, p = h*W + w), torch flattens
//                NCHW (column c*HW + p): fc1's rows are permuted accordingly.
//   BatchNorm    gamma, beta, moving_mean, moving_variance -> weight, bias, running_mean, running_var.
//                Keras 1 calls the variance `running_std` (it always held the variance).
// ResNet50 from Keras differs from torchvision's in two ways that folding fixes exactly:
//   - its convs have biases, torchvision's do not. Every conv feeds a BatchNorm, and
//     BN(conv + b) = BN'(conv) with running_mean' = running_mean - b (in train mode the batch mean
//     absorbs b, so the bias has no effect there either);
//   - Keras' BN epsilon is 1e-3 (keras-applications) or 1.001e-5 (tf.keras), torchvision's 1e-5:
//     running_var' = running_var + eps_keras - 1e-5 gives the same normalisation in eval mode.
// and in one way that no weight change can: Keras' ResNet50 is ResNet v1 (the stride-2 of the first
// block of stages 3-5 is on the 1x1 conv1), torchvision's is v1.5 (on the 3x3 conv2). The weights
// have the same shapes and load; the notes and metadata say so.
import type { HostTensor } from './state-dict.ts';
import { fileError } from './weight-file.ts';

export interface KerasWeight {
  name: string;
  shape: number[];
  data: Float32Array;
  dtype: string;
}
export interface KerasLayer {
  name: string;
  weights: KerasWeight[];
}

type Role = 'kernel' | 'bias' | 'gamma' | 'beta' | 'mean' | 'var';
const ROLES: Record<string, Role> = {
  W: 'kernel', kernel: 'kernel', b: 'bias', bias: 'bias', gamma: 'gamma', beta: 'beta',
  running_mean: 'mean', moving_mean: 'mean', running_std: 'var', moving_variance: 'var',
};

const TORCH_BN_EPS = 1e-5;

/** `block1_conv1_W_1:0` or `block1_conv1/kernel:0` -> kernel. */
function roleOf(layer: string, weight: string): Role | null {
  let base = weight.replace(/:\d+$/, '');
  if (base.includes('/')) base = base.slice(base.lastIndexOf('/') + 1);
  else if (base.startsWith(`${layer}_`)) base = base.slice(layer.length + 1);
  return ROLES[base] ?? ROLES[base.replace(/_\d+$/, '')] ?? null;
}

function byRole(layer: KerasLayer, source: string): Partial<Record<Role, KerasWeight>> {
  const out: Partial<Record<Role, KerasWeight>> = {};
  for (const w of layer.weights) {
    const role = roleOf(layer.name, w.name);
    if (!role) throw fileError(source, `layer '${layer.name}': cannot tell what weight '${w.name}' is (expected kernel/W, bias/b, gamma, beta, moving_mean, moving_variance)`);
    out[role] = w;
  }
  return out;
}

/** HWIO -> OIHW. */
function convKernel(k: KerasWeight): HostTensor {
  const [kh, kw, cin, cout] = k.shape;
  const out = new Float32Array(k.data.length);
  for (let h = 0; h < kh; h++)
    for (let w = 0; w < kw; w++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + h) * kw + w] = k.data[((h * kw + w) * cin + i) * cout + o];
  return { shape: [cout, cin, kh, kw], dtype: 'f32', data: out };
}

/** [in, out] -> [out, in]; with `channels`, input row p*C + c (NHWC flatten) goes to column c*HW + p (NCHW). */
function denseKernel(k: KerasWeight, channels?: number): HostTensor {
  const [fin, fout] = k.shape;
  const hw = channels ? fin / channels : 1;
  const out = new Float32Array(k.data.length);
  for (let r = 0; r < fin; r++) {
    const column = channels ? (r % channels) * hw + Math.floor(r / channels) : r;
    for (let o = 0; o < fout; o++) out[o * fin + column] = k.data[r * fout + o];
  }
  return { shape: [fout, fin], dtype: 'f32', data: out };
}

const vector = (w: KerasWeight): HostTensor => ({ shape: [w.data.length], dtype: 'f32', data: Float32Array.from(w.data) });

export interface MappedWeights {
  tensors: Map<string, HostTensor>;
  fileDtypes: Map<string, string>;
  metadata: Record<string, string>;
  notes: string[];
}

interface Family {
  arch: string;
  /** Keras layer name -> torch module prefix (null: not a known layer). */
  target(layer: string): string | null;
  /** BN epsilon when the file does not say. */
  defaultEps: number;
  resnet: boolean;
}

const RESNET_DEPTHS: Record<string, string> = { '3,4,6,3': 'resnet50', '3,4,23,3': 'resnet101', '3,8,36,3': 'resnet152' };

function detectFamily(names: string[], source: string): Family {
  const has = (re: RegExp) => names.some((n) => re.test(n));
  if (has(/^block1_conv1$/)) {
    const perBlock = [1, 2, 3, 4, 5].map((b) => names.filter((n) => new RegExp(`^block${b}_conv\\d+$`).test(n)).length);
    const start: number[] = [];
    let index = 0;
    for (const count of perBlock) {
      start.push(index);
      index += 2 * count + 1; // conv + ReLU per conv, then MaxPool
    }
    const depth = perBlock.reduce((a, b) => a + b, 0) + 3;
    const classifier: Record<string, string> = { fc1: 'classifier.0', fc2: 'classifier.3', predictions: 'classifier.6' };
    return {
      arch: `vgg${depth}`,
      resnet: false,
      defaultEps: TORCH_BN_EPS,
      target: (n) => {
        const m = /^block(\d)_conv(\d+)$/.exec(n);
        if (m) return `features.${start[+m[1] - 1] + 2 * (+m[2] - 1)}`;
        return classifier[n] ?? null;
      },
    };
  }
  const keras1 = has(/^bn_conv1$/) || has(/^res\d[a-z]_branch/);
  const tfKeras = has(/^conv\d_block\d+_\d_conv$/);
  if (keras1 || tfKeras) {
    if (has(/preact_bn$|^post_bn$/)) throw fileError(source, 'this is a Keras ResNetV2 (pre-activation) file: torchvision has no such architecture');
    const blocks = [2, 3, 4, 5].map((s) => {
      const re = keras1 ? new RegExp(`^res${s}([a-z])_branch2a$`) : new RegExp(`^conv${s}_block(\\d+)_1_conv$`);
      return names.filter((n) => re.test(n)).length;
    });
    const convs = ['downsample.0', 'conv1', 'conv2', 'conv3'];
    const bns = ['downsample.1', 'bn1', 'bn2', 'bn3'];
    const branch: Record<string, number> = { '1': 0, '2a': 1, '2b': 2, '2c': 3 };
    return {
      arch: RESNET_DEPTHS[blocks.join()] ?? `resnet (blocks ${blocks.join(', ')})`,
      resnet: true,
      defaultEps: keras1 ? 1e-3 : 1.001e-5,
      target: (n) => {
        if (n === 'conv1' || n === 'conv1_conv') return 'conv1';
        if (n === 'bn_conv1' || n === 'conv1_bn') return 'bn1';
        if (n === 'fc1000' || n === 'predictions' || n === 'probs') return 'fc';
        let m = /^(res|bn)(\d)([a-z])_branch(1|2a|2b|2c)$/.exec(n);
        if (m) return `layer${+m[2] - 1}.${m[3].charCodeAt(0) - 97}.${(m[1] === 'res' ? convs : bns)[branch[m[4]]]}`;
        m = /^conv(\d)_block(\d+)_(\d)_(conv|bn)$/.exec(n);
        if (m) return `layer${+m[1] - 1}.${+m[2] - 1}.${(m[4] === 'conv' ? convs : bns)[+m[3]]}`;
        return null;
      },
    };
  }
  throw fileError(source, `unrecognised Keras layer names (${names.slice(0, 5).join(', ')}, ...): VGG16/19 and ResNet50/101/152 (keras-applications or tf.keras names) are mapped`);
}

/** BN epsilon per layer from a model.save file's model_config, when present. */
function configEpsilons(modelConfig: unknown): Map<string, number> {
  const out = new Map<string, number>();
  const layers = (modelConfig as { config?: { layers?: { config?: { name?: string; epsilon?: number } }[] } })?.config?.layers ?? [];
  for (const l of layers) if (l.config?.name && typeof l.config.epsilon === 'number') out.set(l.config.name, l.config.epsilon);
  return out;
}

export function mapKerasLayers(layers: KerasLayer[], options: { source: string; arch?: string; modelConfig?: unknown }): MappedWeights {
  const { source } = options;
  const family = detectFamily(layers.map((l) => l.name), source);
  const epsilons = configEpsilons(options.modelConfig);
  const tensors = new Map<string, HostTensor>();
  const fileDtypes = new Map<string, string>();
  const notes: string[] = [];
  const convBiases = new Map<string, { bias: KerasWeight; layer: string }>();
  const unknown: string[] = [];
  const epsUsed = new Set<number>();
  const lastConv = [...layers].reverse().find((l) => /conv/.test(l.name) && l.weights.some((w) => w.shape.length === 4));
  const lastConvChannels = lastConv?.weights.find((w) => w.shape.length === 4)?.shape[3];

  const put = (name: string, t: HostTensor, from: KerasWeight) => {
    tensors.set(name, t);
    fileDtypes.set(name, from.dtype);
  };
  for (const layer of layers) {
    const prefix = family.target(layer.name);
    if (prefix === null) {
      unknown.push(layer.name);
      for (const weight of layer.weights) put(`${layer.name}.${roleOf(layer.name, weight.name) ?? weight.name}`, vector(weight), weight);
      continue;
    }
    const w = byRole(layer, source);
    if (w.gamma || w.mean) {
      if (!w.gamma || !w.beta || !w.mean || !w.var) throw fileError(source, `BatchNorm layer '${layer.name}' lacks one of gamma, beta, moving_mean, moving_variance`);
      const eps = epsilons.get(layer.name) ?? family.defaultEps;
      epsUsed.add(eps);
      put(`${prefix}.weight`, vector(w.gamma), w.gamma);
      put(`${prefix}.bias`, vector(w.beta), w.beta);
      put(`${prefix}.running_mean`, vector(w.mean), w.mean);
      put(`${prefix}.running_var`, { shape: [w.var.data.length], dtype: 'f32', data: w.var.data.map((v) => v + eps - TORCH_BN_EPS) }, w.var);
      put(`${prefix}.num_batches_tracked`, { shape: [], dtype: 'i32', data: new Int32Array(1) }, w.var);
      fileDtypes.set(`${prefix}.num_batches_tracked`, '(added)');
      continue;
    }
    if (!w.kernel) throw fileError(source, `layer '${layer.name}' has no kernel`);
    if (w.kernel.shape.length === 4) {
      put(`${prefix}.weight`, convKernel(w.kernel), w.kernel);
      if (w.bias && family.resnet) convBiases.set(prefix, { bias: w.bias, layer: layer.name });
      else if (w.bias) put(`${prefix}.bias`, vector(w.bias), w.bias);
    } else if (w.kernel.shape.length === 2) {
      const permute = layer.name === 'fc1' && !family.resnet ? lastConvChannels : undefined;
      if (permute && w.kernel.shape[0] % permute !== 0) {
        throw fileError(source, `fc1 has ${w.kernel.shape[0]} inputs, not a multiple of the last conv's ${permute} channels`);
      }
      put(`${prefix}.weight`, denseKernel(w.kernel, permute), w.kernel);
      if (w.bias) put(`${prefix}.bias`, vector(w.bias), w.bias);
      if (permute) notes.push(`fc1: rows permuted from Keras' NHWC flatten to torch's NCHW flatten (${permute} channels x ${w.kernel.shape[0] / permute} positions)`);
    } else throw fileError(source, `layer '${layer.name}': kernel of rank ${w.kernel.shape.length}`);
  }

  // Fold conv biases into the BatchNorm that follows each conv.
  let folded = 0;
  for (const [conv, { bias, layer }] of convBiases) {
    const bn = conv === 'conv1' ? 'bn1' : conv.endsWith('downsample.0') ? conv.replace(/0$/, '1') : conv.replace(/conv(\d)$/, 'bn$1');
    const mean = tensors.get(`${bn}.running_mean`);
    if (!mean || mean.data.length !== bias.data.length) {
      put(`${conv}.bias`, vector(bias), bias);
      notes.push(`conv '${layer}' has a bias and no matching BatchNorm to fold it into: kept as ${conv}.bias (torchvision has none)`);
      continue;
    }
    for (let i = 0; i < bias.data.length; i++) mean.data[i] -= bias.data[i];
    folded++;
  }
  if (folded) notes.push(`folded the biases of ${folded} convs into the following BatchNorm's running_mean (torchvision convs have no bias; exact)`);
  const epsList = [...epsUsed].filter((e) => e !== TORCH_BN_EPS);
  if (epsList.length) notes.push(`BatchNorm epsilon ${epsList.join(', ')} (Keras) -> 1e-5 (torchvision): added the difference to running_var (exact in eval mode)`);
  if (unknown.length) notes.push(`layers with no torchvision counterpart, kept under their Keras names: ${unknown.join(', ')}`);
  const metadata: Record<string, string> = { source_format: 'keras-hdf5', arch: options.arch ?? family.arch, preprocessing: 'caffe' };
  notes.push("Keras application weights expect 'caffe' preprocessing: BGR channel order, 0-255 pixels minus the ImageNet mean, no std scaling");
  if (family.resnet) {
    metadata.resnet_stride = 'v1: stride 2 on conv1 (1x1) of the first block of layer2-4';
    notes.push(
      "Keras' ResNet is ResNet v1: the first block of layer2..layer4 strides its 1x1 conv1; torchvision's resnet (v1.5) strides the 3x3 conv2. " +
        'The weights load by name and shape, but reproduce Keras only in a model built with v1 strides.',
    );
  }
  if (options.arch && options.arch !== family.arch) notes.push(`the layer names look like ${family.arch}, not ${options.arch}`);
  return { tensors, fileDtypes, metadata, notes };
}
