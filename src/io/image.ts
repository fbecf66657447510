// Images at the edge of the engine: any image source -> RawImage pixels. In a browser anything it
// decodes (createImageBitmap); in Node PNG and JPEG through the NodeHost (pngjs, jpeg-js).
//
// Layout: a RawImage is interleaved HWC bytes, `data[(y * width + x) * channels + c]`.
import { GraftError, type RawImage } from '../core/index.ts';

export type { RawImage };
import { hasNodeHost, inNode, nodeHost } from './host.ts';
import { readSource } from './source.ts';

export function checkRaw(img: RawImage, name: string): void {
  const { width, height, channels, data } = img;
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) throw new GraftError(`${name}: image size ${width}x${height} is not positive`);
  if (![1, 2, 3, 4].includes(channels)) throw new GraftError(`${name}: ${channels} channels per pixel; images have 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA)`);
  if (data.length !== width * height * channels) throw new GraftError(`${name}: ${data.length} bytes for a ${width}x${height} image of ${channels} channels (expected ${width * height * channels})`);
}

/** The container format from the first bytes. */
export function imageKind(bytes: Uint8Array): 'png' | 'jpeg' | null {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

/** Pixels of anything a canvas can draw (browser), as RGBA. */
function drawToRaw(source: CanvasImageSource, width: number, height: number): RawImage {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new GraftError('image: no 2d canvas context to read pixels with');
  ctx.drawImage(source, 0, 0);
  return { data: ctx.getImageData(0, 0, width, height).data, width, height, channels: 4 };
}

/** Encoded image bytes (PNG or JPEG in Node; PNG, JPEG, WebP, ... in a browser) -> RawImage. */
export async function decodeImage(bytes: Uint8Array, name = '<bytes>'): Promise<RawImage> {
  if (inNode || hasNodeHost()) return nodeHost(`decoding ${name}`).decodeImage(bytes, name);
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

