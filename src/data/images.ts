// Image datasets from decoded images: ImageBitmaps, <img>/<canvas> elements or ImageData in a
// browser, RawImages or encoded bytes anywhere (decoding through src/models/image.ts). Every image
// must have the dataset's size and channel count (alpha is dropped): a mismatch is an error that
// names the image, since silently resizing would train on something else than the user thinks --
// unless the caller asks for it (imageFolder's `size`, Keras's image_size): then each image is
// resized (bilinear) and converted (gray -> RGB by copying, RGB -> gray by ITU-R 601 luma, as PIL).
import { GraftError } from '../core/index.ts';
import { type ImageInput, type RawImage, loadImage, resizeBilinear } from '../models/image.ts';
import { ArrayDataset } from './data.ts';

/** Colour channels of an image, alpha not counted: 1 (gray) or 3 (RGB). */
export function colorChannels(raw: RawImage): 1 | 3 {
  return raw.channels <= 2 ? 1 : 3;
}

export interface ImageCheck {
  channels: 1 | 3;
  /** [height, width]. */
  size: [number, number];
  /** Resize an image of another size to `size` instead of refusing it. */
  resize?: boolean;
  /** Convert gray <-> RGB instead of refusing a channel mismatch (alpha is always dropped). */
  convert?: boolean;
}

/** The colour channels (alpha dropped) as `channels`, HWC floats: gray copied to RGB, RGB to luma. */
function convertChannels(raw: RawImage, channels: 1 | 3): Float32Array {
  const n = raw.width * raw.height;
  const out = new Float32Array(n * channels);
  const has = colorChannels(raw);
  for (let i = 0; i < n; i++) {
    const at = i * raw.channels;
    if (channels === 3) for (let c = 0; c < 3; c++) out[i * 3 + c] = raw.data[at + (has === 3 ? c : 0)];
    else out[i] = has === 1 ? raw.data[at] : 0.299 * raw.data[at] + 0.587 * raw.data[at + 1] + 0.114 * raw.data[at + 2];
  }
  return out;
}

/** An image at `want`'s size and channel count: resized (bilinear, half-pixel centres) and converted. */
export function fitImage(raw: RawImage, want: { channels: 1 | 3; size: [number, number] }): RawImage {
  const [h, w] = want.size;
  if (raw.height === h && raw.width === w && raw.channels === want.channels) return raw;
  let values = convertChannels(raw, want.channels);
  if (raw.height !== h || raw.width !== w) values = resizeBilinear(values, raw.height, raw.width, want.channels, h, w);
  const data = new Uint8ClampedArray(values.length);
  for (let i = 0; i < values.length; i++) data[i] = Math.round(values[i]);
  return { data, width: w, height: h, channels: want.channels };
}

/** One image's pixels as CHW bytes, after checking its size and channels. */
export function imageToChw(raw: RawImage, name: string, want: ImageCheck): Uint8Array {
  const [h, w] = want.size;
  if ((want.resize && (raw.height !== h || raw.width !== w)) || (want.convert && colorChannels(raw) !== want.channels)) {
    raw = fitImage(raw, { channels: want.convert ? want.channels : colorChannels(raw), size: want.resize ? want.size : [raw.height, raw.width] });
  }
  if (raw.height !== h || raw.width !== w) throw new GraftError(`${name}: image is ${raw.width}x${raw.height} (WxH), expected ${w}x${h} like the others`);
  const has = colorChannels(raw);
  if (has !== want.channels) {
    const say = (c: number) => (c === 1 ? '1 channel (grayscale)' : `${c} channels (RGB)`);
    throw new GraftError(`${name}: image has ${say(has)}, expected ${say(want.channels)}`);
  }
  const out = new Uint8Array(want.channels * h * w);
  const plane = h * w;
  for (let i = 0; i < plane; i++) for (let c = 0; c < want.channels; c++) out[c * plane + i] = raw.data[i * raw.channels + c];
  return out;
}

export interface ImageDatasetOptions {
  /** Default: those of the first image. */
  channels?: 1 | 3;
  size?: [number, number];
  numClasses?: number;
  classNames?: readonly string[];
  /** Names of the images for errors (file names); default `image i`. */
  names?: readonly string[];
  name?: string;
}

/** A dataset of decoded images with labels (browser ImageBitmaps, ImageData, RawImages, bytes, paths). */
export async function imageDataset(sources: readonly ImageInput[], labels: ArrayLike<number>, o: ImageDatasetOptions = {}): Promise<ArrayDataset> {
  const name = o.name ?? 'imageDataset';
  if (sources.length === 0) throw new GraftError(`${name}: no images (the dataset is empty)`);
  if (sources.length !== labels.length) throw new GraftError(`${name}: ${sources.length} images but ${labels.length} labels`);
  const names = o.names ?? sources.map((s, i) => (typeof s === 'string' ? s : `image ${i}`));
  let want: ImageCheck | null = null;
  let pixels: Uint8Array | null = null;
  for (const [i, source] of sources.entries()) {
    const raw = await loadImage(source, names[i]);
    want ??= { channels: o.channels ?? colorChannels(raw), size: o.size ?? [raw.height, raw.width] };
    const chw = imageToChw(raw, names[i], want);
    pixels ??= new Uint8Array(sources.length * chw.length);
    pixels.set(chw, i * chw.length);
  }
  return new ArrayDataset({ images: pixels!, labels, shape: [want!.channels, want!.size[0], want!.size[1]], numClasses: o.numClasses, classNames: o.classNames, itemNames: names, name });
}
