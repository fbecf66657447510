// A/B of the subgroup conv kernels in one process: shaders/conv2d_subgroup.wgsl (+ the register
// block file src/kernels/conv2d.ts appends) at a git revision (default HEAD) against the working
// tree, interleaved, on the forward, input gradient and weight gradient of each shape; checks that
// both give the same outputs. Prints wall time (median, min) and the process's CPU time (median),
// which a VM losing a core disturbs less.
//   node --import ./scripts/register.js bench/probes/conv-ab.ts [reps=5] [shapes JSON] [rev=HEAD]
// shapes: [[n, cin, h, cout, k, stride, pad], ...]
import { graft } from '../../src/node.ts';
import * as conv from '../../src/kernels/conv2d.ts';
import { convShaderSwap } from './shader-swap.ts';

const reps = Number(process.argv[2] ?? 5);
const L: number[][] = JSON.parse(process.argv[3] ?? '[[1,64,56,64,3,1,1],[1,256,14,256,3,1,1],[1,512,7,512,3,1,1],[8,128,14,128,3,1,1],[8,128,14,256,3,2,1]]');
const rev = process.argv[4] ?? 'HEAD';
const swap = convShaderSwap(rev);
const g = await graft();
const rt = g.rt;
function buf(n: number) {
  const b = rt.alloc(n * 4);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.37);
  rt.device.queue.writeBuffer(b, 0, a);
  return b;
}
const cases: { name: string; flop: number; run: () => { buffer: GPUBuffer; shape: readonly number[] } }[] = [];
for (const [n, cin, h, cout, k, s, p] of L) {
  const x = { buffer: buf(n * cin * h * h), shape: [n, cin, h, h], dtype: 'f32' as const };
  const w = { buffer: buf(cout * cin * k * k), shape: [cout, cin, k, k], dtype: 'f32' as const };
  const ho = Math.floor((h + 2 * p - k) / s) + 1;
  const dy = { buffer: buf(n * cout * ho * ho), shape: [n, cout, ho, ho], dtype: 'f32' as const };
  const flop = 2 * n * cout * ho * ho * cin * k * k;
  const nm = `n${n} ${cin}x${h}->${cout} k${k}s${s}`;
  const opt = { stride: s, padding: p, variant: 'subgroup' as const };
  cases.push({ name: `${nm} fwd`, flop, run: () => conv.conv2dForward(rt, x, w, null, opt) });
  cases.push({ name: `${nm} dx`, flop, run: () => conv.conv2dBackwardInput(rt, dy, w, x.shape, opt) });
  cases.push({ name: `${nm} dw`, flop, run: () => conv.conv2dBackwardFilter(rt, dy, x, w.shape, opt) });
}
const ts: Record<string, number[]> = {};
const outs: Record<string, Float32Array> = {};
// CPU time of the process (all threads, SwiftShader's included): unlike wall time it does not
// grow while the VM has a core taken away.
const cpu: Record<string, number[]> = {};
for (let r = 0; r <= reps; r++) {
  // Alternate which goes first: a round's second half runs on a warmer machine.
  const order = r % 2 ? [...swap.sides].reverse() : swap.sides;
  for (const which of order) {
    swap.use(which);
    for (const c of cases) {
      const t = performance.now();
      const u = process.cpuUsage();
      const o = c.run();
      await rt.sync();
      const dt = performance.now() - t;
      const du = process.cpuUsage(u);
      if (r === 0) outs[`${c.name} ${which}`] = new Float32Array(await rt.read(o.buffer, 4 * o.shape.reduce((a, b) => a * b, 1)));
      else {
        (ts[`${c.name} ${which}`] ??= []).push(dt);
        (cpu[`${c.name} ${which}`] ??= []).push((du.user + du.system) / 1000);
      }
      rt.release(o.buffer);
    }
  }
}
const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
for (const c of cases) {
  const [a, b] = swap.sides.map((w) => outs[`${c.name} ${w}`]);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]) / (1 + Math.abs(a[i])));
  const [ta, tb] = swap.sides.map((w) => ts[`${c.name} ${w}`]);
  const min = (v: number[]) => Math.min(...v);
  const row = [ta, tb].map((v) => `${med(v).toFixed(1)} ms (min ${min(v).toFixed(1)}, ${(c.flop / min(v) / 1e6).toFixed(2)} GFLOP/s)`);
  const ratio = `median ${(med(tb) / med(ta)).toFixed(2)} min ${(min(tb) / min(ta)).toFixed(2)}`;
  const [ca, cb] = swap.sides.map((w) => med(cpu[`${c.name} ${w}`]));
  console.log(`${c.name.padEnd(26)} ${rev}: ${row[0].padEnd(36)} tree: ${row[1].padEnd(36)} tree/${rev}: ${ratio}  cpu ${ca.toFixed(0)} / ${cb.toFixed(0)} ms = ${(cb / ca).toFixed(2)}  max rel diff ${d.toExponential(1)}`);
}
process.exit(0);
