// Every architecture by name: the factories (torchvision's names, and darknet-tiny) and createModel.
import { GraftError } from '../core/index.ts';
import { DarknetTiny } from './darknet.ts';
import type { ImageClassifier, ModelOptions } from './heads.ts';
import { ResNet, type ResNetOptions } from './resnet.ts';
import { VGG, type VggOptions } from './vgg.ts';

type VggFactoryOptions = Omit<VggOptions, 'batchNorm'>;

export const vgg11 = (o: VggFactoryOptions): VGG => new VGG(11, o);
export const vgg13 = (o: VggFactoryOptions): VGG => new VGG(13, o);
export const vgg16 = (o: VggFactoryOptions): VGG => new VGG(16, o);
export const vgg19 = (o: VggFactoryOptions): VGG => new VGG(19, o);
export const vgg11_bn = (o: VggFactoryOptions): VGG => new VGG(11, { ...o, batchNorm: true });
export const vgg13_bn = (o: VggFactoryOptions): VGG => new VGG(13, { ...o, batchNorm: true });
export const vgg16_bn = (o: VggFactoryOptions): VGG => new VGG(16, { ...o, batchNorm: true });
export const vgg19_bn = (o: VggFactoryOptions): VGG => new VGG(19, { ...o, batchNorm: true });
export const resnet18 = (o: ResNetOptions): ResNet => new ResNet(18, o);
export const resnet34 = (o: ResNetOptions): ResNet => new ResNet(34, o);
export const resnet50 = (o: ResNetOptions): ResNet => new ResNet(50, o);
export const resnet101 = (o: ResNetOptions): ResNet => new ResNet(101, o);
export const resnet152 = (o: ResNetOptions): ResNet => new ResNet(152, o);
export const darknetTiny = (o: ModelOptions): DarknetTiny => new DarknetTiny(o);

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
