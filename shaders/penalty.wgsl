// Weight penalties (L2: sum of squares, L1: sum of absolute values) and their gradients. The
// forward maps x elementwise (square / abs) and reduce.wgsl sums the result; the backward scales
// by the upstream gradient, a one-element tensor read on the GPU (no readback):
//   d(sum x^2)/dx = 2x,  d(sum |x|)/dx = sign(x) (0 at 0, as torch).
// vec4 layout and invocation spans as in elementwise.wgsl.

const WG: u32 = 64u;
const VPT: u32 = 4u;

struct Params {
  n4: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> upstream: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;

struct Span { first: u32, stride: u32 }

fn span(gid: vec3<u32>, groups: vec3<u32>) -> Span {
  return Span(gid.x + gid.y * groups.x * WG, groups.x * groups.y * WG);
}

@compute @workgroup_size(WG)
fn square(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = span(gid, groups);
  for (var k = 0u; k < VPT; k++) {
    let i = s.first + k * s.stride;
    if (i >= params.n4) { return; }
    out[i] = x[i] * x[i];
  }
}

@compute @workgroup_size(WG)
fn absolute(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = span(gid, groups);
  for (var k = 0u; k < VPT; k++) {
    let i = s.first + k * s.stride;
    if (i >= params.n4) { return; }
    out[i] = abs(x[i]);
  }
}

// out = 2 * g * x
@compute @workgroup_size(WG)
fn square_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = span(gid, groups);
  let g = 2.0 * upstream[0];
  for (var k = 0u; k < VPT; k++) {
    let i = s.first + k * s.stride;
    if (i >= params.n4) { return; }
    out[i] = g * x[i];
  }
}

// out = g * sign(x)
@compute @workgroup_size(WG)
fn absolute_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = span(gid, groups);
  let g = upstream[0];
  for (var k = 0u; k < VPT; k++) {
    let i = s.first + k * s.stride;
    if (i >= params.n4) { return; }
    out[i] = g * sign(x[i]);
  }
}
