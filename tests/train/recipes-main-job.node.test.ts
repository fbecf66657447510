// The main job at a tiny size: the report it writes, an interrupted run resumed with --resume
// matching an uninterrupted one (histories and every checkpointed tensor), finished runs reused,
// and a checkpoint of another architecture refused in one line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAIN_JOB_DEFAULTS, type MainJobOptions, mainJob, runMainJob } from '../../src/cli/main-job.ts';
import { saveCheckpoint } from '../../src/train/checkpoint.ts';
import { readSafetensors } from '../../src/weights/safetensors.ts';
import { expectClose, testGpu } from '../helpers.ts';
import { smallNet } from './features-net.ts';

const WEIGHTS = '../shared/pretrained/darknet-tiny';
const hasWeights = fs.existsSync(path.join(WEIGHTS, 'model.json'));
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-main-job-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const tiny = (out: string, more: Partial<MainJobOptions> = {}): MainJobOptions => ({
  ...MAIN_JOB_DEFAULTS, weights: WEIGHTS, out, epochs: 2, trainPerClass: 3, valPerClass: 2, size: 16, batchSize: 10, png: false, freezingCost: false, zeroShot: false, recipes: false, folds: 0, ...more,
});

function capture() {
  let text = '';
  return { io: { out: (t: string) => void (text += t), err: (t: string) => void (text += t) }, text: () => text };
}

