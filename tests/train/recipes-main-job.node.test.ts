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
  ...MAIN_JOB_DEFAULTS, weights: WEIGHTS, out, epochs: 2, trainPerClass: 3, valPerClass: 2, size: 16, batchSize: 10, png: false, freezingCost: false, zeroShot: false, ...more,
});

function capture() {
  let text = '';
  return { io: { out: (t: string) => void (text += t), err: (t: string) => void (text += t) }, text: () => text };
}

describe.skipIf(!hasWeights)(`graft main-job (tiny settings)${hasWeights ? '' : ` (skipped: ${WEIGHTS}/model.json is not here)`}`, () => {
  it('an interrupted run resumed with --resume matches an uninterrupted one; finished runs are reused', async () => {
    const gpu = await testGpu();
    const whole = capture();
    const a = await runMainJob(tiny(path.join(root, 'a'), { zeroShot: true }), whole.io, gpu);
    expect(whole.text()).toMatch(/== transfer \(ImageNet darknet-tiny, features\.14 onward trained, the rest frozen\)\n/);
    expect(whole.text()).toMatch(/zero-shot \(Sandal and Shirt held out\): ZSL [\d.]+% \(chance 50\.0%\)/);
    expect(a.comparison.rows.map((r) => r.name)).toEqual(['transfer', 'scratch']);
    const md = fs.readFileSync(path.join(root, 'a', 'comparison.md'), 'utf8');
    expect(md).toMatch(/## Verdict\n\nTransfer (beats|did NOT beat) training from scratch/);
    expect(md).toContain('## Zero-shot: two classes never seen in training');

    const b = path.join(root, 'b');
    await expect(runMainJob(tiny(b, { stopAfter: 1 }), capture().io, gpu)).rejects.toThrow(/interrupted after epoch 1 \(--stop-after 1\); the checkpoint is saved/);
    expect(fs.existsSync(path.join(b, 'checkpoints', 'transfer.safetensors'))).toBe(true);
    expect(fs.existsSync(path.join(b, 'checkpoints', 'transfer.done.json'))).toBe(false);
    const resumedLog = capture();
    const r = await runMainJob(tiny(b, { resume: true }), resumedLog.io, gpu);
    expect(resumedLog.text()).toMatch(/== transfer \(.*\), resuming from .*transfer\.safetensors/);
    for (const [i, run] of r.comparison.runs.entries()) {
      const want = a.comparison.runs[i].history.epochs;
      expect(run.history.epochs.map((e) => e.epoch)).toEqual(want.map((e) => e.epoch));
      for (const k of ['loss', 'accuracy', 'valLoss', 'valAccuracy'] as const) {
        expectClose(run.history.epochs.map((e) => e[k]!), want.map((e) => e[k]!), { atol: 1e-6, rtol: 1e-5 }, `${run.name} ${k}`);
      }
    }
    for (const id of ['transfer', 'scratch']) {
      const [x, y] = await Promise.all([readSafetensors(path.join(root, 'a', 'checkpoints', `${id}.safetensors`)), readSafetensors(path.join(b, 'checkpoints', `${id}.safetensors`))]);
      expect([...y.tensors.keys()].sort()).toEqual([...x.tensors.keys()].sort());
      for (const [name, t] of x.tensors) expectClose(y.tensors.get(name)!.data, t.data, { atol: 1e-6, rtol: 1e-5 }, `${id} ${name}`);
    }

    const again = capture();
    const c = await runMainJob(tiny(b, { resume: true }), again.io, gpu);
    expect(again.text()).toMatch(/== transfer \(.*\): finished before, reused from/);
    expect(again.text()).toMatch(/== scratch \(.*\): finished before, reused from/);
    expect(c.comparison.rows.map((x) => x.bestValAccuracy)).toEqual(r.comparison.rows.map((x) => x.bestValAccuracy));
  }, 120_000);

  it('--resume with a checkpoint of another architecture: one line, nothing overwritten', async () => {
    const gpu = await testGpu();
    const out = path.join(root, 'other');
    const file = path.join(out, 'checkpoints', 'transfer.safetensors');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const net = smallNet(gpu, 1);
    await saveCheckpoint(file, net, null, { epoch: 1, history: [], seed: 0 });
    net.dispose();
    const before = fs.readFileSync(file);
    let err = '';
    const code = await mainJob(['--weights', WEIGHTS, '--out', out, '--resume', '--epochs', '1', '--train-per-class', '2', '--val-per-class', '2', '--size', '16', '--no-png'], { out: () => {}, err: (t) => void (err += t) });
    expect(code).toBe(1);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toMatch(/^graft main-job: checkpoint .*transfer\.safetensors is for a different architecture; nothing was loaded\. +missing/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  }, 60_000);
});
