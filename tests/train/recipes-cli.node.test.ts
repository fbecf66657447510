// `graft finetune` on a tiny generated folder of PNGs per class, and bad input through the training
// commands: each surfaces as one line naming the problem (no stack trace), exit code 1 (2 for usage).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { classify } from '../../src/cli/classify.ts';
import { finetune } from '../../src/cli/finetune.ts';
import { loadModel } from '../../src/models/saved.ts';
import { testGpu } from '../helpers.ts';
import { mainJob } from '../../src/cli/main-job.ts';
import { readSafetensors } from '../../src/weights/safetensors.ts';

const WEIGHTS = '../shared/pretrained/darknet-tiny';
const hasWeights = fs.existsSync(path.join(WEIGHTS, 'model.json'));
const noWeights = hasWeights ? '' : ` (skipped: ${WEIGHTS}/model.json is not here)`;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-finetune-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A w x h PNG: a bright band at the top (class 'top') or bottom ('bottom') over noise; RGB or gray. */
function writePng(file: string, w: number, h: number, top: boolean, seed: number, gray = false): void {
  const png = new PNG({ width: w, height: h, colorType: gray ? 0 : 2, inputColorType: 6, inputHasAlpha: true });
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const band = top ? y < h / 2 : y >= h / 2;
      const v = (band ? 180 : 20) + ((x * 31 + y * 17 + seed * 13) % 50);
      png.data.set([v, v, v, 255], (y * w + x) * 4);
    }
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, PNG.sync.write(png, { colorType: gray ? 0 : 2, inputColorType: 6 }));
}

function imagesFolder(name: string, perClass: number, edit?: (dir: string) => void): string {
  const dir = path.join(root, name);
  for (const cls of ['bottom', 'top']) for (let i = 0; i < perClass; i++) writePng(path.join(dir, cls, `${i}.png`), 12, 12, cls === 'top', i);
  edit?.(dir);
  return dir;
}

