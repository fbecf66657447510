// `graft tune` end to end on a small model: every conv/matmul shape of a forward and a training
// step is measured, each choice is one of its valid candidates, the cache file holds them, and the
// table lists them. (SwiftShader timings are noise: nothing here checks which variant wins.)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatTable } from '../../src/cli/tune.ts';
import type { Measured } from '../../src/kernels/tune/index.ts';
import { runCli } from './run.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-tune-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const run = runCli;

describe('graft tune', () => {
  it('darknet-tiny 32x32, batch 2, --train: measures forward, input- and weight-gradient shapes and writes the cache', async () => {
    const r = await run(['tune', '--model', 'darknet-tiny', '--image', '32', '--batch', '2', '--train', '--reps', '1', '--warmups', '0', '--cache', dir, '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as { cache: string; shapes: Measured[] };
    const families = new Set(report.shapes.map((s) => s.family));
    for (const f of ['conv2d.forward', 'conv2d.backwardInput', 'conv2d.backwardFilter']) expect(families).toContain(f);
    // The first conv (3 input channels, 32x32) is met once per pass.
    expect(report.shapes.filter((s) => s.key === 'n=2 cin=3 h=32 w=32 cout=16 k=3x3 stride=1 pad=1').map((s) => s.family).sort()).toEqual(['conv2d.backwardFilter', 'conv2d.forward']);
    for (const s of report.shapes) {
      expect(s.candidates).toContain(s.choice.variant);
      expect(s.choice.rejected).toBeUndefined();
      expect(Object.keys(s.choice.times!).sort()).toEqual([...s.candidates].sort());
    }
    expect(path.dirname(report.cache)).toBe(path.join(dir, 'tuning'));
    const saved = JSON.parse(fs.readFileSync(report.cache, 'utf8')) as { choices: Record<string, { variant: string }> };
    expect(Object.keys(saved.choices)).toHaveLength(report.shapes.length);
    for (const s of report.shapes) expect(saved.choices[`${s.family} ${s.key}`].variant).toBe(s.choice.variant);

    const table = formatTable(report.shapes);
    expect(table[0]).toMatch(/^kernel +shape +candidates \(median, (timestamp|wall) timer\) +chosen$/);
    expect(table).toHaveLength(report.shapes.length + 1);
    for (const [i, s] of report.shapes.entries()) expect(table[i + 1]).toMatch(new RegExp(`^${s.family.replace('.', '\\.')} +${s.key} +.*${s.candidates[0]} [\\d.]+ ms.* ${s.choice.variant}$`));
  }, 240_000);
});
