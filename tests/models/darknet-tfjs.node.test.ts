// Darknet tiny with its real ImageNet weights (../shared/pretrained/darknet-tiny, a TF.js
// LayersModel) against TensorFlow.js itself: tfjs-layers loads the same model.json on its CPU
// backend, both get the same preprocessed photos, and the logits must agree.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import * as ops from '../../src/graph/ops.ts';
import { scope } from '../../src/graph/tensor.ts';
import { darknetTiny, type DarknetTiny } from '../../src/models/darknet.ts';
import { imageToInput, loadImage } from '../../src/models/image.ts';
import { loadStateDict } from '../../src/weights/state-dict.ts';
import { readLayersModel } from '../../src/weights/layers-model.ts';
import { randArray, read, testGpu } from '../helpers.ts';
import recorded from '../fixtures/darknet-tfjs.json';

const WEIGHTS = '../shared/pretrained/darknet-tiny';
const IMAGES = '../shared/images';
const LOGIT_TOL = 1e-3;
const CAT_CLASSES = ['Egyptian cat', 'tabby', 'tiger cat', 'Persian cat', 'Siamese cat'];

const labels = fs.readFileSync(path.join(WEIGHTS, 'labels.txt'), 'utf8').trim().split('\n');
const photos = fs.readdirSync(IMAGES).filter((f) => f.endsWith('.png')).sort();

/**
 * tfjs-layers model from the files, through an IOHandler that reads them with fs (no network). The
 * input layer's fixed 224x224 is opened to any H, W (the weights do not depend on it).
 */
async function tfjsModel(): Promise<tfl.LayersModel> {
  await tf.setBackend('cpu');
  const json = JSON.parse(fs.readFileSync(path.join(WEIGHTS, 'model.json'), 'utf8'));
  const input = json.modelTopology.model_config.config.layers[0];
  expect(input.config.batch_input_shape).toEqual([null, 224, 224, 3]);
  input.config.batch_input_shape = [null, null, null, 3];
  const groups: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] = json.weightsManifest;
  const bytes = Buffer.concat(groups.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(WEIGHTS, p)))));
  const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  return tfl.loadLayersModel({ load: async () => ({ modelTopology: json.modelTopology, weightSpecs: groups.flatMap((g) => g.weights), weightData }) });
}

