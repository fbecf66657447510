// Whole networks: resnet18, resnet50 and vgg16 forward in eval mode (batch 1 and a small batch),
// and one fine-tuning step of resnet18 (softmax cross-entropy, backward, plain SGD) with everything
// trainable and with only layer4 + fc trainable. Graft runs its own models (src/models), loaded by
// name with the bench's seeded weights; tfjs runs the twins of tfjs-nets.ts built from the same arrays.
import { backward, noGrad, ops, zeroGrad } from '../../src/index.ts';
import type { Gpu } from '../../src/graph/gpu.ts';
import type { Module, Parameter } from '../../src/graph/module.ts';
import { loadStateDict } from '../../src/weights/state-dict.ts';
import { sgdStep } from '../../src/train/sgd.ts';
import { hwioToOihw, nchwToNhwc, randint, randn } from '../data.ts';
import type { BenchOptions } from '../options.ts';
import { type Instance, type Prepared, type Tf, type TfBackend, type Workload, graftInstance, missingKernels, tfInstance } from '../workload.ts';
import { type Arch, CLASSES, type HostWeight, randomWeights, stateDictShapes } from './nets.ts';
import { buildTfNet } from './tfjs-nets.ts';
import { forwardFlops, trainStepFlops } from './model-flops.ts';

const LR = 0.01;

type ModelZoo = typeof import('../../src/models/index.ts');

/**
 * Graft's model zoo, imported when first needed: a model module that does not load fails the model
 * rows (with its error), never the kernel benchmarks. Only a checkout without src/models/index.ts
 * makes them n/a.
 */
async function graftModels(): Promise<ModelZoo | string> {
  const url = new URL('../../src/models/index.ts', import.meta.url).href;
  try {
    return (await import(/* @vite-ignore */ url)) as ModelZoo;
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.code === 'ERR_MODULE_NOT_FOUND' && err.message.includes('models/index.ts')) return "Graft's models (src/models/index.ts) are not in this checkout";
    throw e;
  }
}

/** The seeded weights of one architecture, shared by every workload and contender (one arch cached). */
const weightCache: { arch: Arch | null; weights: Map<string, HostWeight> | null } = { arch: null, weights: null };
/** Let the cached arrays go (bench/onnx.ts, once it has written them for the ONNX export). */
export function releaseWeights(): void {
  weightCache.arch = null;
  weightCache.weights = null;
}
/** The state dict Graft and the tfjs twins load, and the ONNX files are exported from (bench/onnx.ts). */
export function weightsFor(arch: Arch, includeTop = true): Map<string, HostWeight> {
  if (weightCache.arch !== arch) {
    weightCache.weights = null; // let the previous architecture's arrays go first
    weightCache.weights = randomWeights(stateDictShapes(arch));
    weightCache.arch = arch;
  }
  if (includeTop) return weightCache.weights!;
  return new Map([...weightCache.weights!].filter(([name]) => !HEAD_KEYS.test(name)));
}

/** The classifier's keys (torchvision's ResNet fc, VGG classifier), absent with includeTop: false. */
const HEAD_KEYS = /^(fc|classifier)\./;

async function graftNet(gpu: Gpu, arch: Arch, includeTop = true): Promise<Module | Prepared> {
  const models = await graftModels();
  if (typeof models === 'string') return { unavailable: models };
  // init 'zeros': no random numbers for weights that are overwritten next.
  const net: Module = models[arch]({ gpu, init: 'zeros', includeTop });
  try {
    loadStateDict(net, weightsFor(arch, includeTop), { source: `the bench's seeded ${arch} weights` });
  } catch (e) {
    net.dispose();
    throw e;
  }
  return net;
}

const isModule = (m: Module | Prepared): m is Module => typeof (m as Module).forward === 'function';

function withDispose(inst: Instance, extra: () => void): Instance {
  return { ...inst, dispose: () => (inst.dispose(), extra()) };
}

/** One forward row: `featuresOnly` is the network built with includeTop: false (pooled features). */
export interface ForwardCase {
  id: string;
  title: string;
  arch: Arch;
  batch: number;
  size: number;
  featuresOnly: boolean;
}

/** The forward rows of a set of options, in order (the ONNX files are exported for these). */
export function forwardCases(o: BenchOptions): ForwardCase[] {
  const out: ForwardCase[] = [];
  for (const arch of ['resnet18', 'resnet50', 'vgg16'] as const) {
    const { image: size, batches } = o.models[arch];
    const featuresOnly = arch === 'vgg16' && !o.vggClassifier;
    for (const batch of batches) {
      out.push({
        id: `model.fwd/${arch}${featuresOnly ? '-features' : ''}-b${batch}-${size}`,
        title: `${arch}${featuresOnly ? ' features (no classifier)' : ''} forward (eval) ${batch}x3x${size}x${size}`,
        arch, batch, size, featuresOnly,
      });
    }
  }
  return out;
}

