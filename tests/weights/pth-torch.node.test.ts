// The pickle allow-list against what torch itself writes: a training checkpoint holding numpy
// scalars and arrays, an argparse.Namespace, a torch.device and a torch.Size beside the state dict
// reads; the same file's data.pkl patched to name os.system is refused. Skipped, saying why, when no
// python3 has torch.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePth, readPth } from '../../src/weights/pth.ts';
import { refreshCrcs } from './craft.ts';

function torchPython(): string | null {
  for (const candidate of ['python3', '/usr/bin/python3']) {
    const probe = spawnSync(candidate, ['-c', 'import torch, numpy'], { encoding: 'utf8', timeout: 60_000 });
    if (probe.status === 0) return candidate;
  }
  return null;
}

const python = torchPython();
const run = python ? it : it.skip;

describe('.pth files written by torch itself', () => {
  run(`a checkpoint with numpy, argparse, torch.device and torch.Size values reads; os.system in its pickle is refused${python ? '' : ' (skipped: no python3 with torch and numpy)'}`, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-pth-torch-'));
    const file = path.join(dir, 'ck.pth');
    const script = `
import torch, numpy as np, argparse
torch.manual_seed(0)
m = torch.nn.Linear(3, 2)
torch.save({'state_dict': m.state_dict(), 'best': np.float64(0.5), 'arr': np.zeros(3), 'args': argparse.Namespace(lr=0.1),
            'dev': torch.device('cpu'), 'size': torch.Size([2, 3])}, ${JSON.stringify(file)})
print(','.join(str(v) for v in m.weight.detach().flatten().tolist()))`;
    const made = spawnSync(python!, ['-c', script], { encoding: 'utf8', timeout: 120_000 });
    expect(made.stderr).toBe('');
    const weights = made.stdout.trim().split(',').map(Number);
    return (async () => {
      const f = await readPth(file);
      expect([...f.tensors.keys()]).toEqual(['weight', 'bias']);
      expect(Array.from(f.tensors.get('weight')!.data)).toEqual(weights.map(Math.fround));
      expect(f.notes.join()).toMatch(/also holds: best, arr, args, dev, size/);
      // Patch the GLOBAL 'torch\ndevice' into 'posix\nsystem' (both 12 bytes), CRCs recomputed.
      const bytes = new Uint8Array(fs.readFileSync(file));
      const from = new TextEncoder().encode('torch\ndevice');
      const to = new TextEncoder().encode('posix\nsystem');
      let patched = 0;
      for (let i = 0; i + from.length <= bytes.length; i++) if (from.every((b, j) => bytes[i + j] === b)) (bytes.set(to, i), patched++);
      expect(patched).toBe(1);
      await expect(parsePth(refreshCrcs(bytes), 'evil.pth')).rejects.toThrow(/^graft: evil\.pth: unsupported pickle global posix\.system: only the globals torch\.save writes/);
      fs.rmSync(dir, { recursive: true });
    })();
  });
});
