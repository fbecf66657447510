// Image-batch ops for preprocessing and augmentation (non-differentiable): resize, crop + flip per
// image, normalise. x: [N, C, H, W] float32.
import { type NormalizeArgs, cropFlip, normalize, resizeBilinear } from '../kernels/augment.ts';
import { Tensor } from './tensor.ts';

export type { NormalizeArgs };

/** Bilinear resize of every image to [outH, outW]. */
export function resizeImages(x: Tensor, outH: number, outW: number): Tensor {
  return new Tensor(x.rt, resizeBilinear(x.rt, x, outH, outW));
}

/** offsets: i32 [3 * N] (top, left, flip) per image -> windows [N, C, outH, outW], zero outside. */
export function cropFlipImages(x: Tensor, offsets: Tensor, outH: number, outW: number): Tensor {
  return new Tensor(x.rt, cropFlip(x.rt, x, offsets, outH, outW));
}

/** (v * scale - mean[c]) / std[c] per channel, choosing source channels (gray -> RGB, BGR). */
export function normalizeImages(x: Tensor, args: NormalizeArgs): Tensor {
  return new Tensor(x.rt, normalize(x.rt, x, args));
}
