// Writes data/fashion-mnist/: a class-balanced, seeded subset of Fashion-MNIST (MIT licence, from
// Debian's dataset-fashion-mnist) in the original IDX format, gzipped. Run by hand:
//   node weights-tools/make-fashion-subset.js [/usr/share/datasets/fashion-mnist] [perClassTrain] [perClassTest]
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const src = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const perTrain = Number(process.argv[3] ?? 300);
const perTest = Number(process.argv[4] ?? 100);
const out = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'data', 'fashion-mnist');

function readIdx(file) {
  const buf = zlib.gunzipSync(fs.readFileSync(path.join(src, file)));
  const dims = buf[3];
  const shape = [];
  for (let i = 0; i < dims; i++) shape.push(buf.readUInt32BE(4 + 4 * i));
  return { shape, data: buf.subarray(4 + 4 * dims) };
}

function writeIdx(file, shape, data) {
  const header = Buffer.alloc(4 + 4 * shape.length);
  header[2] = 0x08; // unsigned byte
  header[3] = shape.length;
  shape.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  fs.writeFileSync(path.join(out, file), zlib.gzipSync(Buffer.concat([header, data]), { level: 9 }));
}

function subset(prefix, perClass, seed) {
  const images = readIdx(`${prefix}-images-idx3-ubyte.gz`);
  const labels = readIdx(`${prefix}-labels-idx1-ubyte.gz`);
  const [n, h, w] = images.shape;
  let s = seed;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const order = [...Array(n).keys()];
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const taken = new Array(10).fill(0);
  const pick = [];
  for (const i of order) if (taken[labels.data[i]] < perClass) (taken[labels.data[i]]++, pick.push(i));
  const img = Buffer.alloc(pick.length * h * w);
  const lab = Buffer.alloc(pick.length);
  pick.forEach((i, k) => {
    images.data.copy(img, k * h * w, i * h * w, (i + 1) * h * w);
    lab[k] = labels.data[i];
  });
  writeIdx(`${prefix}-images-idx3-ubyte.gz`, [pick.length, h, w], img);
  writeIdx(`${prefix}-labels-idx1-ubyte.gz`, [pick.length], lab);
  return pick.length;
}

fs.mkdirSync(out, { recursive: true });
const a = subset('train', perTrain, 1);
const b = subset('t10k', perTest, 2);
console.log(`wrote ${a} training and ${b} test images to ${out}`);