describe.skipIf(!hasWeights)(`graft main-job (tiny settings)${hasWeights ? '' : ` (skipped: ${WEIGHTS}/model.json is not here)`}`, () => {
  it('an interrupted run resumed with --resume matches an uninterrupted one; finished runs are reused', async () => {
    const gpu = await testGpu();
    const whole = capture();
    const a = await runMainJob(tiny(path.join(root, 'a'), { zeroShot: true, recipes: true, folds: 3 }), whole.io, gpu);
    expect(whole.text()).toMatch(/== partial \(ImageNet darknet-tiny, features\.14 onward trained, the rest frozen\)\n/);
    expect(whole.text()).toMatch(/== staged \(ImageNet darknet-tiny, the new head alone for 1 epoch, then everything\)\n/);
    expect(whole.text()).toMatch(/zero-shot \(Sandal and Shirt held out\): ZSL [\d.]+% \(chance 50\.0%\)/);
    expect(whole.text()).toMatch(/3-fold cross-validation of a new head on the frozen ImageNet features: [\d.]+% ± [\d.]+ \([\d.]+%, [\d.]+%, [\d.]+%\)/);
    // One table: the three recipes and the scratch baseline.
    expect(a.comparison.rows.map((r) => r.name)).toEqual(['feature-extraction', 'partial', 'staged', 'scratch']);
    // Staged: 1 head epoch + 2 epochs of everything (unless stopped early); feature extraction trains the head alone.
    expect(a.comparison.rows[2].epochs).toBeGreaterThanOrEqual(2);
    expect(a.comparison.rows[0].trainableParameters).toBe(128 * 10 + 10);
    // Cross-validation: 3 folds of the 30 training images' features, mean and sample std of the folds.
    const cv = a.crossValidation!;
    expect(cv.folds).toHaveLength(3);
    const mean = cv.folds.reduce((s, f) => s + f.accuracy, 0) / 3;
    expect(cv.mean).toBeCloseTo(mean, 12);
    expect(cv.std).toBeCloseTo(Math.sqrt(cv.folds.reduce((s, f) => s + (f.accuracy - mean) ** 2, 0) / 2), 12);
    for (const f of cv.folds) expect(f.accuracy * 10).toBeCloseTo(Math.round(f.accuracy * 10), 9); // 10 held-out items per fold
    const md = fs.readFileSync(path.join(root, 'a', 'comparison.md'), 'utf8');
    expect(md).toContain('Split: 30 training items (Fashion-MNIST training file) and 20 validation items (Fashion-MNIST test file, used for validation).');
    expect(md).toMatch(/## Verdict\n\nTransfer (beats|did NOT beat) training from scratch/);
    expect(md).toContain('## Recipes');
    expect(md).toMatch(/## 3-fold cross-validation of the head\n[\s\S]*\| accuracy \| [\d.]+% \| [\d.]+% \| [\d.]+% \| \*\*[\d.]+% ± [\d.]+\*\* \|/);
    expect(md).toContain('## Zero-shot: two classes never seen in training');
    // Figures: the confusion matrix as a heat map with the class names, misclassified images, marked curves.
    const heat = fs.readFileSync(path.join(root, 'a', 'confusion.svg'), 'utf8');
    for (const c of ['T-shirt/top', 'Ankle boot', 'Sandal']) expect(heat).toContain(`>${c}</text>`);
    expect(heat.match(/<rect x="[\d.]+" y="[\d.]+" width="44" height="44"/g)).toHaveLength(100);
    const wrongSvg = fs.readFileSync(path.join(root, 'a', 'misclassified.svg'), 'utf8');
    expect(wrongSvg).toMatch(/>true: [^<]+<\/text>/);
    expect(wrongSvg).toMatch(/>predicted: [^<]+<\/text>/);
    expect(fs.readFileSync(path.join(root, 'a', 'accuracy.svg'), 'utf8')).toMatch(/>best(, stopped)?<\/text>/);

    const b = path.join(root, 'b');
    await expect(runMainJob(tiny(b, { stopAfter: 1 }), capture().io, gpu)).rejects.toThrow(/interrupted after epoch 1 \(--stop-after 1\); the checkpoint is saved/);
    expect(fs.existsSync(path.join(b, 'checkpoints', 'partial.safetensors'))).toBe(true);
    expect(fs.existsSync(path.join(b, 'checkpoints', 'partial.done.json'))).toBe(false);
    const resumedLog = capture();
    const r = await runMainJob(tiny(b, { resume: true }), resumedLog.io, gpu);
    expect(resumedLog.text()).toMatch(/== partial \(.*\), resuming from .*partial\.safetensors/);
    for (const run of r.comparison.runs) {
      const want = a.comparison.runs.find((x) => x.name === run.name)!.history.epochs;
      expect(run.history.epochs.map((e) => e.epoch)).toEqual(want.map((e) => e.epoch));
      for (const k of ['loss', 'accuracy', 'valLoss', 'valAccuracy'] as const) {
        expectClose(run.history.epochs.map((e) => e[k]!), want.map((e) => e[k]!), { atol: 1e-6, rtol: 1e-5 }, `${run.name} ${k}`);
      }
    }
    for (const id of ['partial', 'scratch']) {
      const [x, y] = await Promise.all([readSafetensors(path.join(root, 'a', 'checkpoints', `${id}.safetensors`)), readSafetensors(path.join(b, 'checkpoints', `${id}.safetensors`))]);
      expect([...y.tensors.keys()].sort()).toEqual([...x.tensors.keys()].sort());
      for (const [name, t] of x.tensors) expectClose(y.tensors.get(name)!.data, t.data, { atol: 1e-6, rtol: 1e-5 }, `${id} ${name}`);
    }

    const again = capture();
    const c = await runMainJob(tiny(b, { resume: true }), again.io, gpu);
    expect(again.text()).toMatch(/== partial \(.*\): finished before, reused from/);
    expect(again.text()).toMatch(/== scratch \(.*\): finished before, reused from/);
    expect(c.comparison.rows.map((x) => x.bestValAccuracy)).toEqual(r.comparison.rows.map((x) => x.bestValAccuracy));
  }, 120_000);

  it('--resume with a checkpoint of another architecture: one line, nothing overwritten', async () => {
    const gpu = await testGpu();
    const out = path.join(root, 'other');
    const file = path.join(out, 'checkpoints', 'partial.safetensors');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const net = smallNet(gpu, 1);
    await saveCheckpoint(file, net, null, { epoch: 1, history: [], seed: 0 });
    net.dispose();
    const before = fs.readFileSync(file);
    let err = '';
    const code = await mainJob(['--weights', WEIGHTS, '--out', out, '--resume', '--epochs', '1', '--train-per-class', '2', '--val-per-class', '2', '--size', '16', '--no-png', '--no-recipes', '--folds', '0'], { out: () => {}, err: (t) => void (err += t) });
    expect(code).toBe(1);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toMatch(/^graft main-job: checkpoint .*partial\.safetensors is for a different architecture; nothing was loaded\. +missing/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  }, 60_000);
});
