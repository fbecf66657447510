// Sum reductions without workgroup barriers (a barrier makes SwiftShader loops several times
// slower). x is viewed as [outer, C, inner]; out[c] = scale * sum over outer and inner.
// Stage 1 (sum_partial): invocation (j, c) sums elements j, j + P, j + 2P, ... of channel c's
// outer*inner values into partial[c * P + j]. Stage 2 (sum_finish): invocation c adds its P partials.
// With P = 1 stage 1 writes the scaled result itself.

const WG: u32 = 64u;

struct Params {
  outer: u32,
  c: u32,
  inner: u32,
  parts: u32,   // P
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;
@group(0) @binding(1) var<storage, read> partial_in: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn sum_partial(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  let c = gid.y;
  if (j >= params.parts) { return; }
  let count = params.outer * params.inner;
  var acc = 0.0;
  if (params.inner == 1u) {
    for (var e = j; e < count; e += params.parts) { acc += x[e * params.c + c]; }
  } else {
    for (var e = j; e < count; e += params.parts) {
      let o = e / params.inner;
      acc += x[(o * params.c + c) * params.inner + (e - o * params.inner)];
    }
  }
  if (params.parts == 1u) {
    partial[c] = acc * params.scale;
  } else {
    partial[c * params.parts + j] = acc;
  }
}

@compute @workgroup_size(WG)
fn sum_finish(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= params.c) { return; }
  var acc = 0.0;
  for (var j = 0u; j < params.parts; j++) { acc += partial_in[c * params.parts + j]; }
  out[c] = acc * params.scale;
}
