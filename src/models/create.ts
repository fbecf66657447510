// Every architecture by name: the factories (torchvision's names, and darknet-tiny) and createModel.
import { GraftError } from '../core/index.ts';
import { DarknetTiny } from './darknet.ts';
import type { ImageClassifier, ModelOptions } from './heads.ts';
import { ResNet, type ResNetOptions } from './resnet.ts';
import { VGG, type VggOptions } from './vgg.ts';
import type { ProgressCallback } from '../core/index.ts';
import { loadPretrained } from '../weights/pretrained.ts';

type VggFactoryOptions = Omit<VggOptions, 'batchNorm'>;

/** Pre-trained weights for a factory: a name ('imagenet', 'imagenet-keras': see src/weights/registry.ts) or a path / URL. */
export interface WeightsOptions {
  weights: string;
  onProgress?: ProgressCallback;
}

/** A factory: the model now, or with `weights` a promise of it with the weights loaded. */
export interface Factory<O, M> {
  (options: O & { weights?: undefined }): M;
  (options: O & WeightsOptions): Promise<M>;
}

async function withWeights<M extends ImageClassifier>(net: M, o: ModelOptions & WeightsOptions): Promise<M> {
  try {
    // Without the ImageNet classifier the file's classifier is left out; everything else must load.
    const report = await loadPretrained(net, o.weights, { strict: o.includeTop !== false, onProgress: o.onProgress });
    const problems = [...report.missing.map((k) => `missing ${k}`), ...report.mismatched];
    if (problems.length) throw new GraftError(`${o.weights} does not fit ${net.arch}: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? `; ... (${problems.length} in all)` : ''}`);
    return net;
  } catch (e) {
    net.dispose();
    throw e;
  }
}

function factory<O extends ModelOptions, M extends ImageClassifier>(build: (o: O) => M): Factory<O, M> {
  return ((o: O & Partial<WeightsOptions>) => (o.weights === undefined ? build(o) : withWeights(build({ ...o, init: 'zeros' }), o as O & WeightsOptions))) as Factory<O, M>;
}

export const vgg11 = factory((o: VggFactoryOptions) => new VGG(11, o));
export const vgg13 = factory((o: VggFactoryOptions) => new VGG(13, o));
export const vgg16 = factory((o: VggFactoryOptions) => new VGG(16, o));
export const vgg19 = factory((o: VggFactoryOptions) => new VGG(19, o));
export const vgg11_bn = factory((o: VggFactoryOptions) => new VGG(11, { ...o, batchNorm: true }));
export const vgg13_bn = factory((o: VggFactoryOptions) => new VGG(13, { ...o, batchNorm: true }));
export const vgg16_bn = factory((o: VggFactoryOptions) => new VGG(16, { ...o, batchNorm: true }));
export const vgg19_bn = factory((o: VggFactoryOptions) => new VGG(19, { ...o, batchNorm: true }));
export const resnet18 = factory((o: ResNetOptions) => new ResNet(18, o));
export const resnet34 = factory((o: ResNetOptions) => new ResNet(34, o));
export const resnet50 = factory((o: ResNetOptions) => new ResNet(50, o));
export const resnet101 = factory((o: ResNetOptions) => new ResNet(101, o));
export const resnet152 = factory((o: ResNetOptions) => new ResNet(152, o));
export const darknetTiny = factory((o: ModelOptions) => new DarknetTiny(o));

const FACTORIES = {
  vgg11, vgg13, vgg16, vgg19, vgg11_bn, vgg13_bn, vgg16_bn, vgg19_bn,
  resnet18, resnet34, resnet50, resnet101, resnet152,
  'darknet-tiny': darknetTiny,
} as const;

export type Arch = keyof typeof FACTORIES;
/** Every architecture createModel builds, by the name torchvision (or Darknet) gives it. */
export const ARCHS = Object.freeze(Object.keys(FACTORIES) as Arch[]);

/**
 * A model by architecture name ('resnet50', 'vgg16_bn', 'darknet-tiny', ...). Loaders pass
 * init: 'zeros' to skip the random initialisation of weights they are about to overwrite.
 */
export function createModel(arch: string, options: ModelOptions): ImageClassifier {
  const factory = (FACTORIES as Record<string, (o: ModelOptions) => ImageClassifier>)[arch];
  if (!factory) throw new GraftError(`unknown architecture '${arch}'; known: ${ARCHS.join(', ')}`);
  return factory(options);
}