async function run(command: (argv: string[], io: { out(t: string): void; err(t: string): void }) => Promise<number>, argv: string[]) {
  let out = '';
  let err = '';
  const code = await command(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

const expectOneLine = (err: string, pattern: RegExp) => {
  const lines = err.trim().split('\n');
  expect(lines[0]).toMatch(pattern);
  expect(err).not.toMatch(/\n\s+at /); // no stack trace
};

describe('graft finetune', () => {
  (hasWeights ? it : it.skip)(`staged fine-tuning of darknet-tiny on a folder of PNGs: phases, per-epoch table, report and saved weights${noWeights}`, async () => {
    // As people have them: PNG and JPEG, mixed sizes, one gray.
    const data = imagesFolder('ok', 6, (dir) => {
      writePng(path.join(dir, 'top', 'wide-gray.png'), 20, 14, true, 7, true);
      const pixels = Buffer.alloc(9 * 15 * 4);
      for (let i = 0; i < 9 * 15; i++) pixels.set(i < 9 * 7 ? [30, 30, 30, 255] : [200, 200, 200, 255], i * 4);
      fs.writeFileSync(path.join(dir, 'bottom', 'photo.jpg'), jpeg.encode({ data: pixels, width: 9, height: 15 }, 90).data);
    });
    const out = path.join(root, 'report');
    const save = path.join(root, 'tuned.safetensors');
    const r = await run(finetune, ['--model', 'darknet-tiny', '--weights', WEIGHTS, '--data', data, '--epochs', '2', '--recipe', 'staged', '--size', '16', '--batch-size', '4', '--val-fraction', '0.34', '--out', out, '--save', save, '--no-png']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('2 classes (bottom, top), 10 training / 4 validation images, resized to 16x16 on load');
    expect(r.out).toMatch(/phase 1: training from classifier \(258 parameters\) for 1 epoch, on features computed once in [\d.]+ s/);
    expect(r.out).toMatch(/phase 2: training from the input \([\d,]+ parameters\) for 2 epochs\n/);
    expect(r.out).toMatch(/\nepoch +loss +acc +val_loss +val_acc +lr +time\n +1 .*\n +2 .*\n +3 .*\n/);
    for (const f of ['comparison.md', 'comparison.json', 'loss.svg', 'accuracy.svg', 'index.html']) expect(fs.existsSync(path.join(out, f))).toBe(true);
    const saved = await readSafetensors(save);
    expect(saved.tensors.get('classifier.weight')!.shape).toEqual([2, 128]);
    expect(saved.metadata['graft.classes']).toBe('["bottom","top"]');
    expect(saved.metadata['graft.arch']).toBe('darknet-tiny');
    expect(JSON.parse(saved.metadata['graft.preprocessing']).size).toEqual([16, 16]);

    // The round trip: classify reads the tuned model back without --model or labels, and agrees
    // with the network that was trained (its validation accuracy from the same images).
    const top = path.join(data, 'top', '0.png');
    const bottom = path.join(data, 'bottom', '0.png');
    const c = await run(classify, ['--weights', save, '--json', '--top', '2', top, bottom]);
    expect(c.err).toBe('');
    expect(c.code).toBe(0);
    const json = JSON.parse(c.out);
    expect(json.model).toBe('darknet-tiny');
    expect(json.labels).toEqual(['bottom', 'top']);
    for (const res of json.results) {
      expect(res.probabilities).toHaveLength(2);
      expect(res.top.map((t: { label: string }) => t.label).sort()).toEqual(['bottom', 'top']);
    }
    const wrong = await run(classify, ['--model', 'resnet18', '--weights', save, top]);
    expect(wrong.code).toBe(1);
    expectOneLine(wrong.err, /^graft classify: --model resnet18, but .*tuned\.safetensors holds a tuned darknet-tiny/);
    // loadModel (the library's way) builds the same 2-class network with its labels and preprocessing.
    const gpu = await testGpu();
    const net = await loadModel(save, { gpu });
    try {
      expect(net.arch).toBe('darknet-tiny');
      expect(net.labels).toEqual(['bottom', 'top']);
      expect(net.preprocessing.size).toEqual([16, 16]);
      const x = gpu.tensor(new Float32Array(2 * 3 * 16 * 16), [2, 3, 16, 16]);
      const p = await net.predict(x, { top: 1 });
      expect(p[0].probabilities).toHaveLength(2);
    } finally {
      net.dispose();
    }
  }, 90_000);

  it('usage errors exit 2 in one line; --help exits 0', async () => {
    const r = await run(finetune, ['--model', 'darknet-tiny', '--data', 'x', '--recipe', 'everything']);
    expect(r.code).toBe(2);
    expect(r.err).toBe("graft finetune: unknown --recipe 'everything' (recipes: feature-extraction, full, partial, staged, hybrid) (graft finetune --help lists the options)\n");
    expect((await run(finetune, ['--model', 'darknet-tiny', '--data', 'x', '--epochs', '0'])).err).toMatch(/^graft finetune: --epochs must be a positive integer, got '0'/);
    expect((await run(finetune, ['--help'])).code).toBe(0);
  });

  it('bad data: an empty folder, a folder without images, a corrupt image name the problem in one line', async () => {
    const empty = path.join(root, 'empty');
    fs.mkdirSync(empty, { recursive: true });
    let r = await run(finetune, ['--model', 'darknet-tiny', '--weights', WEIGHTS, '--data', empty]);
    expect(r.code).toBe(1);
    expectOneLine(r.err, /^graft finetune: imageFolder: .*empty has no class folders/);
    const noImages = path.join(root, 'no-images', 'cat');
    fs.mkdirSync(noImages, { recursive: true });
    r = await run(finetune, ['--model', 'darknet-tiny', '--weights', WEIGHTS, '--data', path.dirname(noImages)]);
    expectOneLine(r.err, /class folder .*no-images\/cat has no \.png\/\.jpg\/\.jpeg images/);
    // Mixed sizes and gray are resized / converted on load; a corrupt file is named (or skipped with --on-error skip).
    const corrupt = imagesFolder('corrupt', 3, (dir) => fs.writeFileSync(path.join(dir, 'top', 'bad.png'), 'not an image'));
    r = await run(finetune, ['--model', 'darknet-tiny', '--weights', WEIGHTS, '--data', corrupt]);
    expect(r.code).toBe(1);
    expectOneLine(r.err, /^graft finetune: imageFolder: .*top\/bad\.png: not a PNG or JPEG image .*\(onError: 'skip' leaves such files out\)/);
    r = await run(finetune, ['--model', 'darknet-tiny', '--weights', WEIGHTS, '--data', corrupt, '--on-error', 'maybe']);
    expect(r.code).toBe(2);
    expectOneLine(r.err, /^graft finetune: unknown --on-error 'maybe' \(one of: throw, skip\)/);
  });

  (hasWeights ? it : it.skip)(`a NaN loss stops with the epoch and step, in one line${noWeights}`, async () => {
    const data = imagesFolder('nan', 4);
    const r = await run(finetune, ['--model', 'darknet-tiny', '--weights', WEIGHTS, '--data', data, '--recipe', 'feature-extraction', '--epochs', '3', '--size', '8', '--batch-size', '2', '--lr', '1e38', '--out', path.join(root, 'nan-report'), '--no-png']);
    expect(r.code).toBe(1);
    expectOneLine(r.err, /^graft finetune: fit: the loss is (NaN|Infinity) at epoch \d\/3, step \d\/3; training stopped before this step's update/);
  }, 30_000);
});

describe('graft main-job: bad input', () => {
  it('offline without weights says exactly how to pass them', async () => {
    const saved = process.env.GRAFT_WEIGHTS_DIR;
    delete process.env.GRAFT_WEIGHTS_DIR;
    try {
      const r = await run(mainJob, ['--offline']);
      expect(r.code).toBe(1);
      expectOneLine(r.err, /^graft main-job: no darknet-tiny weights and offline .*--weights \.\.\/shared\/pretrained\/darknet-tiny.*GRAFT_WEIGHTS_DIR=\.\.\/shared\/pretrained npm start/);
      const bad = await run(mainJob, ['--weights', root]);
      expectOneLine(bad.err, /^graft main-job: --weights .*: neither .*model\.json nor .*darknet-tiny\/model\.json exists/);
    } finally {
      if (saved !== undefined) process.env.GRAFT_WEIGHTS_DIR = saved;
    }
  });

  (hasWeights ? it : it.skip)(`labels out of range in the data files are named${noWeights}`, async () => {
    const dir = path.join(root, 'bad-labels');
    fs.mkdirSync(dir, { recursive: true });
    for (const f of ['train-images-idx3-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']) fs.copyFileSync(path.join('data/fashion-mnist', f), path.join(dir, f));
    // Labels [N] u8, uncompressed (the reader takes either): item 7 says class 12.
    const n = 3000;
    const labels = Buffer.alloc(8 + n);
    labels.writeUInt32BE(0x801, 0);
    labels.writeUInt32BE(n, 4);
    for (let i = 0; i < n; i++) labels[8 + i] = i === 7 ? 12 : i % 10;
    fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte.gz'), labels);
    const r = await run(mainJob, ['--weights', WEIGHTS, '--data', dir]);
    expect(r.code).toBe(1);
    expectOneLine(r.err, /^graft main-job: Fashion-MNIST train: label of item 7 is 12, outside \[0, 10\) \(10 classes\)$/);
  });
});
