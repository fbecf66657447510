// Node side of the ONNX Runtime Web contenders, run by bench/cli.ts before either runner starts:
// each model inference row's network is exported to ONNX from the bench's seeded state dict (the
// very arrays Graft and the tfjs twins load, workloads/models.ts weightsFor) by
// weights-tools/export_onnx.py, and cached in bench/results/cache/onnx/ (inside the repository, so
// that the Chrome page's server can serve it). A python without torch, torchvision or onnx makes
// the rows n/a with its reason; a failed export makes them errors; neither stops the run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeSafetensors } from '../src/weights/safetensors.ts';
import { type BenchOptions, type OnnxModel, ORT_CONTENDERS, passesFilter } from './options.ts';
import type { ForwardCase } from './workloads/models.ts';

/** The python that exports (Debian's python3-torch lives in /usr/bin; a pyenv python3 may lack it). */
export const DEFAULT_PYTHON = '/usr/bin/python3';
export const CACHE_DIR = 'bench/results/cache/onnx';
const SCRIPT = 'weights-tools/export_onnx.py';
/** What decides a file's contents besides its row: the exporter and the seeded weights' generator. */
const SOURCES = [SCRIPT, 'bench/workloads/nets.ts', 'bench/data.ts'];

/** The cached file name of a row: `<arch>[-features]-b<batch>-<size>-<digest>.onnx`. */
export function onnxFileName(c: ForwardCase, digest: string): string {
  return `${c.arch}${c.featuresOnly ? '-features' : ''}-b${c.batch}-${c.size}-${digest}.onnx`;
}

/** FNV-1a (32 bits, hex) of the files that decide the exported graphs and weights. */
export function sourcesDigest(root: string): string {
  let h = 0x811c9dc5;
  for (const f of SOURCES) {
    for (const b of fs.readFileSync(path.join(root, f))) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

interface ScriptResult {
  status: 'ok' | 'skip' | 'error';
  message: string;
}

/** A python command: its path, or its path and options (['/usr/bin/python3', '-S']). */
export type Python = string | string[];

/** Run export_onnx.py with `args`; its last stdout line is {"ok": ...} or {"skip": reason}. */
export function runExportScript(python: Python, root: string, args: string[], timeoutMs = 30 * 60_000): ScriptResult {
  const [cmd, ...pre] = typeof python === 'string' ? [python] : python;
  const r = spawnSync(cmd, [...pre, path.join(root, SCRIPT), ...args], { cwd: root, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { status: 'skip', message: `no ${cmd} to export the ONNX files (set GRAFT_BENCH_PYTHON to a python3 with torch, torchvision and onnx)` };
    return { status: 'error', message: `${SCRIPT} did not finish: ${r.error.message}` };
  }
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  let parsed: { ok?: boolean; skip?: string } = {};
  try {
    parsed = JSON.parse(last) as typeof parsed;
  } catch {
    // not the script's answer: an error, reported below with stderr's last line
  }
  if (r.status === 3 && parsed.skip) return { status: 'skip', message: `ONNX export skipped: ${parsed.skip}` };
  if (r.status === 0 && parsed.ok) return { status: 'ok', message: last };
  // The exception's own line (a Python traceback ends with it, but torch may append notes).
  const lines = (r.stderr ?? '').trim().split('\n').map((l) => l.trim()).filter(Boolean);
  const why = lines.filter((l) => /^[\w.]*(Error|Exception)\b/.test(l)).pop() ?? lines.pop() ?? `exit code ${r.status ?? r.signal}`;
  return { status: 'error', message: `${SCRIPT} failed: ${why}` };
}

/**
 * The ONNX file of every model inference row the run will have (after --filter), exporting the
 * missing ones into `cacheDir` (relative to `root`, or absolute); {} when no ORT contender is asked for.
 */
export async function prepareOnnx(
  opts: BenchOptions,
  root: string,
  log: (m: string) => void,
  python: Python = process.env.GRAFT_BENCH_PYTHON || DEFAULT_PYTHON,
  cacheDir = CACHE_DIR,
): Promise<Record<string, OnnxModel>> {
  if (!opts.contenders.some((c) => ORT_CONTENDERS.includes(c))) return {};
  const models = await import('./workloads/models.ts');
  const cases = models.forwardCases(opts).filter((c) => passesFilter(opts.filter, c.id, c.title));
  if (!cases.length) return {};
  const digest = sourcesDigest(root);
  const out: Record<string, OnnxModel> = {};
  let checked: ScriptResult | null = null;
  const dir = path.resolve(root, cacheDir);
  for (const c of cases) {
    const abs = path.join(dir, onnxFileName(c, digest));
    const file = path.relative(root, abs).split(path.sep).join('/');
    if (fs.existsSync(abs)) {
      out[c.id] = { file };
      continue;
    }
    checked ??= runExportScript(python, root, ['--check'], 120_000);
    if (checked.status !== 'ok') {
      out[c.id] = checked.status === 'skip' ? { unavailable: checked.message } : { error: checked.message };
      continue;
    }
    fs.mkdirSync(dir, { recursive: true });
    const state = path.join(os.tmpdir(), `graft-bench-${process.pid}-${c.arch}.safetensors`);
    const t = performance.now();
    try {
      fs.writeFileSync(state, encodeSafetensors(models.weightsFor(c.arch, !c.featuresOnly), { format: 'pt', arch: c.arch }));
      const args = [state, c.arch, String(c.batch), String(c.size), abs, ...(c.featuresOnly ? ['--features'] : [])];
      const r = runExportScript(python, root, args);
      out[c.id] = r.status === 'ok' ? { file } : r.status === 'skip' ? { unavailable: r.message } : { error: r.message };
      log(`onnx: ${c.id} -> ${r.status === 'ok' ? file : r.message} (${((performance.now() - t) / 1000).toFixed(1)} s)`);
    } finally {
      fs.rmSync(state, { force: true });
    }
  }
  models.releaseWeights();
  return out;
}
