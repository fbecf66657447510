// The `models` namespace: torchvision's VGG and ResNet families by name, Darknet tiny, withHead for
// transfer learning, preprocessing, and a registry by architecture name (createModel, ARCHS) for
// weight loaders and the CLI.
//
//   const net = models.resnet50({ gpu });                        // ImageNet classifier, 1000 classes
//   const base = models.vgg16({ gpu, includeTop: false });        // features only: [N, 25088]
//   const tuned = models.withHead(base, { classes: 3, dropout: 0.5 });
export { type HeadOptions, ImageClassifier, type ModelOptions, withHead } from './heads.ts';
export { BasicBlock, Bottleneck, ResNet, type ResNetOptions } from './resnet.ts';
export { VGG, type VggOptions } from './vgg.ts';
export { DarknetTiny } from './darknet.ts';
export { type Convention, PREPROCESSING, type PixelSource, type Pixels, preprocess, preprocessPixels } from './preprocess.ts';

export {
  vgg11, vgg13, vgg16, vgg19, vgg11_bn, vgg13_bn, vgg16_bn, vgg19_bn,
  resnet18, resnet34, resnet50, resnet101, resnet152, darknetTiny,
  type Arch, type Factory, type WeightsOptions, ARCHS, createModel,
} from './create.ts';
export { type ModelSummary, type SummaryRow, formatSummary, summarize } from './summary.ts';
export { type LoadModelOptions, SAVED_KEYS, encodeModel, isSavedModel, loadModel, modelMetadata } from './saved.ts';
