// Images into a model: resize, crop and normalise as a model's `preprocessing` describes, and turn
// into its input [N, 3, H, W]. Decoding lives in io/image.ts.
//
// Layouts: a RawImage is interleaved HWC bytes, `data[(y * width + x) * channels + c]`; a model
// input is planar CHW float32 per image, `input[(c * H + y) * W + x]`.
import type { Gpu } from '../graph/gpu.ts';
import type { Tensor } from '../graph/tensor.ts';
import { GraftError } from '../core/index.ts';
import { type ImageInput, type RawImage, checkRaw, loadImage } from '../io/image.ts';

export type { ImageInput, RawImage };
export { decodeImage, loadImage } from '../io/image.ts';

/**
 * How a model wants its images. Each pixel value v in [0, 255] becomes (v * scale - mean[c]) / std[c]
 * in the given channel order, after resizing (`crop: 'none'`: the whole image to `size`, ignoring
 * the aspect ratio; 'center': the shorter side to size * 256/224, then the central `size`).
 */
export interface Preprocessing {
  /** [height, width]. */
  size: [number, number];
  channels: 'RGB' | 'BGR';
  scale: number;
  mean: [number, number, number];
  std: [number, number, number];
  resize: 'bilinear';
  crop: 'none' | 'center';
}

/**
 * Resample one axis with PIL's antialiased bilinear filter: a triangle of radius max(1, in/out) input
 * pixels around each output pixel's centre (plain half-pixel bilinear when enlarging).
 * src: `lines` lines of `inLen` samples, `stride` apart within a line; returns lines of `outLen`.
 */
function resampleAxis(src: Float32Array, lines: number, inLen: number, outLen: number, lineStep: number, sampleStep: number, outLineStep: number, outSampleStep: number, dst: Float32Array): void {
  const scale = inLen / outLen;
  const support = Math.max(scale, 1);
  for (let o = 0; o < outLen; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support));
    const hi = Math.min(inLen, Math.ceil(center + support));
    const weights: number[] = [];
    let total = 0;
    for (let i = lo; i < hi; i++) {
      const w = Math.max(0, 1 - Math.abs((i + 0.5 - center) / support));
      weights.push(w);
      total += w;
    }
    for (let l = 0; l < lines; l++) {
      let acc = 0;
      for (let i = lo; i < hi; i++) acc += weights[i - lo] * src[l * lineStep + i * sampleStep];
      dst[l * outLineStep + o * outSampleStep] = acc / total;
    }
  }
}

/** Resize interleaved float pixels [h, w, c] to [outH, outW, c] (antialiased bilinear). */
export function resizeBilinear(src: Float32Array, h: number, w: number, c: number, outH: number, outW: number): Float32Array {
  const mid = new Float32Array(h * outW * c);
  for (let ch = 0; ch < c; ch++) resampleAxis(src.subarray(ch), h, w, outW, w * c, c, outW * c, c, mid.subarray(ch));
  const out = new Float32Array(outH * outW * c);
  // Columns: a "line" is one (x, channel) pair; samples along y are outW * c apart.
  resampleAxis(mid, outW * c, h, outH, 1, outW * c, 1, outW * c, out);
  return out;
}

/** One image -> the model's input values [3, H, W] (CHW float32), as `prep` says. */
export function imageToInput(img: RawImage, prep: Preprocessing, name = 'image'): Float32Array {
  checkRaw(img, name);
  if (img.channels < 3) throw new GraftError(`${name}: a grayscale image (${img.channels} channel${img.channels > 1 ? 's, with alpha' : ''}), but the model expects ${prep.channels} (3 channels); convert the image to RGB`);
  const [outH, outW] = prep.size;
  // RGB as floats (alpha dropped), then the crop window, then the resize.
  let { width: w, height: h } = img;
  let pixels = new Float32Array(w * h * 3);
  for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) pixels[i * 3 + c] = img.data[i * img.channels + c];
  if (prep.crop === 'center') {
    const shorter = Math.round((Math.min(outH, outW) * 256) / 224);
    // As torchvision: the longer side is floor(shorter * long / short), and the crop's offsets are
    // round((resized - crop) / 2) with Python's round-half-to-even.
    const side = (len: number) => (len === Math.min(w, h) ? shorter : Math.floor((shorter * len) / Math.min(w, h)));
    const [rh, rw] = [Math.max(outH, side(h)), Math.max(outW, side(w))];
    const resized = resizeBilinear(pixels, h, w, 3, rh, rw);
    const halfEven = (x: number) => (x % 1 === 0.5 && Math.floor(x) % 2 === 0 ? Math.floor(x) : Math.round(x));
    const [top, left] = [halfEven((rh - outH) / 2), halfEven((rw - outW) / 2)];
    pixels = new Float32Array(outH * outW * 3);
    for (let y = 0; y < outH; y++) pixels.set(resized.subarray(((top + y) * rw + left) * 3, ((top + y) * rw + left + outW) * 3), y * outW * 3);
    [h, w] = [outH, outW];
  } else if (prep.crop !== 'none') throw new GraftError(`${name}: unknown crop '${prep.crop}' (none or center)`);
  const sized = h === outH && w === outW ? pixels : resizeBilinear(pixels, h, w, 3, outH, outW);
  const order = prep.channels === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  const out = new Float32Array(3 * outH * outW);
  for (let c = 0; c < 3; c++) {
    const src = order[c];
    for (let i = 0; i < outH * outW; i++) out[c * outH * outW + i] = (sized[i * 3 + src] * prep.scale - prep.mean[c]) / prep.std[c];
  }
  return out;
}

/** Images -> one input tensor [N, 3, H, W] on the GPU. */
export async function imagesToTensor(gpu: Gpu, images: ImageInput[], prep: Preprocessing): Promise<Tensor> {
  const [h, w] = prep.size;
  const all = new Float32Array(images.length * 3 * h * w);
  for (const [i, source] of images.entries()) {
    const name = typeof source === 'string' ? source : `image ${i}`;
    all.set(imageToInput(await loadImage(source, name), prep, name), i * 3 * h * w);
  }
  return gpu.tensor(all, [images.length, 3, h, w]);
}
