// `graft profile`: GPU time per kernel of a model's forward or training step (gpu.profile).
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers.ts';
import { runCli } from './run.ts';

const run = runCli;

const hasTimestamps = (await testGpu()).adapter.features.includes('timestamp-query');

describe('graft profile', () => {
  if (!hasTimestamps) {
    it.skip("profiles a forward and a training step (skipped: this adapter lacks 'timestamp-query')", () => {});
    return;
  }

  it('an eval forward: one row per kernel, dispatches per run, shares that add up to 100%', async () => {
    const r = await run(['profile', '--model', 'resnet18', '--image', '32', '--runs', '2', '--quiet']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines[1]).toMatch(/^resnet18, 32x32, batch 1, eval forward: 2 runs, GPU [\d.]+ ms per run/);
    expect(lines[2]).toMatch(/^kernel\s+dispatches\s+ms\/run\s+share$/);
    const rows = lines.slice(3).map((l) => l.trim().split(/\s+/));
    // Fused inference: 20 convs (one of them the 3-channel stem), max pool, average pool, fc.
    const dispatches = Object.fromEntries(rows.map(([name, n]) => [name, Number(n)]));
    const convs = Object.entries(dispatches).filter(([k]) => k.startsWith('conv2d.')).reduce((a, [, n]) => a + n, 0);
    expect(convs).toBe(20);
    expect(Object.keys(dispatches).some((k) => k.startsWith('matmul.'))).toBe(true);
    const shares = rows.map((r) => Number(r[3].replace('%', '')));
    expect(shares.reduce((a, b) => a + b, 0)).toBeGreaterThan(99);
    expect(shares.reduce((a, b) => a + b, 0)).toBeLessThan(101);
  });

  it('a training step (--train, --json): the backward kernels and one SGD update per parameter', async () => {
    const r = await run(['profile', '--model', 'resnet18', '--image', '32', '--batch', '2', '--runs', '1', '--train', '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { train: boolean; kernels: { name: string; dispatches: number; ms: number; share: number }[]; gpuMsPerRun: number };
    expect(j.train).toBe(true);
    const names = j.kernels.map((k) => k.name);
    expect(names.some((n) => /^conv2d\..*backward_input/.test(n))).toBe(true);
    expect(names.some((n) => /^conv2d\..*backward_filter/.test(n))).toBe(true);
    // resnet18 has 62 parameter tensors (torchvision's state dict without the batchnorm buffers).
    expect(j.kernels.filter((k) => k.name.startsWith('optim.')).reduce((a, k) => a + k.dispatches, 0)).toBe(62);
    expect(j.gpuMsPerRun).toBeGreaterThan(0);
  });

  it('an unknown model is one line naming the known ones, exit 2', async () => {
    const r = await run(['profile', '--model', 'resnet7']);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^graft profile: unknown --model 'resnet7' \(known: .*resnet18/);
  });
});
