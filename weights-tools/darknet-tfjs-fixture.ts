// Generator (run by hand; its output is committed): TensorFlow.js's logits for two photos through
// the real darknet-tiny LayersModel, small enough to commit, for the tests that cannot run tfjs
// (headless Chrome). Also the decoded pixels' sums, to check that a browser decodes the PNGs to
// the same bytes as pngjs in Node.
//   node --import ./scripts/register.js weights-tools/darknet-tfjs-fixture.ts
// writes tests/fixtures/darknet-tfjs.json. tests/models/darknet-tfjs.node.test.ts checks that it
// still matches what tfjs-layers computes.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { DARKNET_PREPROCESSING } from '../src/models/darknet.ts';
import { imageToInput, loadImage } from '../src/models/image.ts';

const WEIGHTS = '../shared/pretrained/darknet-tiny';
const IMAGES = ['cat.png', 'grace_hopper.png'];
const TOP = 5;

await tf.setBackend('cpu');
const json = JSON.parse(fs.readFileSync(path.join(WEIGHTS, 'model.json'), 'utf8'));
const groups: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] = json.weightsManifest;
const bytes = Buffer.concat(groups.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(WEIGHTS, p)))));
const model = await tfl.loadLayersModel({
  load: async () => ({ modelTopology: json.modelTopology, weightSpecs: groups.flatMap((g) => g.weights), weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) }),
});
const labels = fs.readFileSync(path.join(WEIGHTS, 'labels.txt'), 'utf8').trim().split('\n');
const [h, w] = DARKNET_PREPROCESSING.size;

const images = [];
for (const file of IMAGES) {
  const raw = await loadImage(path.join('../shared/images', file));
  const chw = imageToInput(raw, DARKNET_PREPROCESSING, file);
  const nhwc = new Float32Array(chw.length);
  for (let c = 0; c < 3; c++) for (let i = 0; i < h * w; i++) nhwc[i * 3 + c] = chw[c * h * w + i];
  const logits = Array.from((model.predict(tf.tensor4d(nhwc, [1, h, w, 3])) as tf.Tensor).dataSync());
  const order = logits.map((_, i) => i).sort((a, b) => logits[b] - logits[a]);
  let rgbSum = 0;
  for (let i = 0; i < raw.width * raw.height; i++) for (let c = 0; c < 3; c++) rgbSum += raw.data[i * raw.channels + c];
  images.push({
    file,
    width: raw.width,
    height: raw.height,
    rgbSum,
    top: order.slice(0, TOP).map((index) => ({ index, label: labels[index], logit: logits[index] })),
  });
}
const out = { generator: 'weights-tools/darknet-tfjs-fixture.ts', tfjs: tf.version_core, backend: tf.getBackend(), preprocessing: DARKNET_PREPROCESSING, images };
fs.writeFileSync('tests/fixtures/darknet-tfjs.json', JSON.stringify(out, null, 1) + '\n');
console.log(JSON.stringify(images.map((i) => [i.file, i.top[0].label, i.top[0].logit])));
