// The fixed cost of a tiny op: what Graft's runtime adds around a dispatch that does almost no work.
//   node --import ./scripts/register.js bench/op-cost.ts [--runs 200] [--json out.json]
// Cases (4-element f32 tensors; medians, quartiles over the runs after a warm-up):
//   op + read       c = a + b, then c.data()               (one dispatch, one readback)
//   upload+op+read  a = gpu.tensor(4 values), then as above (adds a queue write)
//   chain 100       100 chained adds, then one readback     (reported per op)
//   record 100      100 chained adds recorded and submitted, no wait (CPU side only, per op)
import fs from 'node:fs';
import { graft } from '../src/graph/gpu.ts';
import * as ops from '../src/graph/ops.ts';
import { type Tensor, scope } from '../src/graph/tensor.ts';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const runs = Number(arg('--runs', '200'));
const jsonOut = argv.includes('--json') ? arg('--json', '') : null;

const gpu = await graft();
const a = gpu.tensor([1, 2, 3, 4], [4]);
const b = gpu.tensor([0.5, 0.25, 0.125, 1], [4]);

interface Summary {
  case: string;
  unit: string;
  median: number;
  q1: number;
  q3: number;
  runs: number;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function measure(name: string, n: number, perRun: number, body: () => Promise<void>): Promise<Summary> {
  for (let i = 0; i < Math.max(5, Math.floor(n / 10)); i++) await body();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await body();
    times.push((performance.now() - t0) / perRun);
  }
  times.sort((x, y) => x - y);
  return { case: name, unit: perRun > 1 ? 'ms per op' : 'ms', median: quantile(times, 0.5), q1: quantile(times, 0.25), q3: quantile(times, 0.75), runs: n };
}

function chain(length: number): Tensor {
  let x = a;
  for (let i = 0; i < length; i++) x = ops.add(x, b);
  return x;
}

const expectedChain = [1, 2, 3, 4].map((v, i) => v + 100 * [0.5, 0.25, 0.125, 1][i]);
const results: Summary[] = [];
results.push(
  await measure('op + read', runs, 1, async () => {
    await scope(async () => {
      await ops.add(a, b).data();
    });
  }),
);
results.push(
  await measure('upload + op + read', runs, 1, async () => {
    await scope(async () => {
      await ops.add(gpu.tensor([1, 2, 3, 4], [4]), b).data();
    });
  }),
);
results.push(
  await measure('chain 100 + read', Math.max(10, Math.floor(runs / 10)), 100, async () => {
    await scope(async () => {
      const got = await chain(100).data();
      if (got.some((v, i) => Math.abs(v - expectedChain[i]) > 1e-4)) throw new Error(`chain gave ${Array.from(got)}, expected ${expectedChain}`);
    });
  }),
);
results.push(
  await measure('record 100 (no wait)', Math.max(10, Math.floor(runs / 10)), 100, async () => {
    scope(() => {
      chain(100);
      gpu.rt.flush();
    });
  }),
);
await gpu.sync();

const fmt = (v: number) => (v < 0.1 ? v.toFixed(4) : v.toFixed(3));
console.log(`adapter: ${gpu.adapter.description} (${gpu.adapter.runtime}); ${runs} runs`);
for (const r of results) console.log(`${r.case.padEnd(22)} ${fmt(r.median).padStart(8)} ${r.unit}  (q1 ${fmt(r.q1)}, q3 ${fmt(r.q3)}, ${r.runs} runs)`);
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify({ date: new Date().toISOString(), results }, null, 2));
gpu.destroy();
