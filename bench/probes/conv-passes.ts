// Interleaved fwd / dx / dw timing per shape (subgroup variant), GFLOP/s from the best run.
import { graft } from '../../src/node.ts';
import * as conv from '../../src/kernels/conv2d.ts';
const g = await graft();
const rt = g.rt;
const reps = Number(process.argv[2] ?? 5);
const L = JSON.parse(process.argv[3] ?? '[[8,64,28,64,3,1,1],[8,128,14,128,3,1,1],[8,256,7,256,3,1,1],[8,512,4,512,3,1,1],[8,128,14,256,3,2,1]]');
function buf(n: number) { const b = rt.alloc(n * 4); const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.37); rt.device.queue.writeBuffer(b, 0, a); return b; }
const cases: { name: string; flop: number; run: () => { buffer: GPUBuffer }; ts: number[] }[] = [];
for (const [n, cin, h, cout, k, s, p] of L) {
  const x = { buffer: buf(n * cin * h * h), shape: [n, cin, h, h], dtype: 'f32' as const };
  const w = { buffer: buf(cout * cin * k * k), shape: [cout, cin, k, k], dtype: 'f32' as const };
  const ho = Math.floor((h + 2 * p - k) / s) + 1;
  const dy = { buffer: buf(n * cout * ho * ho), shape: [n, cout, ho, ho], dtype: 'f32' as const };
  const flop = 2 * n * cout * ho * ho * cin * k * k;
  const nm = `n${n} ${cin}x${h}->${cout} k${k}s${s}`;
  cases.push({ name: `${nm} fwd`, flop, run: () => conv.conv2dForward(rt, x, w, null, { stride: s, padding: p }), ts: [] });
  cases.push({ name: `${nm} dx `, flop, run: () => conv.conv2dBackwardInput(rt, dy, w, x.shape, { stride: s, padding: p }), ts: [] });
  cases.push({ name: `${nm} dw `, flop, run: () => conv.conv2dBackwardFilter(rt, dy, x, w.shape, { stride: s, padding: p }), ts: [] });
}
for (const c of cases) { const o = c.run(); await rt.sync(); rt.release(o.buffer); }
for (let r = 0; r < reps; r++) for (const c of cases) { const t = performance.now(); const o = c.run(); await rt.sync(); c.ts.push(performance.now() - t); rt.release(o.buffer); }
for (const c of cases) { c.ts.sort((a, b) => a - b); console.log(`${c.name.padEnd(30)} min ${c.ts[0].toFixed(1)} ms  ${(c.flop / c.ts[0] / 1e6).toFixed(2)} GFLOP/s`); }
process.exit(0);
