// `npx graft classify` as a user runs it: a child process on the real darknet-tiny weights.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import recorded from '../fixtures/darknet-tfjs.json';

const WEIGHTS = '../shared/pretrained/darknet-tiny';
const CAT = '../shared/images/cat.png';
const GRACE = '../shared/images/grace_hopper.png';
const CAT_CLASSES = ['Egyptian cat', 'tabby', 'tiger cat', 'Persian cat', 'Siamese cat'];

function graft(...args: string[]) {
  const r = spawnSync(process.execPath, ['scripts/graft.js', 'classify', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('graft classify', () => {
  it('prints the top 5 classes with probabilities: cat.png is a cat', () => {
    const r = graft('--model', 'darknet-tiny', '--weights', WEIGHTS, CAT);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(CAT);
    expect(lines).toHaveLength(6);
    const rows = lines.slice(1).map((l) => l.match(/^\s+([\d.]+)%\s+(.+?)\s+\((\d+)\)$/)!);
    expect(rows.every(Boolean)).toBe(true);
    expect(CAT_CLASSES).toContain(rows[0][2]);
    const percents = rows.map((m) => Number(m[1]));
    for (let i = 1; i < percents.length; i++) expect(percents[i]).toBeLessThanOrEqual(percents[i - 1]);
  });

  it('--json gives every class probability; ratios match TF.js logits; broken images are reported, the rest classified', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-classify-'));
    const gray = path.join(dir, 'gray.png');
    const png = new PNG({ width: 8, height: 6, colorType: 0, inputColorType: 0, inputHasAlpha: false });
    png.data = Buffer.alloc(8 * 6, 128) as unknown as Buffer;
    fs.writeFileSync(gray, PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false }));
    const text = path.join(dir, 'notes.png');
    fs.writeFileSync(text, 'not an image');
    const r = graft('--model', 'darknet-tiny', '--weights', WEIGHTS, '--json', '--top', '3', CAT, text, gray, GRACE);
    fs.rmSync(dir, { recursive: true });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.model).toBe('darknet-tiny');
    expect(out.labels).toHaveLength(1000);
    expect(out.results.map((x: { image: string }) => x.image)).toEqual([CAT, GRACE]);
    for (const res of out.results) {
      expect(res.probabilities).toHaveLength(1000);
      expect(Math.abs(res.probabilities.reduce((a: number, b: number) => a + b, 0) - 1)).toBeLessThan(1e-4);
      expect(res.top).toHaveLength(3);
      expect(res.top[0].probability).toBe(Math.max(...res.probabilities));
      // p_i / p_j = exp(logit_i - logit_j): the softmax against TF.js's recorded logits.
      const rec = recorded.images.find((im) => res.image.endsWith(`/${im.file}`))!;
      for (const t of rec.top.slice(1)) {
        const ratio = res.probabilities[rec.top[0].index] / res.probabilities[t.index];
        expect(Math.abs(Math.log(ratio) - (rec.top[0].logit - t.logit))).toBeLessThan(2e-3);
      }
    }
    expect(CAT_CLASSES).toContain(out.results[0].top[0].label);
    expect(out.errors.map((e: { image: string }) => e.image)).toEqual([text, gray]);
    expect(out.errors[0].error).toMatch(/notes\.png: not a PNG or JPEG image/);
    expect(out.errors[1].error).toMatch(/gray\.png: a grayscale image \(1 channel\), but the model expects RGB \(3 channels\)/);
    expect(r.stderr).toMatch(/graft classify: .*notes\.png: not a PNG or JPEG image/);
  });

  it('a missing weights folder, a folder without model.json, and bad options are clear errors', () => {
    const missing = graft('--model', 'darknet-tiny', '--weights', 'no/such/dir', CAT);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/graft classify: --weights no\/such\/dir: no such file or folder/);
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-classify-'));
    const noJson = graft('--model', 'darknet-tiny', '--weights', empty, CAT);
    fs.rmSync(empty, { recursive: true });
    expect(noJson.code).toBe(1);
    expect(noJson.stderr).toMatch(/a folder without model\.json/);
    const usage = graft('--model', 'darknet-tiny', '--weights', WEIGHTS, '--top', 'x', CAT);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe("graft classify: --top must be a positive integer, got 'x' (graft classify --help lists the options)\n");
  });
});
