// Fashion-MNIST images as a user's image folder: <dir>/<class>/<n>.png (28x28 RGB PNGs), the first
// `perClass` images of each chosen class (gray, stored as RGB as photos are) of data/fashion-mnist's training split. Used by the package
// test (the README's fine-tuning example) and the demo's end-to-end test (uploaded to the page).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { PNG } from 'pngjs';

const DATA = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../data/fashion-mnist');
export const FASHION_NAMES = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot'];

/** Writes the images (after the first `skip` of each class); returns the file paths by class name. */
export function writeFashionPngs(dir: string, classes: number[], perClass: number, skip = 0): Record<string, string[]> {
  const images = zlib.gunzipSync(fs.readFileSync(path.join(DATA, 'train-images-idx3-ubyte.gz')));
  const labels = zlib.gunzipSync(fs.readFileSync(path.join(DATA, 'train-labels-idx1-ubyte.gz')));
  if (images.readUInt32BE(0) !== 0x803 || labels.readUInt32BE(0) !== 0x801) throw new Error('data/fashion-mnist: not IDX image/label files');
  const [rows, cols] = [images.readUInt32BE(8), images.readUInt32BE(12)];
  const out: Record<string, string[]> = {};
  for (const c of classes) {
    const name = FASHION_NAMES[c];
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    out[name] = [];
    let seen = 0;
    for (let i = 0; i < labels.length - 8 && out[name].length < perClass; i++) {
      if (labels[8 + i] !== c || seen++ < skip) continue;
      const gray = images.subarray(16 + i * rows * cols, 16 + (i + 1) * rows * cols);
      const png = new PNG({ width: cols, height: rows, colorType: 2, inputColorType: 2, bitDepth: 8, inputHasAlpha: false });
      png.data = Buffer.alloc(rows * cols * 3);
      gray.forEach((v, k) => png.data.fill(v, 3 * k, 3 * k + 3));
      const file = path.join(dir, name, `${i}.png`);
      fs.writeFileSync(file, PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false }));
      out[name].push(file);
    }
  }
  return out;
}
