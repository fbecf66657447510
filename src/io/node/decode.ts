// Node only: image decoding (PNG through pngjs, JPEG through jpeg-js) and raw deflate (node:zlib).
import zlib from 'node:zlib';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { GraftError, type RawImage } from '../../core/index.ts';
import { imageKind } from '../image.ts';

/** PNG bytes -> RawImage with the channels the file has (gray stays gray). */
function decodePng(bytes: Uint8Array, name: string): RawImage {
  let png;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    throw new GraftError(`${name}: cannot decode PNG (${(e as Error).message})`);
  }
  // pngjs always hands out RGBA; keep the channels the file really has.
  const color = (png as unknown as { color: boolean }).color;
  const alpha = (png as unknown as { alpha: boolean }).alpha;
  const channels = ((color ? 3 : 1) + (alpha ? 1 : 0)) as RawImage['channels'];
  const n = png.width * png.height;
  const data = new Uint8Array(n * channels);
  const take = color ? [0, 1, 2] : [0];
  if (alpha) take.push(3);
  for (let i = 0; i < n; i++) for (let c = 0; c < channels; c++) data[i * channels + c] = png.data[i * 4 + take[c]];
  return { data, width: png.width, height: png.height, channels };
}

/** JPEG bytes -> RGB RawImage (jpeg-js; grayscale JPEGs come out with equal R, G and B). */
function decodeJpeg(bytes: Uint8Array, name: string): RawImage {
  let img;
  try {
    img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
  } catch (e) {
    throw new GraftError(`${name}: cannot decode JPEG (${(e as Error).message})`);
  }
  const n = img.width * img.height;
  if (img.data.length !== n * 3) throw new GraftError(`${name}: cannot decode JPEG (${img.data.length} bytes for ${img.width}x${img.height} pixels)`);
  return { data: img.data, width: img.width, height: img.height, channels: 3 };
}

export async function decodeImage(bytes: Uint8Array, name: string): Promise<RawImage> {
  const kind = imageKind(bytes);
  if (kind === 'png') return decodePng(bytes, name);
  if (kind === 'jpeg') return decodeJpeg(bytes, name);
  const head = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new GraftError(`${name}: not a PNG or JPEG image (first bytes ${head || 'none: empty file'})`);
}

export async function inflateRaw(bytes: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  try {
    return new Uint8Array(zlib.inflateRawSync(bytes, { maxOutputLength: Math.max(1, maxBytes) }));
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) throw new Error(`inflates to more than ${maxBytes} bytes`);
    throw e;
  }
}

/** zlib's native CRC-32 (Node >= 20.15 / 22.2), or undefined where this Node lacks it. */
export const crc32: ((bytes: Uint8Array) => number) | undefined = (zlib as unknown as { crc32?: (b: Uint8Array) => number }).crc32;
