// Elementwise kernels over flat f32 arrays. Index = x + y * (groups_x * WG): large tensors
// split their workgroups over two grid dimensions (src/kernels/runtime.ts grid1d).
//
// Broadcast add: b has `bcast_c` elements and is indexed by (i / bcast_inner) % bcast_c,
// which covers a bias over the channels of NCHW ([C], inner = H*W), over the features of
// [N, F] (inner = 1), and equal shapes (inner = 1, c = n).

const WG: u32 = 256u;

struct Params {
  n: u32,
  bcast_inner: u32,
  bcast_c: u32,
  alpha: f32,   // leaky slope, or scale
  beta: f32,    // second scale (axpy: out = alpha * a + beta * b)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn flat(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * WG;
}

@compute @workgroup_size(WG)
fn add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat(gid, groups);
  if (i >= params.n) { return; }
  out[i] = a[i] + b[(i / params.bcast_inner) % params.bcast_c];
}

// out = alpha * a + beta * b (same shapes): SGD updates, gradient accumulation, scaling.
@compute @workgroup_size(WG)
fn axpby(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat(gid, groups);
  if (i >= params.n) { return; }
  out[i] = params.alpha * a[i] + params.beta * b[i];
}

@compute @workgroup_size(WG)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat(gid, groups);
  if (i >= params.n) { return; }
  out[i] = params.alpha * a[i];
}

@compute @workgroup_size(WG)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat(gid, groups);
  if (i >= params.n) { return; }
  out[i] = params.alpha;
}

// LeakyReLU with slope alpha; ReLU is alpha = 0.
@compute @workgroup_size(WG)
fn leaky_relu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat(gid, groups);
  if (i >= params.n) { return; }
  let x = a[i];
  out[i] = select(params.alpha * x, x, x > 0.0);
}

// dx = dy * (x > 0 ? 1 : alpha); a = dy, b = x (the forward input; for ReLU the output works too).
@compute @workgroup_size(WG)
fn leaky_relu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat(gid, groups);
  if (i >= params.n) { return; }
  out[i] = select(params.alpha * a[i], a[i], b[i] > 0.0);
}

// out = alpha * b broadcast to n elements (b indexed as in `add`): gradients of sum and mean.
@compute @workgroup_size(WG)
fn broadcast(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat(gid, groups);
  if (i >= params.n) { return; }
  out[i] = params.alpha * b[(i / params.bcast_inner) % params.bcast_c];
}

// In place: out = beta * out + alpha * a (parameter updates; a may not alias out).
@compute @workgroup_size(WG)
fn axpby_inplace(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat(gid, groups);
  if (i >= params.n) { return; }
  out[i] = params.beta * out[i] + params.alpha * a[i];
}
