// Images at the edge of the engine: decode (PNG in Node through pngjs; anything the browser decodes
// through createImageBitmap), resize, and turn into a model's input [N, 3, H, W] as its
// `preprocessing` describes.
//
// Layouts: a RawImage is interleaved HWC bytes, `data[(y * width + x) * channels + c]`; a model
// input is planar CHW float32 per image, `input[(c * H + y) * W + x]`.
import type { Gpu } from '../graph/gpu.ts';
import type { Tensor } from '../graph/tensor.ts';
import { GraftError } from '../core/index.ts';
import { readSource } from './weights/source.ts';

/** Decoded pixels: 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) interleaved 8-bit channels. */
export interface RawImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

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

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

function checkRaw(img: RawImage, name: string): void {
  const { width, height, channels, data } = img;
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) throw new GraftError(`${name}: image size ${width}x${height} is not positive`);
  if (![1, 2, 3, 4].includes(channels)) throw new GraftError(`${name}: ${channels} channels per pixel; images have 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA)`);
  if (data.length !== width * height * channels) throw new GraftError(`${name}: ${data.length} bytes for a ${width}x${height} image of ${channels} channels (expected ${width * height * channels})`);
}

type PngModule = { PNG: { sync: { read(b: Uint8Array): { width: number; height: number; data: Uint8Array; color: boolean; alpha: boolean } } } };

/** PNG bytes -> RawImage in Node (pngjs), with the channels the file has (gray stays gray). */
async function decodePngNode(bytes: Uint8Array, name: string): Promise<RawImage> {
  const moduleName = 'pngjs';
  const mod = (await import(/* @vite-ignore */ moduleName)) as PngModule & { default?: PngModule };
  const { PNG } = mod.PNG ? mod : mod.default!;
  let png;
  try {
    png = PNG.sync.read(bytes instanceof Buffer ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    throw new GraftError(`${name}: cannot decode PNG (${(e as Error).message})`);
  }
  // pngjs always hands out RGBA; keep the channels the file really has.
  const channels = ((png.color ? 3 : 1) + (png.alpha ? 1 : 0)) as RawImage['channels'];
  const n = png.width * png.height;
  const data = new Uint8Array(n * channels);
  const take = png.color ? [0, 1, 2] : [0];
  if (png.alpha) take.push(3);
  for (let i = 0; i < n; i++) for (let c = 0; c < channels; c++) data[i * channels + c] = png.data[i * 4 + take[c]];
  return { data, width: png.width, height: png.height, channels };
}

/** Pixels of anything a canvas can draw (browser), as RGBA. */
function drawToRaw(source: CanvasImageSource, width: number, height: number): RawImage {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new GraftError('image: no 2d canvas context to read pixels with');
  ctx.drawImage(source, 0, 0);
  return { data: ctx.getImageData(0, 0, width, height).data, width, height, channels: 4 };
}

/** Encoded image bytes (PNG in Node; PNG, JPEG, WebP, ... in a browser) -> RawImage. */
export async function decodeImage(bytes: Uint8Array, name = '<bytes>'): Promise<RawImage> {
  const png = bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const jpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (isNode) {
    if (png) return decodePngNode(bytes, name);
    if (jpeg) throw new GraftError(`${name}: JPEG images cannot be decoded in Node by Graft; convert it to PNG (in a browser, JPEG works)`);
    throw new GraftError(`${name}: not a PNG image (first bytes ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ') || 'none: empty file'})`);
  }
  let bitmap: ImageBitmap;
  try {
    // The file's own values: no colour-profile conversion (Node's pngjs does none either).
    bitmap = await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>]), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (e) {
    throw new GraftError(`${name}: the browser cannot decode this image (${(e as Error).message})`);
  }
  const raw = drawToRaw(bitmap, bitmap.width, bitmap.height);
  bitmap.close();
  return raw;
}

export type ImageInput = string | URL | Uint8Array | RawImage | ImageData | ImageBitmap | HTMLImageElement | HTMLCanvasElement | OffscreenCanvas;

/** Any image source -> RawImage: a path (Node) or URL, encoded bytes, ImageData, or a drawable. */
export async function loadImage(source: ImageInput, name?: string): Promise<RawImage> {
  if (typeof source === 'string' || source instanceof URL) return decodeImage(await readSource(source, { cache: false }), name ?? String(source));
  if (source instanceof Uint8Array) return decodeImage(source, name);
  if (typeof ImageData !== 'undefined' && source instanceof ImageData) return { data: source.data, width: source.width, height: source.height, channels: 4 };
  if ('channels' in source && 'data' in source) {
    checkRaw(source, name ?? 'image');
    return source;
  }
  if (typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement) {
    if (!source.complete) await source.decode();
    return drawToRaw(source, source.naturalWidth, source.naturalHeight);
  }
  const drawable = source as ImageBitmap | HTMLCanvasElement | OffscreenCanvas;
  return drawToRaw(drawable, drawable.width, drawable.height);
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
