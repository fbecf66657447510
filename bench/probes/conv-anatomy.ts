// Where the subgroup 3x3 forward's time goes: variants without the B (input) loads, without the A
// (weight) loads, without both; their addresses are still computed. One process, alternating.
import { readFileSync } from 'node:fs';
import { graft } from '../../src/node.ts';
import * as conv from '../../src/kernels/conv2d.ts';
const g = await graft();
const rt = g.rt;
const reps = Number(process.argv[2] ?? 5);
const src = readFileSync('shaders/conv2d_subgroup.wgsl', 'utf8') + '\n' + readFileSync('shaders/gemm_32x8.wgsl', 'utf8');
const swap = (text: string, from: string, to: string) => {
  if (!text.includes(from)) throw new Error(`probe out of date: no '${from.split('\n')[0]}'`);
  return text.replace(from, to);
};
// The loads' results replaced by their offsets (bitcast): the addresses are still computed.
const noB = (t: string) => swap(t, 'return select(vec4<f32>(0.0), vec4<f32>(x[o.x], x[o.y], x[o.z], x[o.w]), ok);', 'return select(vec4<f32>(0.0), bitcast<vec4<f32>>(o), ok);');
const noA = (t: string) => swap(t, 'return vec4<f32>(wt[o.x], wt[o.y], wt[o.z], wt[o.w]);', 'return bitcast<vec4<f32>>(o);');
const fwd = conv.kernels.find((k) => k.name === 'conv2d.subgroup.forward_3x3')!;
const variants: Record<string, string> = { shipped: src, noB: noB(src), noA: noA(src), none: noA(noB(src)) };
function buf(n: number) { const b = rt.alloc(n * 4); const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.37); rt.device.queue.writeBuffer(b, 0, a); return b; }
const L = JSON.parse(process.argv[3] ?? '[[1,256,14,256,3,1,1]]');
const ts: Record<string, number[]> = {};
const cases = L.map(([n, cin, h, cout, k, s, p]: number[]) => {
  const x = { buffer: buf(n * cin * h * h), shape: [n, cin, h, h], dtype: 'f32' as const };
  const w = { buffer: buf(cout * cin * k * k), shape: [cout, cin, k, k], dtype: 'f32' as const };
  const ho = Math.floor((h + 2 * p - k) / s) + 1;
  return { name: `${cin}x${h}->${cout}`, flop: 2 * n * cout * ho * ho * cin * k * k, run: () => conv.conv2dForward(rt, x, w, null, { stride: s, padding: p, activation: 'relu', variant: 'subgroup' }) };
});
for (let r = 0; r < reps + 1; r++) for (const [vn, text] of (r % 2 ? Object.entries(variants).reverse() : Object.entries(variants))) {
  fwd.wgsl = text; fwd.name = `conv2d.subgroup.forward.${vn}`;
  for (const c of cases) {
    const t = performance.now(); const o = c.run(); await rt.sync(); const dt = performance.now() - t;
    if (r > 0) (ts[`${c.name} ${vn}`] ??= []).push(dt);
    rt.release(o.buffer);
  }
}
for (const [k, v] of Object.entries(ts)) { v.sort((a, b) => a - b); const c = cases.find((c: { name: string }) => k.startsWith(c.name + ' '))!; console.log(k.padEnd(24), `min ${v[0].toFixed(1)} med ${v[v.length >> 1].toFixed(1)} ms  ${(c.flop / v[0] / 1e6).toFixed(2)} GFLOP/s`); }
process.exit(0);
