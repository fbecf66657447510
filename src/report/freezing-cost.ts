// What freezing saves: one ResNet-18 training step with everything trainable against only layer4 +
// fc, measured (dispatches per kernel and time) and printed as a table.
import { backward } from '../graph/autograd.ts';
import type { Gpu } from '../graph/gpu.ts';
import * as ops from '../graph/ops.ts';
import { scope } from '../graph/tensor.ts';
import { resnet18 } from '../models/index.ts';
import { sgd } from '../train/optim.ts';

export interface FreezingCostMode {
  name: string;
  /** Elements of the trainable parameters. */
  trainable: number;
  /** Dispatches per training step, in all and per kernel. */
  dispatches: number;
  byKernel: Record<string, number>;
  /** Median milliseconds per step (forward, loss, backward, update, readback of the loss). */
  ms: number;
}

export interface FreezingCost {
  arch: string;
  input: number[];
  modes: FreezingCostMode[];
}

/**
 * Measure one ResNet-18 training step with every parameter trainable against only layer4 + fc
 * trainable (the rest frozen: no weight gradients, no input gradients below layer4, BatchNorm on
 * running statistics). `width` narrows the network (64 is torchvision's).
 */
export async function freezingCost(gpu: Gpu, { input = [2, 3, 64, 64], steps = 3, width = 64, seed = 1 }: { input?: number[]; steps?: number; width?: number; seed?: number } = {}): Promise<FreezingCost> {
  const net = resnet18({ gpu, classes: 10, width, seed });
  const x = gpu.randn(input, { seed });
  const labels = gpu.tensor(Array.from({ length: input[0] }, (_, i) => i % 10), [input[0]], 'i32');
  const optimizer = sgd({ lr: 0.01 });
  const step = async () => {
    await scope(async () => {
      const loss = ops.softmaxCrossEntropy(net.forward(x), labels);
      backward(loss);
      await loss.data();
      optimizer.step(net);
      optimizer.zeroGrad(net);
    });
    await gpu.sync();
  };
  const modes: FreezingCostMode[] = [];
  try {
    net.train();
    for (const name of ['all trainable', 'layer4 + fc trainable']) {
      if (name === 'all trainable') net.unfreeze();
      else net.freeze().unfreeze('layer4').unfreeze('fc');
      const trainable = net.trainableParameters().reduce((n, p) => n + p.size, 0);
      await step(); // compiles this mode's pipelines
      const times: number[] = [];
      gpu.resetCounters();
      for (let i = 0; i < steps; i++) {
        const t0 = performance.now();
        await step();
        times.push(performance.now() - t0);
      }
      const counts = gpu.stats().dispatches;
      const byKernel = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / steps]));
      const dispatches = Object.values(byKernel).reduce((a, b) => a + b, 0);
      times.sort((a, b) => a - b);
      modes.push({ name, trainable, dispatches, byKernel, ms: times[Math.floor(times.length / 2)] });
    }
  } finally {
    optimizer.dispose();
    x.dispose();
    labels.dispose();
    net.dispose();
  }
  return { arch: `resnet18${width === 64 ? '' : ` (width ${width})`}`, input, modes };
}

/** The measurement as a markdown table with the frozen run's share of dispatches and time. */
export function formatFreezingCost(c: FreezingCost): string {
  const [all, top] = c.modes;
  const group = (m: FreezingCostMode, part: string) => Object.entries(m.byKernel).filter(([k]) => k.includes(part)).reduce((a, [, v]) => a + v, 0);
  const row = (m: FreezingCostMode) => `| ${m.name} | ${m.trainable.toLocaleString('en-US')} | ${m.dispatches.toFixed(0)} | ${group(m, 'backward_filter').toFixed(0)} | ${group(m, 'backward_input').toFixed(0)} | ${m.ms.toFixed(0)} ms |`;
  return [
    `One training step of ${c.arch} on a batch [${c.input.join(', ')}] (median of the timed steps):`,
    '',
    '| trainable | parameters | dispatches | conv weight-gradient dispatches | conv input-gradient dispatches | time |',
    '|---|---:|---:|---:|---:|---:|',
    row(all),
    row(top),
    '',
    `Freezing all but layer4 + fc: ${((top.dispatches / all.dispatches) * 100).toFixed(0)}% of the dispatches, ${((top.ms / all.ms) * 100).toFixed(0)}% of the time.`,
  ].join('\n');
}
