// Elementwise kernels. Tensors are read and written as vec4 (every pool buffer is a multiple of
// 16 bytes, so the last vec4 may run into padding, never into another tensor). Each invocation
// handles VPT vec4s, strided by the total number of invocations so that neighbouring invocations
// touch neighbouring vec4s: on SwiftShader one invocation per scalar costs far more in overhead
// than the arithmetic.
//
// Broadcast operand `bias` is indexed per element by (i / bcast_inner) % bcast_c: a bias over the
// channels of NCHW ([C], inner = H*W), over the features of [N, F] (inner = 1), or a scalar (c = 1).

const WG: u32 = 64u;
const VPT: u32 = 4u;

struct Params {
  n4: u32,          // number of vec4s
  bcast_inner: u32,
  bcast_c: u32,
  alpha: f32,       // leaky slope, scale or fill value
  beta: f32,        // second scale (axpby: out = alpha * a + beta * b)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;

struct Span { first: u32, stride: u32 }

// Invocation g of G handles vec4s g, g + G, g + 2G, ... (at most VPT of them).
fn span(gid: vec3<u32>, groups: vec3<u32>) -> Span {
  let total = groups.x * groups.y * WG;
  return Span(gid.x + gid.y * groups.x * WG, total);
}

fn bias4(i: u32) -> vec4<f32> {
  let e = i * 4u;
  let inner = params.bcast_inner;
  let c = params.bcast_c;
  return vec4<f32>(bias[(e / inner) % c], bias[((e + 1u) / inner) % c], bias[((e + 2u) / inner) % c], bias[((e + 3u) / inner) % c]);
}

// out = a + b, equal shapes.
@compute @workgroup_size(WG)
fn add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = span(gid, groups);
  for (var k = 0u; k < VPT; k++) {
    let i = s.first + k * s.stride;
    if (i >= params.n4) { return; }
    out[i] = a[i] + b[i];
  }
}

// out = a + bias broadcast (see the header).
@compute @workgroup_size(WG)
fn add_broadcast(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = span(gid, groups);
  for (var k = 0u; k < VPT; k++) {
    let i = s.first + k * s.stride;
    if (i >= params.n4) { return; }
    out[i] = a[i] + bias4(i);
  }
}

// out = alpha * bias broadcast: gradients of sum and mean.
@compute @workgroup_size(WG)
fn broadcast(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = span(gid, groups);
  for (var k = 0u; k < VPT; k++) {
    let i = s.first + k * s.stride;
    if (i >= params.n4) { return; }
    out[i] = params.alpha * bias4(i);
  }
}

// out = alpha * a + beta * b (same shapes): gradient accumulation, copies.
@compute @workgroup_size(WG)
fn axpby(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = span(gid, groups);
  for (var k = 0u; k < VPT; k++) {
    let i = s.first + k * s.stride;
    if (i >= params.n4) { return; }
    out[i] = params.alpha * a[i] + params.beta * b[i];
  }
}

// In place: out = beta * out + alpha * a (parameter updates; a may not alias out).
@compute @workgroup_size(WG)
fn axpby_inplace(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = span(gid, groups);
  for (var k = 0u; k < VPT; k++) {
    let i = s.first + k * s.stride;
    if (i >= params.n4) { return; }
    out[i] = params.beta * out[i] + params.alpha * a[i];
  }
}

@compute @workgroup_size(WG)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = span(gid, groups);
  for (var k = 0u; k < VPT; k++) {
    let i = s.first + k * s.stride;
    if (i >= params.n4) { return; }
    out[i] = params.alpha * a[i];
  }
}

@compute @workgroup_size(WG)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = span(gid, groups);
  for (var k = 0u; k < VPT; k++) {
    let i = s.first + k * s.stride;
    if (i >= params.n4) { return; }
    out[i] = vec4<f32>(params.alpha);
  }
}

// LeakyReLU with slope alpha; ReLU is alpha = 0.
@compute @workgroup_size(WG)
fn leaky_relu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = span(gid, groups);
  for (var k = 0u; k < VPT; k++) {
    let i = s.first + k * s.stride;
    if (i >= params.n4) { return; }
    let x = a[i];
    out[i] = select(params.alpha * x, x, x > vec4<f32>(0.0));
  }
}

// dx = dy * (x > 0 ? 1 : alpha); a = dy, b = x (the forward input; for ReLU the output works too).
@compute @workgroup_size(WG)
fn leaky_relu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = span(gid, groups);
  for (var k = 0u; k < VPT; k++) {
    let i = s.first + k * s.stride;
    if (i >= params.n4) { return; }
    let dy = a[i];
    out[i] = select(params.alpha * dy, dy, b[i] > vec4<f32>(0.0));
  }
}