/** Forward in eval mode. */
function forwardWorkload({ id, title, arch, batch, size, featuresOnly }: ForwardCase): Workload {
  const shape = [batch, 3, size, size];
  let input: Float32Array | null = null;
  const x = () => (input ??= randn(batch * 3 * size * size, 51));
  return {
    id,
    family: 'model',
    title,
    flops: forwardFlops(arch, batch, size, !featuresOnly),
    tolerance: 1e-3,
    outputs: featuresOnly ? 'pooled features' : 'logits',
    release: () => void (input = null),
    graft: async (gpu) => {
      const net = await graftNet(gpu, arch, !featuresOnly);
      if (!isModule(net)) return net;
      net.eval();
      const xt = gpu.tensor(x(), shape);
      return withDispose(graftInstance([xt], () => noGrad(() => [net.forward(xt)])), () => net.dispose());
    },
    tfjs: (tf) => {
      const net = buildTfNet(tf, arch, weightsFor(arch, !featuresOnly), () => false);
      const xt = tf.tensor4d(nchwToNhwc(x(), shape), [batch, size, size, 3]);
      return withDispose(tfInstance(tf, [xt], () => [net.forward(xt, false)]), () => net.dispose());
    },
    // ONNX Runtime Web runs the file bench/onnx.ts exported from weightsFor(arch) on the same input.
    onnx: { input: x, shape },
  };
}

type TrainScope = 'all' | 'layer4+fc';

function trainWorkload(batch: number, size: number, which: TrainScope): Workload {
  const arch: Arch = 'resnet18';
  const shape = [batch, 3, size, size];
  const trainable = (name: string) => which === 'all' || name.startsWith('layer4.') || name.startsWith('fc.');
  // Checked outputs: the loss, fc.bias's gradient, and the gradient of the lowest trainable conv.
  const lowest = which === 'all' ? 'conv1.weight' : 'layer4.0.conv1.weight';
  let data: { x: Float32Array; labels: Int32Array } | null = null;
  const get = () => (data ??= { x: randn(batch * 3 * size * size, 61), labels: randint(batch, 62, CLASSES) });
  return {
    id: `train.step/${arch}-${which === 'all' ? 'all' : 'layer4fc'}-b${batch}-${size}`,
    family: 'train',
    title: `${arch} SGD step, ${which === 'all' ? 'all trainable' : 'layer4 + fc trainable'}, ${batch}x3x${size}x${size}`,
    // The lowest trainable layers need no input gradient (the image, or frozen layers, below them).
    flops: trainStepFlops(arch, batch, size, (name) => trainable(`${name}.`), (name) => (which === 'all' ? name === 'conv1' : name === 'layer4.0.conv1' || name === 'layer4.0.downsample.0')),
    tolerance: 1e-3,
    outputs: `loss, d fc.bias, d ${lowest}`,
    release: () => void (data = null),
    graft: async (gpu) => {
      const net = await graftNet(gpu, arch);
      if (!isModule(net)) return net;
      net.train();
      if (which !== 'all') net.freeze().unfreeze('layer4').unfreeze('fc');
      const named = new Map<string, Parameter>(net.namedParameters());
      const params = net.trainableParameters();
      const xt = gpu.tensor(get().x, shape);
      const labels = ops.labels(gpu, get().labels, CLASSES);
      const step = graftInstance([xt, labels], () => {
        zeroGrad(params);
        const loss = ops.softmaxCrossEntropy(net.forward(xt), labels);
        backward(loss);
        sgdStep(params, LR);
        return [loss, named.get('fc.bias')!.grad!, named.get(lowest)!.grad!];
      });
      return withDispose(step, () => (zeroGrad(params), net.dispose()));
    },
    tfjs: (tf: Tf, backend: TfBackend) => {
      const missing = missingKernels(tf, backend, ['Conv2DBackpropFilter', 'Conv2DBackpropInput']);
      if (missing) return missing;
      const net = buildTfNet(tf, arch, weightsFor(arch), trainable);
      const vars = [...net.params.values()].filter((v) => v.trainable);
      const [fcBias, low] = [net.params.get('fc.bias')!, net.params.get(lowest)!];
      const xt = tf.tensor4d(nchwToNhwc(get().x, shape), [batch, size, size, 3]);
      const onehot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(get().labels, 'int32'), CLASSES), 'float32'));
      const lowShape = stateDictShapes(arch).get(lowest)!;
      const step = tfInstance(
        tf,
        [xt, onehot],
        () => {
          const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(onehot, net.forward(xt, true)) as ReturnType<Tf['scalar']>, vars);
          for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name], LR)));
          net.applyRunningUpdates();
          return [value, grads[fcBias.name], grads[low.name]];
        },
        { common: ([loss, gb, gw]) => [loss, gb, hwioToOihw(gw, lowShape)] },
      );
      return withDispose(step, () => net.dispose());
    },
  };
}

export async function modelWorkloads(o: BenchOptions): Promise<Workload[]> {
  const out: Workload[] = [];
  for (const c of forwardCases(o)) out.push(forwardWorkload(c));
  const train = o.trainImage;
  out.push(trainWorkload(o.trainBatch, train, 'all'), trainWorkload(o.trainBatch, train, 'layer4+fc'));
  return out;
}
