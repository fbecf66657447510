// Graft's public API.
export { graft, Gpu } from './graph/gpu.ts';
export { Tensor, scope, keep, noGrad, tensor } from './graph/tensor.ts';
export { backward, zeroGrad } from './graph/autograd.ts';
export * as ops from './graph/ops.ts';
export { Module, Parameter } from './graph/module.ts';
export { GraftError } from './core/index.ts';
export type { DType, HostTensor, ProgressCallback, ProgressInfo } from './core/index.ts';
export type { KernelTime, MemoryStats, Profile } from './graph/gpu.ts';
export type { AdapterReport, DeviceOptions } from './device/device.ts';
export type { MeasureOptions, Measured } from './kernels/tune/index.ts';
export type { TuneChoice, TunePolicy } from './kernels/runtime/index.ts';
export * as models from './models/index.ts';
export { preprocess } from './models/preprocess.ts';
// Weight files (safetensors, .pth, Keras .h5, TF.js model.json) and loading them by name.
export { loadPretrained, readWeights, type PretrainedOptions, type PretrainedReport } from './weights/pretrained.ts';
export { loadModel, encodeModel, type LoadModelOptions } from './models/saved.ts';
export { PUBLISHED, WEIGHT_NAMES, publishedWeights, registerWeights, fetchPublished, type PublishedWeights, type WeightsName } from './weights/registry.ts';
export { saveSafetensors, readSafetensors } from './weights/safetensors.ts';
export { clearCache } from './io/source.ts';
// Images: PNG/JPEG bytes, a path or URL, or (in a browser) anything drawable, as pixels.
export { decodeImage, loadImage, type ImageInput } from './io/image.ts';
export type { RawImage } from './core/index.ts';
export { loadStateDict, readStateDict, type LoadReport } from './weights/state-dict.ts';
export * as layers from './models/layers.ts';
// Training: optimizers, schedules, data, augmentation, fit and callbacks, metrics, charts.
export * from './train/index.ts';
export * from './data/index.ts';
export * from './report/index.ts';
