// `npm run soak`: 1000 training steps of a small conv net (a fresh random batch every step, SGD with
// momentum, then Adam), printing live and pooled GPU buffers and the process's RSS at intervals. A
// leak shows as a count that keeps growing after the warm-up; the run ends with a verdict line and
// a non-zero exit when live or pooled buffers grew after step 50. Options: --steps N (default 1000),
// --every N (default 100). Run it niced on a shared machine: `nice npm run soak`.
import { backward, zeroGrad } from '../src/graph/autograd.ts';
import { graft, type Gpu } from '../src/graph/gpu.ts';
import { Module } from '../src/graph/module.ts';
import * as ops from '../src/graph/ops.ts';
import { type Tensor, scope } from '../src/graph/tensor.ts';
import { BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../src/models/layers.ts';
import { adam, sgd, type Optimizer } from '../src/train/optim.ts';

class SmallNet extends Module {
  readonly features: Sequential;
  readonly fc: Linear;
  constructor(gpu: Gpu) {
    super();
    this.features = this.addModule(
      'features',
      new Sequential(
        new Conv2d(gpu, 3, 8, 3, { padding: 1, bias: false, seed: 11 }),
        new BatchNorm2d(gpu, 8),
        new ReLU(),
        new MaxPool2d(2),
        new Conv2d(gpu, 8, 16, 3, { stride: 2, padding: 1, seed: 12 }),
        new BatchNorm2d(gpu, 16),
        new ReLU(),
      ),
    );
    this.fc = this.addModule('fc', new Linear(gpu, 16, 4, { seed: 13 }));
  }
  forward(x: Tensor): Tensor {
    return this.fc.forward(new Flatten().forward(ops.globalAvgPool(this.features.forward(x))));
  }
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer`);
  return v;
}

let seed = 1;
const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;

async function main(): Promise<void> {
  const steps = arg('steps', 1000);
  const every = arg('every', 100);
  const gpu = await graft();
  const net = new SmallNet(gpu);
  const optimizers: Optimizer[] = [sgd({ lr: 0.05, momentum: 0.9 }), adam({ lr: 0.001 })];
  const mb = (n: number) => (n / 2 ** 20).toFixed(1);
  const kb = (n: number) => (n / 2 ** 10).toFixed(1);
  const rows: { step: number; live: number; liveBytes: number; pooled: number; pooledBytes: number; rss: number }[] = [];
  const start = performance.now();
  console.log('step   loss      live buffers (KB)   pooled buffers (KB)   rss MB   s');
  for (let i = 1; i <= steps; i++) {
    const optimizer = optimizers[i <= steps / 2 ? 0 : 1];
    const loss = await scope(async () => {
      const x = gpu.tensor(Float32Array.from({ length: 8 * 3 * 16 * 16 }, random), [8, 3, 16, 16]);
      const y = gpu.tensor(Int32Array.from({ length: 8 }, (_, k) => (k + i) % 4), [8], 'i32');
      const l = ops.softmaxCrossEntropy(net.forward(x), y);
      backward(l);
      optimizer.step(net);
      zeroGrad(net.parameters());
      return l.item();
    });
    if (i === 1 || i % every === 0 || i === steps) {
      const s = gpu.stats();
      const rss = process.memoryUsage().rss;
      rows.push({ step: i, live: s.liveBuffers, liveBytes: s.liveBytes, pooled: s.pooledBuffers, pooledBytes: s.pooledBytes, rss });
      const t = ((performance.now() - start) / 1000).toFixed(0);
      console.log(`${String(i).padStart(4)}   ${loss.toFixed(4).padStart(7)}   ${String(s.liveBuffers).padStart(6)} (${kb(s.liveBytes).padStart(6)})   ${String(s.pooledBuffers).padStart(6)} (${kb(s.pooledBytes).padStart(6)})      ${mb(rss).padStart(7)}  ${t.padStart(4)}`);
    }
  }
  // After the warm-up (and the switch to Adam, which adds its moment buffers), counts must be flat.
  const settled = rows.filter((r) => r.step > steps / 2 + 50 || (r.step >= 50 && r.step <= steps / 2));
  const firstHalf = settled.filter((r) => r.step <= steps / 2);
  const secondHalf = settled.filter((r) => r.step > steps / 2);
  const flat = (rs: typeof rows) => rs.every((r) => r.live === rs[0].live && r.pooled === rs[0].pooled && r.liveBytes === rs[0].liveBytes && r.pooledBytes === rs[0].pooledBytes);
  const rssGrowth = rows.length > 2 ? rows[rows.length - 1].rss - rows[1].rss : 0;
  const ok = flat(firstHalf) && flat(secondHalf);
  console.log(`${ok ? 'flat' : 'GROWING'}: live and pooled buffers ${ok ? 'stay constant' : 'change'} after the warm-up of each optimizer; RSS ${rssGrowth >= 0 ? '+' : ''}${mb(rssGrowth)} MB from step ${rows[1]?.step ?? 1} to ${steps}`);
  net.dispose();
  process.exitCode = ok ? 0 : 1;
}

await main();
