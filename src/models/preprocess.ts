// One helper from pixels to a model's input: preprocess(model, image) -> [N, 3, H, W] on the model's
// device, following the preprocessing the model carries. The conventions of published weights:
//   torchvision  RGB / 255, minus ImageNet mean, over std; shorter side to 256/224 of the size,
//                central crop (torchvision's Resize(256) + CenterCrop(224) for 224)
//   caffe        BGR in [0, 255] minus the BGR ImageNet mean, no scaling; whole image resized
//                (Keras applications' VGG16 / ResNet50 weights)
//   tf           RGB / 127.5 - 1; whole image resized (Keras MobileNet / Inception style)
// Resizing, cropping and the HWC -> CHW layout change run on the CPU (image.ts: antialiased
// bilinear, as PIL and torchvision's antialias=True): an image is a few hundred KB, and the result
// is uploaded once.
import type { Module } from '../graph/module.ts';
import { type Tensor, tensor } from '../graph/tensor.ts';
import { GraftError } from '../core/index.ts';
import { type Preprocessing, type RawImage, imageToInput } from './image.ts';

export type Convention = 'torchvision' | 'caffe' | 'tf';

export const PREPROCESSING: Readonly<Record<Convention, Preprocessing>> = Object.freeze({
  torchvision: Object.freeze({ size: [224, 224], channels: 'RGB', scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], resize: 'bilinear', crop: 'center' }) as Preprocessing,
  caffe: Object.freeze({ size: [224, 224], channels: 'BGR', scale: 1, mean: [103.939, 116.779, 123.68], std: [1, 1, 1], resize: 'bilinear', crop: 'none' }) as Preprocessing,
  tf: Object.freeze({ size: [224, 224], channels: 'RGB', scale: 1 / 127.5, mean: [1, 1, 1], std: [1, 1, 1], resize: 'bilinear', crop: 'none' }) as Preprocessing,
});

/** Interleaved 8-bit pixels; channels (3 RGB or 4 RGBA) follows from the length when omitted. */
export interface Pixels {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels?: 1 | 2 | 3 | 4;
}

/** What preprocess takes: pixels in memory, or (in a browser) anything a canvas can draw. */
export type PixelSource = Pixels | ImageData | ImageBitmap | HTMLCanvasElement | OffscreenCanvas | HTMLImageElement;

/** A model that says how its images look (VGG, ResNet, Darknet). */
export interface Preprocessed {
  preprocessing: Preprocessing;
}

function drawn(source: CanvasImageSource, width: number, height: number): RawImage {
  if (typeof OffscreenCanvas === 'undefined') throw new GraftError('preprocess: drawable images need a browser (OffscreenCanvas); pass { data, width, height } pixels instead');
  const ctx = new OffscreenCanvas(width, height).getContext('2d');
  if (!ctx) throw new GraftError('preprocess: no 2d canvas context to read pixels with');
  ctx.drawImage(source, 0, 0);
  return { data: ctx.getImageData(0, 0, width, height).data, width, height, channels: 4 };
}

function toRaw(source: PixelSource, name: string): RawImage {
  if (source && typeof source === 'object' && 'data' in source && 'width' in source && 'height' in source) {
    const { data, width, height } = source;
    const channels = 'channels' in source && source.channels !== undefined ? source.channels : data.length / (width * height);
    if (channels !== 1 && channels !== 2 && channels !== 3 && channels !== 4) {
      throw new GraftError(`preprocess: ${name} has ${data.length} bytes for ${width}x${height} pixels, neither RGB (${width * height * 3}) nor RGBA (${width * height * 4})`);
    }
    return { data, width, height, channels };
  }
  if (typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement) {
    if (!source.complete || !source.naturalWidth) throw new GraftError(`preprocess: ${name} (an <img>) has not finished loading; await img.decode() first`);
    return drawn(source, source.naturalWidth, source.naturalHeight);
  }
  const drawable = source as ImageBitmap | HTMLCanvasElement | OffscreenCanvas;
  if (!drawable || typeof drawable.width !== 'number') throw new GraftError(`preprocess: ${name} is not an image (pixels { data, width, height }, ImageData, ImageBitmap, a canvas or an <img>)`);
  return drawn(drawable, drawable.width, drawable.height);
}

/** The input values [N, 3, H, W] (flattened) of images under a preprocessing, on the CPU. */
export function preprocessPixels(preprocessing: Preprocessing, images: PixelSource | PixelSource[]): Float32Array {
  const list = Array.isArray(images) ? images : [images];
  if (!list.length) throw new GraftError('preprocess: no images');
  const [h, w] = preprocessing.size;
  const out = new Float32Array(list.length * 3 * h * w);
  list.forEach((image, i) => {
    const name = `image ${i}`;
    out.set(imageToInput(toRaw(image, name), preprocessing, name), i * 3 * h * w);
  });
  return out;
}

/**
 * Images -> the model's input [N, 3, H, W] on the model's device, resized, cropped, ordered and
 * normalised as `model.preprocessing` says. One image gives N = 1.
 */
export function preprocess(model: Module & Preprocessed, images: PixelSource | PixelSource[]): Tensor {
  const prep = model.preprocessing;
  if (!prep) throw new GraftError('preprocess: the model carries no preprocessing');
  const [first] = model.parameters();
  if (!first) throw new GraftError('preprocess: the model has no parameters, so no device to put the input on');
  const n = Array.isArray(images) ? images.length : 1;
  return tensor(first.rt, preprocessPixels(prep, images), [n, 3, prep.size[0], prep.size[1]]);
}
