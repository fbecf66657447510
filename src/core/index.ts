// The floor every layer may import: errors, shapes and small shared types. Nothing here touches the GPU.
export { GraftError } from './errors.ts';
export { numel, sameShape, shapeError, shapeStr } from './shape.ts';
export type { DType, HostTensor, ProgressCallback, ProgressInfo, RawImage } from './types.ts';
export { VERSION } from './version.ts';
