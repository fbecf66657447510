// The ONNX side of the benchmark's ORT contenders without exporting anything (the export itself,
// torch included, takes ~10 s a model and runs in `npm run bench` only): the exporter's answer when
// its python lacks the packages, and bench/onnx.ts turning that into n/a reasons for the model
// rows the run will have, never into a crash.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { onnxFileName, prepareOnnx, runExportScript, sourcesDigest } from '../../bench/onnx.ts';
import { parseArgs } from '../../bench/options.ts';
import { forwardCases } from '../../bench/workloads/models.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** A python3 on PATH, if any: run with -S it has the standard library only (no numpy, no torch). */
const python3 = spawnSync('python3', ['--version']).status === 0 ? 'python3' : null;
const tmpCache = () => fs.mkdtempSync(path.join(os.tmpdir(), 'graft-onnx-test-'));

describe('ONNX export for the ORT contenders', () => {
  it('export_onnx.py --check answers {"skip": reason} (exit code 3) from a python without numpy / torch', () => {
    if (!python3) {
      // No python3 at all: the reason says which command is missing.
      expect(runExportScript('python3', root, ['--check']).message).toMatch(/no python3 to export the ONNX files/);
      return;
    }
    const raw = spawnSync(python3, ['-S', path.join(root, 'weights-tools/export_onnx.py'), '--check'], { encoding: 'utf8' });
    expect(raw.status).toBe(3);
    expect(JSON.parse(raw.stdout.trim())).toEqual({ skip: expect.stringMatching(/cannot import numpy \(Debian: apt-get install python3-numpy\)/) });
    const r = runExportScript([python3, '-S'], root, ['--check']);
    expect(r.status).toBe('skip');
    expect(r.message).toMatch(/^ONNX export skipped: .* cannot import numpy/);
  });

  it.skipIf(!python3)('export_onnx.py refuses bad arguments with its usage (an error, not a skip)', () => {
    const r = runExportScript([python3!, '-S'], root, ['state.safetensors', 'resnet34', '1', '32', 'out.onnx']);
    expect(r.status).toBe('error');
    expect(r.message).toMatch(/export_onnx\.py failed: .*export_onnx\.py --check/);
  });

  it('a python that cannot export makes every selected model row n/a with the reason, and writes nothing', async () => {
    const cache = tmpCache();
    const opts = parseArgs(['--quick', '--filter', 'resnet18', '--contenders', 'graft,ort-wasm']);
    const logs: string[] = [];
    const models = await prepareOnnx(opts, root, (m) => logs.push(m), '/nonexistent/python3', cache);
    // The quick preset's resnet18 forward rows (batch 1 and 2 at 48 px); the training steps have no ONNX file.
    expect(Object.keys(models)).toEqual(['model.fwd/resnet18-b1-48', 'model.fwd/resnet18-b2-48']);
    for (const m of Object.values(models)) expect(m).toEqual({ unavailable: expect.stringMatching(/^no \/nonexistent\/python3 to export the ONNX files \(set GRAFT_BENCH_PYTHON/) });
    expect(fs.readdirSync(cache)).toEqual([]);
    if (python3) {
      const viaS = await prepareOnnx(parseArgs(['--quick', '--filter', 'vgg16', '--contenders', 'ort-webgpu']), root, () => {}, [python3, '-S'], cache);
      expect(viaS).toEqual({ 'model.fwd/vgg16-features-b1-32': { unavailable: expect.stringMatching(/cannot import numpy/) } });
    }
    fs.rmSync(cache, { recursive: true, force: true });
  });

  it('no ORT contender, or no model row after --filter: nothing to export and python is never asked', async () => {
    const cache = tmpCache();
    expect(await prepareOnnx(parseArgs(['--quick', '--contenders', 'graft,tfjs-wasm']), root, () => {}, '/nonexistent/python3', cache)).toEqual({});
    expect(await prepareOnnx(parseArgs(['--quick', '--filter', 'conv2d']), root, () => {}, '/nonexistent/python3', cache)).toEqual({});
    fs.rmSync(cache, { recursive: true, force: true });
  });

  it('a cached file is used as it is (path relative to the repository), without python', async () => {
    const cache = path.join(root, 'bench/results', `cache-test-${process.pid}`);
    fs.mkdirSync(cache, { recursive: true });
    try {
      const opts = parseArgs(['--models', '--filter', 'resnet50', '--contenders', 'ort-wasm']);
      const [c] = forwardCases(opts).filter((f) => f.id.includes('resnet50'));
      const name = onnxFileName(c, sourcesDigest(root));
      expect(name).toMatch(/^resnet50-b1-224-[0-9a-f]{8}\.onnx$/);
      fs.writeFileSync(path.join(cache, name), 'stand-in');
      const models = await prepareOnnx(opts, root, () => {}, '/nonexistent/python3', cache);
      expect(models).toEqual({ 'model.fwd/resnet50-b1-224': { file: `bench/results/cache-test-${process.pid}/${name}` } });
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });
});