/** CHW images [N, 3, H, W] -> TF's NHWC. */
function toNhwc(chw: Float32Array, n: number, h: number, w: number): tf.Tensor4D {
  const out = new Float32Array(chw.length);
  for (let b = 0; b < n; b++) for (let c = 0; c < 3; c++) for (let i = 0; i < h * w; i++) out[(b * h * w + i) * 3 + c] = chw[(b * 3 + c) * h * w + i];
  return tf.tensor4d(out, [n, h, w, 3]);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const argmax = (v: ArrayLike<number>) => Array.from(v).reduce((best, x, i, all) => (x > all[best] ? i : best), 0);

let setup: Promise<{ net: DarknetTiny; reference: tfl.LayersModel }> | null = null;
function models() {
  setup ??= (async () => {
    const gpu = await testGpu();
    const net = darknetTiny({ gpu }).eval();
    loadStateDict(net, await readLayersModel(WEIGHTS), { source: WEIGHTS });
    return { net, reference: await tfjsModel() };
  })();
  return setup;
}

describe('darknet-tiny with ImageNet weights vs TensorFlow.js', () => {
  it(`logits on every photo match tfjs-layers within ${LOGIT_TOL} (224x224, batch of ${photos.length})`, async () => {
    const { net, reference } = await models();
    const gpu = await testGpu();
    const [h, w] = net.preprocessing.size;
    const input = new Float32Array(photos.length * 3 * h * w);
    for (const [i, f] of photos.entries()) input.set(imageToInput(await loadImage(path.join(IMAGES, f)), net.preprocessing, f), i * 3 * h * w);
    const ours = await scope(async () => read(net.forward(gpu.tensor(input, [photos.length, 3, h, w]))));
    const theirs = tf.tidy(() => reference.predict(toNhwc(input, photos.length, h, w)) as tf.Tensor).dataSync();
    expect(ours.length).toBe(photos.length * 1000);
    for (const [i, f] of photos.entries()) {
      const a = ours.subarray(i * 1000, (i + 1) * 1000);
      const b = theirs.subarray(i * 1000, (i + 1) * 1000);
      const diff = maxAbsDiff(a, b);
      console.log(`${f}: max |logit - tfjs| = ${diff.toExponential(2)}, top-1 ${labels[argmax(a)]}`);
      expect(diff, `${f}: max |logit - tfjs| = ${diff}`).toBeLessThan(LOGIT_TOL);
      expect(argmax(a)).toBe(argmax(b));
    }
    // The record the Chrome run compares with (darknet-pretrained.test.ts) is still what tfjs computes.
    expect(recorded.preprocessing).toEqual({ ...net.preprocessing });
    for (const image of recorded.images) {
      const i = photos.indexOf(image.file);
      for (const t of image.top) expect(Math.abs(theirs[i * 1000 + t.index] - t.logit)).toBeLessThan(1e-5);
    }
  });

  it('cat.png is a cat and grace_hopper.png a bow tie or military uniform (top-1)', async () => {
    const { net } = await models();
    const gpu = await testGpu();
    await scope(async () => {
      const images = await Promise.all(['cat.png', 'grace_hopper.png'].map(async (f) => imageToInput(await loadImage(path.join(IMAGES, f)), net.preprocessing, f)));
      const [h, w] = net.preprocessing.size;
      const x = gpu.tensor(new Float32Array([...images[0], ...images[1]]), [2, 3, h, w]);
      const probs = await read(ops.softmax(net.forward(x)));
      const cat = labels[argmax(probs.subarray(0, 1000))];
      const grace = labels[argmax(probs.subarray(1000))];
      expect(CAT_CLASSES).toContain(cat);
      expect(['bow tie', 'military uniform']).toContain(grace);
    });
  });

  it("an odd-sized input (3x101x75) matches tfjs: 'same' pooling pads the bottom/right", async () => {
    const { net, reference } = await models();
    const gpu = await testGpu();
    const [h, w] = [101, 75]; // pooled: 51x38 -> 26x19 -> 13x10 -> 7x5, odd sizes at every stage
    const input = Float32Array.from(randArray(2 * 3 * h * w, 7, 0, 1));
    const ours = await scope(async () => read(net.forward(gpu.tensor(input, [2, 3, h, w]))));
    const theirs = tf.tidy(() => reference.predict(toNhwc(input, 2, h, w)) as tf.Tensor).dataSync();
    const diff = maxAbsDiff(ours, theirs);
    expect(diff, `max |logit - tfjs| = ${diff}`).toBeLessThan(LOGIT_TOL);
  });

  it('without the top, forward gives the pooled features: the mean of tfjs\'s last LeakyReLU output', async () => {
    const { reference } = await models();
    const gpu = await testGpu();
    const base = darknetTiny({ gpu, includeTop: false }).eval();
    const all = await readLayersModel(WEIGHTS);
    for (const k of [...all.keys()]) if (k.startsWith('classifier.')) all.delete(k);
    loadStateDict(base, all);
    const [h, w] = [64, 48];
    const input = Float32Array.from(randArray(3 * h * w, 8, 0, 1));
    const ours = await scope(async () => read(base.forward(gpu.tensor(input, [1, 3, h, w]))));
    const theirs = tf.tidy(() => {
      const trunk = tfl.model({ inputs: reference.inputs, outputs: reference.getLayer('leaky_re_lu_15').output as tfl.SymbolicTensor });
      return tf.mean(trunk.predict(toNhwc(input, 1, h, w)) as tf.Tensor, [1, 2]);
    }).dataSync();
    expect(ours.length).toBe(128);
    const diff = maxAbsDiff(ours, theirs);
    expect(diff, `max |feature - tfjs| = ${diff}`).toBeLessThan(1e-4);
    base.dispose();
  });
});
