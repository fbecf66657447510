// A/B in one process: the subgroup forward with `acc += a * b` (as shipped) vs `acc = fma(a, b, acc)`.
import { readFileSync } from 'node:fs';
import { graft } from '../../src/node.ts';
import * as conv from '../../src/kernels/conv2d.ts';
const g = await graft();
const rt = g.rt;
const reps = Number(process.argv[2] ?? 6);
const src = readFileSync('shaders/conv2d_subgroup.wgsl', 'utf8') + '\n' + readFileSync('shaders/gemm_32x8.wgsl', 'utf8');
const fmaSrc = src.replace(/(r\d+c\d+) \+= (a\d+\.[xyzw]) \* (b\d\.[xyzw]);/g, '$1 = fma($2, $3, $1);');
console.log('replaced', (src.match(/r\d+c\d+ \+= a/g) ?? []).length);
const fwd = conv.kernels.find((k) => k.name === 'conv2d.subgroup.forward_3x3')!;
const variants = { mul_add: src, fma: fmaSrc };
function buf(n: number) { const b = rt.alloc(n * 4); const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.37); rt.device.queue.writeBuffer(b, 0, a); return b; }
const L = [[1, 64, 56, 64, 3, 1, 1], [1, 256, 14, 256, 3, 1, 1], [1, 512, 7, 512, 3, 1, 1]];
const ts: Record<string, number[]> = {};
const cases = L.map(([n, cin, h, cout, k, s, p]) => {
  const x = { buffer: buf(n * cin * h * h), shape: [n, cin, h, h], dtype: 'f32' as const };
  const w = { buffer: buf(cout * cin * k * k), shape: [cout, cin, k, k], dtype: 'f32' as const };
  const ho = Math.floor((h + 2 * p - k) / s) + 1;
  return { name: `${cin}x${h}->${cout}`, flop: 2 * n * cout * ho * ho * cin * k * k, run: () => conv.conv2dForward(rt, x, w, null, { stride: s, padding: p, activation: 'relu', variant: 'subgroup' }) };
});
const outs: Record<string, Float32Array> = {};
for (let r = 0; r < reps + 1; r++) for (const [vn, text] of Object.entries(variants)) {
  fwd.wgsl = text; fwd.name = `conv2d.subgroup.forward.${vn}`;
  for (const c of cases) {
    const t = performance.now(); const o = c.run(); await rt.sync(); const dt = performance.now() - t;
    if (r > 0) (ts[`${c.name} ${vn}`] ??= []).push(dt);
    else outs[`${c.name} ${vn}`] = new Float32Array(await rt.read(o.buffer, 4 * o.shape.reduce((a, b) => a * b, 1)));
    rt.release(o.buffer);
  }
}
for (const c of cases) { const a = outs[`${c.name} mul_add`], b = outs[`${c.name} fma`]; let d = 0; for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]) / (1 + Math.abs(a[i]))); console.log(c.name, 'maxrel', d.toExponential(2)); }
for (const [k, v] of Object.entries(ts)) { v.sort((a, b) => a - b); const c = cases.find((c) => k.startsWith(c.name + ' '))!; console.log(k.padEnd(24), `min ${v[0].toFixed(1)} med ${v[v.length >> 1].toFixed(1)} ms  ${(c.flop / v[0] / 1e6).toFixed(2)} GFLOP/s`); }
process.exit(0);
