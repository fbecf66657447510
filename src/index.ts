// Graft's public API.
export { graft, Gpu } from './graph/gpu.ts';
export { Tensor, scope, keep, noGrad, tensor } from './graph/tensor.ts';
export { backward, zeroGrad } from './graph/autograd.ts';
export * as ops from './graph/ops.ts';
export { Module, Parameter } from './graph/module.ts';
export { GraftError } from './kernels/runtime.ts';
export type { MemoryStats } from './kernels/runtime.ts';
export type { AdapterReport, DeviceOptions } from './device/device.ts';
export * as models from './models/index.ts';
export { preprocess } from './models/preprocess.ts';
