// The real darknet-tiny weights in Node and in headless Chrome: model.json and shards read from disk
// (Node) or fetched from the test server's /__shared__/ (Chrome), the photos decoded by pngjs or by
// the browser, and the logits compared with TensorFlow.js's, recorded in tests/fixtures/darknet-tfjs.json
// by weights-tools/darknet-tfjs-fixture.ts (darknet-tfjs.node.test.ts checks the record is current).
import { describe, expect, it } from 'vitest';
import { scope } from '../../src/graph/tensor.ts';
import { darknetTiny } from '../../src/models/darknet.ts';
import { imageToInput, loadImage } from '../../src/models/image.ts';
import { loadStateDict } from '../../src/weights/state-dict.ts';
import { readLayersModel } from '../../src/weights/layers-model.ts';
import { read, testGpu } from '../helpers.ts';
import recorded from '../fixtures/darknet-tfjs.json';

const inBrowser = typeof window !== 'undefined';
const SHARED = inBrowser ? '/__shared__' : '../shared';
const CAT_CLASSES = ['Egyptian cat', 'tabby', 'tiger cat', 'Persian cat', 'Siamese cat'];

describe(`darknet-tiny with its ImageNet weights (${inBrowser ? 'fetched over HTTP' : 'read from disk'})`, () => {
  it('photos decode to the same pixels as pngjs gave the recorder', async () => {
    for (const image of recorded.images) {
      const raw = await loadImage(`${SHARED}/images/${image.file}`);
      expect([raw.width, raw.height]).toEqual([image.width, image.height]);
      let rgbSum = 0;
      for (let i = 0; i < raw.width * raw.height; i++) for (let c = 0; c < 3; c++) rgbSum += raw.data[i * raw.channels + c];
      expect(rgbSum).toBe(image.rgbSum);
    }
  });

  it('logits match the recorded TensorFlow.js logits (top 5 within 1e-3, same order) and cat.png is a cat', async () => {
    const gpu = await testGpu();
    const fractions: number[] = [];
    const weights = await readLayersModel(`${SHARED}/pretrained/darknet-tiny/model.json`, { onProgress: (f) => fractions.push(f) });
    expect(fractions[fractions.length - 1]).toBe(1);
    const net = darknetTiny({ gpu, init: 'zeros' }).eval();
    loadStateDict(net, weights);
    const [h, w] = net.preprocessing.size;
    const input = new Float32Array(recorded.images.length * 3 * h * w);
    for (const [i, image] of recorded.images.entries()) {
      input.set(imageToInput(await loadImage(`${SHARED}/images/${image.file}`), net.preprocessing, image.file), i * 3 * h * w);
    }
    const logits = await scope(async () => read(net.forward(gpu.tensor(input, [recorded.images.length, 3, h, w]))));
    for (const [i, image] of recorded.images.entries()) {
      const mine = logits.subarray(i * 1000, (i + 1) * 1000);
      const order = Array.from(mine.keys()).sort((a, b) => mine[b] - mine[a]);
      expect(order.slice(0, image.top.length)).toEqual(image.top.map((t) => t.index));
      for (const t of image.top) expect(Math.abs(mine[t.index] - t.logit)).toBeLessThan(1e-3);
    }
    expect(CAT_CLASSES).toContain(recorded.images.find((im) => im.file === 'cat.png')!.top[0].label);
    net.dispose();
  });
});
