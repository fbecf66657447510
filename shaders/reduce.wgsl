// Sum reductions. x is viewed as [outer, C, inner]; sum_to_channels gives out[c] = sum over outer
// and inner (bias gradients of NCHW convs with inner = H*W, of Linear with inner = 1; a full sum
// with C = 1). One workgroup per channel reduces in two stages: strided per-thread partial sums in
// f32, then a tree in workgroup memory.

const WG: u32 = 256u;

struct Params {
  outer: u32,
  c: u32,
  inner: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn sum_to_channels(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let per_channel = params.outer * params.inner;
  var acc = 0.0;
  for (var j = lid; j < per_channel; j += WG) {
    let o = j / params.inner;
    let k = j - o * params.inner;
    acc += x[(o * params.c + c) * params.inner + k];
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[c] = partial[0] * params.scale; }
}
