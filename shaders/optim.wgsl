// Fused optimizer updates: one dispatch updates one parameter and its state in place, following
// torch.optim's rules exactly (see the entry points). Tensors are read and written as vec4: every
// pool buffer is a multiple of 16 bytes, so the last vec4 runs into padding, never into another
// tensor (padding lanes hold garbage and are never read as values). Each invocation handles VPT
// vec4s, strided by the total invocation count, as in elementwise.wgsl.
//
// `first` is 1 on the step that creates the state: torch starts the momentum buffer as a copy of
// the first update direction and Adam's moments at zero, so the state buffers need no fill pass.

const WG: u32 = 64u;
const VPT: u32 = 4u;

struct SgdParams {
  n4: u32,
  lr: f32,
  weight_decay: f32,  // L2 folded into the gradient: d = grad + weight_decay * param
  momentum: f32,
  dampening: f32,
  nesterov: u32,
  first: u32,
}

struct AdamParams {
  n4: u32,
  weight_decay: f32,
  decay_factor: f32,           // AdamW: param *= 1 - lr * weight_decay first (1 for Adam)
  beta1: f32,
  beta2: f32,
  eps: f32,
  step_size: f32,              // lr / (1 - beta1^t)
  bias_correction2_sqrt: f32,  // sqrt(1 - beta2^t)
  first: u32,
}

@group(0) @binding(0) var<uniform> sgd: SgdParams;
@group(0) @binding(0) var<uniform> adam: AdamParams;
@group(0) @binding(1) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> momentum_buffer: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> exp_avg: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> exp_avg_sq: array<vec4<f32>>;

struct Span { first: u32, stride: u32 }

fn span(gid: vec3<u32>, groups: vec3<u32>) -> Span {
  let total = groups.x * groups.y * WG;
  return Span(gid.x + gid.y * groups.x * WG, total);
}

// torch.optim.SGD without momentum: param -= lr * (grad + weight_decay * param).
@compute @workgroup_size(WG)
fn sgd_plain(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = span(gid, groups);
  for (var k = 0u; k < VPT; k++) {
    let i = s.first + k * s.stride;
    if (i >= sgd.n4) { return; }
    let p = param[i];
    param[i] = p - sgd.lr * (grad[i] + sgd.weight_decay * p);
  }
}

// torch.optim.SGD with momentum:
//   d = grad + weight_decay * param
//   buf = d on the first step, else momentum * buf + (1 - dampening) * d
//   d = nesterov ? d + momentum * buf : buf
//   param -= lr * d
@compute @workgroup_size(WG)
fn sgd_momentum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = span(gid, groups);
  for (var k = 0u; k < VPT; k++) {
    let i = s.first + k * s.stride;
    if (i >= sgd.n4) { return; }
    let p = param[i];
    let d = grad[i] + sgd.weight_decay * p;
    var buf = d;
    if (sgd.first == 0u) {
      buf = sgd.momentum * momentum_buffer[i] + (1.0 - sgd.dampening) * d;
    }
    momentum_buffer[i] = buf;
    var step = buf;
    if (sgd.nesterov != 0u) {
      step = d + sgd.momentum * buf;
    }
    param[i] = p - sgd.lr * step;
  }
}

// torch.optim.Adam / AdamW (amsgrad off):
//   AdamW: param *= 1 - lr * weight_decay;  Adam: g = grad + weight_decay * param
//   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
//   param -= step_size * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
@compute @workgroup_size(WG)
fn adam_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = span(gid, groups);
  for (var k = 0u; k < VPT; k++) {
    let i = s.first + k * s.stride;
    if (i >= adam.n4) { return; }
    let p = param[i] * adam.decay_factor;
    let g = grad[i] + adam.weight_decay * p;
    var m = vec4<f32>(0.0);
    var v = vec4<f32>(0.0);
    if (adam.first == 0u) {
      m = exp_avg[i];
      v = exp_avg_sq[i];
    }
    m = adam.beta1 * m + (1.0 - adam.beta1) * g;
    v = adam.beta2 * v + (1.0 - adam.beta2) * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    let denom = sqrt(v) / adam.bias_correction2_sqrt + adam.eps;
    param[i] = p - adam.step_size * m / denom;
  }
}
