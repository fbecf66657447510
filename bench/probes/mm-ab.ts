// Interleaved timing of matmul variants on a few shapes: GFLOP/s from the best of `reps` runs.
import { graft } from '../../src/node.ts';
import * as mm from '../../src/kernels/matmul.ts';
const g = await graft();
const rt = g.rt;
const reps = Number(process.argv[2] ?? 4);
// [M, K, N, transA, transB]
const L: [number, number, number, boolean, boolean][] = JSON.parse(process.argv[3] ?? '[[1024,1024,1024,false,false],[8,512,1000,false,true],[1000,8,512,true,false],[8,1000,512,false,false],[1,4096,4096,false,true],[32,2048,1000,false,true]]');
const variants = (process.argv[4] ?? 'blocked,subgroup').split(',') as mm.MatmulVariant[];
function buf(n: number) { const b = rt.alloc(n * 4); const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.37); rt.device.queue.writeBuffer(b, 0, a); return b; }
const cases: { name: string; flop: number; run: () => { buffer: GPUBuffer }; ts: number[] }[] = [];
for (const [m, k, n, tA, tB] of L) {
  const a = { buffer: buf(m * k), shape: tA ? [k, m] : [m, k], dtype: 'f32' as const };
  const b = { buffer: buf(k * n), shape: tB ? [n, k] : [k, n], dtype: 'f32' as const };
  for (const v of variants) cases.push({ name: `${m}x${k}x${n}${tA ? ' tA' : ''}${tB ? ' tB' : ''} ${v}`, flop: 2 * m * n * k, run: () => mm.matmul(rt, a, b, { transA: tA, transB: tB, variant: v }), ts: [] });
}
for (const c of cases) { const o = c.run(); await rt.sync(); rt.release(o.buffer); }
for (let r = 0; r < reps; r++) for (const c of cases) { const t = performance.now(); const o = c.run(); await rt.sync(); c.ts.push(performance.now() - t); rt.release(o.buffer); }
for (const c of cases) { c.ts.sort((a, b) => a - b); console.log(`${c.name.padEnd(34)} min ${c.ts[0].toFixed(1)} ms  ${(c.flop / c.ts[0] / 1e6).toFixed(2)} GFLOP/s`); }
process.exit(0);
