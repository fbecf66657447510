// A Graft export loads into PyTorch: resnet18 built in Graft (seeded weights, non-default BatchNorm
// statistics) is saved as safetensors; python3 parses the file with json + numpy (no safetensors
// package), calls torchvision.models.resnet18().load_state_dict(sd, strict=True), and runs the same
// input, whose logits must match Graft's. Skipped, saying why, when no python3 has torch + torchvision.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scope } from '../../src/graph/tensor.ts';
import { createModel } from '../../src/models/index.ts';
import { loadStateDict, type HostTensor } from '../../src/weights/state-dict.ts';
import { encodeSafetensors, saveSafetensors } from '../../src/weights/safetensors.ts';
import { expectClose, randArray, testGpu } from '../helpers.ts';

/** A python3 that imports torch and torchvision (Debian's lives in /usr/bin; a pyenv python3 may not). */
function findTorchPython(): string | null {
  for (const candidate of ['python3', '/usr/bin/python3']) {
    const probe = spawnSync(candidate, ['-c', 'import torch, torchvision'], { encoding: 'utf8', timeout: 60_000 });
    if (probe.status === 0) return candidate;
  }
  return null;
}

const CHECK = String.raw`
import json, struct, sys
import numpy as np, torch, torchvision

DTYPES = {'F32': np.float32, 'I64': np.int64}

def load(path):
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', {})
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        begin, end = info['data_offsets']
        array = np.frombuffer(data[begin:end], dtype=np.dtype(DTYPES[info['dtype']]).newbyteorder('<'))
        out[name] = torch.from_numpy(array.reshape(info['shape']).copy())
    return out, meta

sd, meta = load(sys.argv[1])
x, _ = load(sys.argv[2])
model = torchvision.models.resnet18()
result = model.load_state_dict(sd, strict=True)
model.eval()
with torch.no_grad():
    logits = model(x['x']).numpy().ravel().tolist()
print(json.dumps({
    'missing': list(result.missing_keys), 'unexpected': list(result.unexpected_keys), 'meta': meta,
    'nbt_dtype': str(sd['bn1.num_batches_tracked'].dtype), 'nbt': int(sd['layer1.0.bn1.num_batches_tracked']),
    'logits': logits,
}))
`;

const python = findTorchPython();
const title = 'torchvision resnet18 load_state_dict(strict=True) accepts a Graft export, and its logits match';

describe('export to PyTorch', () => {
  if (!python) {
    it.skip(`${title} (skipped: no python3 with torch and torchvision installed)`, () => {});
    return;
  }
  it(title, async () => {
    const gpu = await testGpu();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-export-'));
    const model = createModel('resnet18', { gpu, seed: 7 });
    try {
      // Non-default BatchNorm statistics (and a count), so that buffers are checked too.
      const stats = new Map<string, HostTensor>();
      let seed = 100;
      for (const [name, t] of model.stateDict()) {
        const n = t.shape.reduce((a, b) => a * b, 1);
        if (name.endsWith('running_mean')) stats.set(name, { shape: [...t.shape], dtype: 'f32', data: Float32Array.from(randArray(n, seed++, -0.2, 0.2)) });
        if (name.endsWith('running_var')) stats.set(name, { shape: [...t.shape], dtype: 'f32', data: Float32Array.from(randArray(n, seed++, 0.5, 2)) });
        if (name.endsWith('num_batches_tracked')) stats.set(name, { shape: [], dtype: 'i32', data: Int32Array.from([42]) });
      }
      loadStateDict(model, stats, { strict: false });
      model.eval();
      const input = Float32Array.from(randArray(2 * 3 * 32 * 32, 5));
      const logits = await scope(async () => model.forward(gpu.tensor(input, [2, 3, 32, 32])).data());

      const weightsFile = path.join(dir, 'resnet18.safetensors');
      const inputFile = path.join(dir, 'input.safetensors');
      await saveSafetensors(model, weightsFile);
      fs.writeFileSync(inputFile, encodeSafetensors(new Map([['x', { shape: [2, 3, 32, 32], dtype: 'f32', data: input }]])));
      const run = spawnSync(python, ['-c', CHECK, weightsFile, inputFile], { encoding: 'utf8', timeout: 300_000 });
      expect(run.stderr.split('\n').filter((l) => /Error|Traceback/.test(l))).toEqual([]);
      expect(run.status).toBe(0);
      const result = JSON.parse(run.stdout);
      expect(result.missing).toEqual([]);
      expect(result.unexpected).toEqual([]);
      expect(result.meta).toEqual({ format: 'pt', arch: 'resnet18' });
      expect(result.nbt_dtype).toBe('torch.int64');
      expect(result.nbt).toBe(42);
      const scale = Math.max(...result.logits.map(Math.abs));
      expectClose(logits, result.logits, { atol: 1e-4 * scale, rtol: 1e-3 }, 'resnet18 logits, Graft vs PyTorch');
    } finally {
      model.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
