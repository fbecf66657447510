// The adapter's measured FMA ceiling: a kernel of 8 independent vec4 fma() chains per thread (32
// multiply-adds per loop step, no memory traffic in the loop), grown until one dispatch takes
// >= TARGET_MS, then the best of five more timed dispatches. Wall time around submit + completion, so
// it slightly underestimates the ceiling; "% of peak" in the report divides by this number.
import type { Gpu } from '../src/graph/gpu.ts';

const WGSL = /* wgsl */ `
struct Params { iters: u32, m: f32, c: f32, pad: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;

const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let id = (wid.y * groups.x + wid.x) * WG + lid;
  let s = f32(id) * 1e-7;
  var a0 = vec4<f32>(s, s + 0.01, s + 0.02, s + 0.03);
  var a1 = a0 + 0.1; var a2 = a0 + 0.2; var a3 = a0 + 0.3;
  var a4 = a0 + 0.4; var a5 = a0 + 0.5; var a6 = a0 + 0.6; var a7 = a0 + 0.7;
  let m = vec4<f32>(params.m);
  let c = vec4<f32>(params.c);
  for (var i = 0u; i < params.iters; i++) {
    a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
    a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
  }
  // Every chain reaches the output, so none is dead code.
  out[id] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}`;

const FLOPS_PER_STEP = 8 * 4 * 2;
const TARGET_MS = 100;
const WG = 64;

export interface FmaPeak {
  gflops: number;
  /** Threads and loop steps of the measured dispatch. */
  threads: number;
  iters: number;
}

/** Measure the FMA ceiling of Graft's adapter (a few hundred ms on SwiftShader). */
export async function measureFmaPeak(gpu: Gpu): Promise<FmaPeak> {
  const rt = gpu.rt;
  const kernel = rt.kernel({ name: 'bench.fma_peak', wgsl: WGSL, entry: 'main' });
  const maxX = rt.limits.maxComputeWorkgroupsPerDimension;
  let [groups, iters] = [16, 256];
  let out = rt.alloc(groups * WG * 16);
  const run = async (): Promise<number> => {
    const t = performance.now();
    const x = Math.min(groups, maxX);
    rt.dispatch(kernel, { params: { iters, m: 0.9999, c: 1e-4, pad: 0 }, buffers: { out }, workgroups: [x, Math.ceil(groups / x), 1] });
    await rt.sync();
    return performance.now() - t;
  };
  try {
    await run(); // compile
    // The shorter of two runs: one slowed by a busy machine does not stop the growth early.
    const twice = async () => Math.min(await run(), await run());
    let ms = await twice();
    // Grow the work (threads first, then loop steps) until a dispatch is long enough to time.
    while (ms < TARGET_MS) {
      const factor = Math.min(8, Math.max(2, Math.ceil(TARGET_MS / Math.max(ms, 0.5))));
      if (groups * factor <= 1 << 20) {
        groups *= factor;
        rt.release(out);
        out = rt.alloc(Math.ceil(groups / Math.min(groups, maxX)) * Math.min(groups, maxX) * WG * 16);
      } else {
        iters *= factor;
      }
      ms = await twice();
    }
    let best = ms;
    for (let i = 0; i < 5; i++) best = Math.min(best, await run());
    const threads = groups * WG;
    return { gflops: (threads * iters * FLOPS_PER_STEP) / (best / 1000) / 1e9, threads, iters };
  } finally {
    rt.release(out);
  }
}
