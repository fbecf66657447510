// PNG decoding in Node (pngjs): every colour type keeps its channels; other files fail by name.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG, type ColorType } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodeImage, loadImage } from '../../src/models/image.ts';
import { randArray } from '../helpers.ts';

/** Encode RGBA pixels as a PNG of the given colour type (pngjs converts on the way out). */
function encode(rgba: Uint8Array, width: number, height: number, colorType: ColorType): Uint8Array {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba);
  return new Uint8Array(PNG.sync.write(png, { colorType }));
}

describe('decodeImage (Node)', () => {
  const [w, h] = [5, 3];
  const rgba = Uint8Array.from(randArray(w * h * 4, 1, 0, 256), Math.floor);
  const gray = Uint8Array.from({ length: w * h * 4 }, (_, i) => (i % 4 === 3 ? rgba[i] : rgba[i - (i % 4)]));
  // pngjs blends translucent pixels into a background when it writes a type without alpha.
  const opaque = (px: Uint8Array) => px.map((v, i) => (i % 4 === 3 ? 255 : v));

  it('keeps RGB, RGBA, gray and gray + alpha as 3, 4, 1 and 2 channels', async () => {
    const cases: [ColorType, Uint8Array, number, number[]][] = [
      [2, opaque(rgba), 3, [0, 1, 2]],
      [6, rgba, 4, [0, 1, 2, 3]],
      [0, opaque(gray), 1, [0]],
      [4, gray, 2, [0, 3]],
    ];
    for (const [type, src, channels, take] of cases) {
      const img = await decodeImage(encode(src, w, h, type), `type${type}.png`);
      expect([img.width, img.height, img.channels]).toEqual([w, h, channels]);
      const want = Array.from({ length: w * h * channels }, (_, i) => src[Math.floor(i / channels) * 4 + take[i % channels]]);
      expect(Array.from(img.data)).toEqual(want);
    }
  });

  it('loads from a path; a missing file, JPEG bytes, text and a truncated PNG fail with the name', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-image-'));
    const file = path.join(dir, 'a.png');
    const bytes = encode(rgba, w, h, 2);
    fs.writeFileSync(file, bytes);
    expect((await loadImage(file)).channels).toBe(3);
    await expect(loadImage(path.join(dir, 'missing.png'))).rejects.toThrow(/no such file: .*missing\.png/);
    await expect(decodeImage(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0]), 'photo.jpg')).rejects.toThrow(/photo\.jpg: cannot decode JPEG/);
    await expect(decodeImage(new TextEncoder().encode('hello'), 'notes.txt')).rejects.toThrow(/notes\.txt: not a PNG or JPEG image \(first bytes 68 65 6c 6c\)/);
    await expect(decodeImage(bytes.subarray(0, 40), 'cut.png')).rejects.toThrow(/cut\.png: cannot decode PNG/);
    fs.rmSync(dir, { recursive: true });
  });

  it('decodes a JPEG in Node: RGB pixels close to what was encoded (quality 100)', async () => {
    const { default: jpeg } = await import('jpeg-js');
    const [jw, jh] = [16, 12];
    const pixels = new Uint8Array(jw * jh * 4);
    for (let y = 0; y < jh; y++)
      for (let x = 0; x < jw; x++) pixels.set([x * 15, y * 20, 128, 255], (y * jw + x) * 4);
    const encoded = jpeg.encode({ data: pixels, width: jw, height: jh }, 100).data;
    const img = await decodeImage(new Uint8Array(encoded), 'smooth.jpg');
    expect([img.width, img.height, img.channels]).toEqual([jw, jh, 3]);
    let worst = 0;
    for (let i = 0; i < jw * jh; i++) for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(img.data[i * 3 + c] - pixels[i * 4 + c]));
    expect(worst).toBeLessThanOrEqual(8);
  });
});
