// Device loss during fit: training stops with one error that says the device was lost and where the
// last checkpoint is; that checkpoint is intact (the bytes of the last completed epoch) and loads
// into a model on a new device.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/index.ts';
import { graft } from '../../src/graph/gpu.ts';
import { checkpoint } from '../../src/train/callbacks.ts';
import { loadCheckpoint } from '../../src/train/checkpoint.ts';
import { fit } from '../../src/train/fit.ts';
import { sgd } from '../../src/train/optim.ts';
import { testGpu } from '../helpers.ts';
import { ToyNet, quadrants } from './toy.ts';

describe('device loss during fit', () => {
  it('stops with the reason and the last checkpoint, which stays intact and loads on a new device', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-lost-'));
    const target = path.join(dir, 'ckpt.safetensors');
    // A device of its own: the shared test device must survive this test.
    const gpu = await graft();
    const net = new ToyNet(gpu, 1);
    let afterEpoch2: Buffer | null = null;
    const run = fit(net, quadrants(32, 1), {
      epochs: 4,
      batchSize: 8,
      optimizer: sgd({ lr: 0.1, momentum: 0.5 }),
      callbacks: [
        checkpoint(target),
        {
          onEpochEnd: (log) => void (log.epoch === 1 && (afterEpoch2 = fs.readFileSync(target))),
          onBatchBegin: async (step, s) => {
            if (s.epoch !== 2 || step !== 1) return;
            gpu.rt.device.destroy();
            for (let i = 0; i < 50 && gpu.rt.lostReason === null; i++) await new Promise((r) => setTimeout(r, 10));
          },
        },
      ],
    });
    const error = await run.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(GraftError);
    const message = (error as Error).message;
    expect(message).toMatch(/^graft: fit: the GPU device was lost during epoch 3\/4 \(.*\); the last checkpoint, .*ckpt\.safetensors after epoch 2, is intact .*resume with fit\(\.\.\., \{ resumeFrom: ".*ckpt\.safetensors" \}\)/);
    expect(message.split('\n')).toHaveLength(1);
    expect(afterEpoch2).not.toBe(null);
    expect(fs.readFileSync(target).equals(afterEpoch2!)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['ckpt.safetensors']);
    const fresh = new ToyNet(await testGpu(), 5);
    expect((await loadCheckpoint(target, fresh, sgd({ lr: 0.1, momentum: 0.5 }))).epoch).toBe(2);
    fresh.dispose();
    fs.rmSync(dir, { recursive: true });
  });
});
