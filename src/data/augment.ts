// On-GPU augmentation of training batches (resize, random crop with padding, horizontal flip) and
// preprocessing of every batch (a model's mean/std normalisation, gray -> RGB, channel order).
// Random choices are drawn on the CPU from a seed per batch (fit uses seed, epoch and step), one
// (row offset, column offset, flip) triple per image, and applied by one kernel.
import { mulberry32 } from '../graph/random.ts';
import { Tensor, tensor } from '../graph/tensor.ts';
import { GraftError, shapeStr } from '../core/index.ts';
import { clone } from '../graph/inplace.ts';
import { cropFlipImages, normalizeImages, resizeImages } from '../graph/image-ops.ts';
import type { Preprocessing } from '../models/image.ts';

export interface AugmentOptions {
  /** Resize every image first: bilinear, as torch's F.interpolate(align_corners=False). */
  resize?: [number, number];
  /**
   * torchvision RandomCrop(size, padding): zero-pad each side by `padding`, then take a `size`
   * window (default: the image's size) at a uniformly random offset.
   */
  randomCrop?: { padding?: number; size?: [number, number] };
  /** Flip left-right with probability 0.5 (true) or the given probability. */
  horizontalFlip?: boolean | number;
}

/** The random choices for one batch: per image, the window's offset into the unpadded image and a flip. */
export interface AugmentDraw {
  /** [oy, ox, flip] per image. */
  offsets: Int32Array;
  outH: number;
  outW: number;
}

export class Augmentation {
  readonly resize: [number, number] | null;
  readonly padding: number;
  readonly cropSize: [number, number] | null;
  readonly flipProbability: number;

  constructor(o: AugmentOptions) {
    this.resize = o.resize ? [...o.resize] : null;
    if (this.resize && !this.resize.every((d) => Number.isInteger(d) && d > 0)) throw new GraftError(`augmentation: resize must be [height, width] of positive integers, got [${this.resize.join(', ')}]`);
    this.padding = o.randomCrop?.padding ?? 0;
    if (!(Number.isInteger(this.padding) && this.padding >= 0)) throw new GraftError(`augmentation: randomCrop.padding must be an integer >= 0, got ${this.padding}`);
    this.cropSize = o.randomCrop?.size ? [...o.randomCrop.size] : null;
    const flip = o.horizontalFlip ?? false;
    this.flipProbability = flip === true ? 0.5 : flip === false ? 0 : flip;
    if (!(this.flipProbability >= 0 && this.flipProbability <= 1)) throw new GraftError(`augmentation: horizontalFlip probability must be in [0, 1], got ${flip}`);
  }

  get crops(): boolean {
    return this.padding > 0 || this.cropSize !== null;
  }

  /** The choices for a batch of n images of h x w (after the resize) from a seed. */
  draw(n: number, h: number, w: number, seed: number): AugmentDraw {
    const [outH, outW] = this.cropSize ?? [h, w];
    const p = this.padding;
    if (outH > h + 2 * p || outW > w + 2 * p) throw new GraftError(`augmentation: crop ${outH}x${outW} is larger than the ${h}x${w} image padded by ${p}`);
    const rand = mulberry32(seed);
    const offsets = new Int32Array(3 * n);
    for (let i = 0; i < n; i++) {
      offsets[3 * i] = this.crops ? Math.floor(rand() * (h + 2 * p - outH + 1)) - p : 0;
      offsets[3 * i + 1] = this.crops ? Math.floor(rand() * (w + 2 * p - outW + 1)) - p : 0;
      offsets[3 * i + 2] = this.flipProbability > 0 && rand() < this.flipProbability ? 1 : 0;
    }
    return { offsets, outH, outW };
  }

  /** Augment a batch x [N, C, H, W] (new tensor; x is left alone). */
  apply(x: Tensor, seed: number): Tensor {
    if (x.shape.length !== 4) throw new GraftError(`augmentation: expected images [N, C, H, W], got ${shapeStr(x.shape)}`);
    let cur = x;
    if (this.resize) cur = resizeImages(x, this.resize[0], this.resize[1]);
    if (this.crops || this.flipProbability > 0) {
      const [n, , h, w] = cur.shape;
      const d = this.draw(n, h, w, seed);
      const offsets = tensor(x.rt, d.offsets, [d.offsets.length], 'i32');
      const next = cropFlipImages(cur, offsets, d.outH, d.outW);
      offsets.dispose();
      if (cur !== x) cur.dispose();
      cur = next;
    }
    return cur === x ? clone(x) : cur;
  }
}

export function augmentation(options: AugmentOptions): Augmentation {
  return new Augmentation(options);
}

/** What preprocessOnGpu does to every batch: resize, then per output channel (x[src] * scale - mean) / std. */
export interface GpuPreprocessing {
  size?: [number, number];
  /** Resize the shorter side to size * 256/224 and take the central `size` (else resize to `size`). */
  centerCrop?: boolean;
  /** Multiplies the input values (datasets give [0, 1]). Default 1. */
  scale?: number;
  mean: readonly number[];
  std: readonly number[];
  /** The input channel each output channel reads; default the same one, or 0 for a 1-channel input. */
  sourceChannels?: readonly number[];
}

/**
 * A model's Preprocessing (src/models/image.ts: pixel values v in [0, 255] become
 * (v * scale - mean) / std, RGB or BGR, after a resize or a centre crop) for batches in [0, 1] as
 * datasets give them. The resize here is torch's plain bilinear; image.ts resizes photos on the CPU
 * with PIL's antialiased filter, which differs when shrinking by a large factor.
 */
export function fromModelPreprocessing(p: Preprocessing): GpuPreprocessing {
  return {
    size: [...p.size],
    centerCrop: p.crop === 'center',
    scale: 255 * p.scale,
    mean: [...p.mean],
    std: [...p.std],
    // For a 3-channel input BGR reads channels 2, 1, 0; a gray input is read for every channel.
    sourceChannels: p.channels === 'BGR' ? [2, 1, 0] : undefined,
  };
}

/** Apply preprocessing to a batch x [N, C, H, W] on the GPU (new tensor). */
export function preprocessOnGpu(x: Tensor, p: GpuPreprocessing): Tensor {
  if (x.shape.length !== 4) throw new GraftError(`preprocess: expected images [N, C, H, W], got ${shapeStr(x.shape)}`);
  const [n, c, h, w] = x.shape;
  let sized: Tensor | null = null;
  if (p.size && p.centerCrop) {
    // As src/models/image.ts: the shorter side to size * 256/224, then the central window.
    const [outH, outW] = p.size;
    const s = Math.round((Math.min(outH, outW) * 256) / 224) / Math.min(h, w);
    const [rh, rw] = [Math.max(outH, Math.round(h * s)), Math.max(outW, Math.round(w * s))];
    const resized = rh === h && rw === w ? null : resizeImages(x, rh, rw);
    const offsets = tensor(x.rt, Array.from({ length: 3 * n }, (_, i) => [Math.floor((rh - outH) / 2), Math.floor((rw - outW) / 2), 0][i % 3]), [3 * n], 'i32');
    sized = cropFlipImages(resized ?? x, offsets, outH, outW);
    offsets.dispose();
    resized?.dispose();
  } else if (p.size && (p.size[0] !== h || p.size[1] !== w)) sized = resizeImages(x, p.size[0], p.size[1]);
  const source = p.sourceChannels && c === 1 ? p.sourceChannels.map(() => 0) : p.sourceChannels;
  const out = normalizeImages(sized ?? x, { scale: p.scale ?? 1, mean: p.mean, std: p.std, sourceChannels: source });
  sized?.dispose();
  return out;
}
