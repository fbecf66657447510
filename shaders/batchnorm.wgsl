// Batch normalisation of x: [N, C, H, W], per channel c over the m = N*H*W elements x[:, c, :, :].
// Flat element i lies in channel (i / hw) % C; element j < m of channel c is
// x[(n*C + c)*hw + k] with n = j / hw, k = j % hw.
//
// Per-channel results travel in one small buffer, stats: [4, C] with rows
//   0 mean, 1 invstd = 1/sqrt(var + eps), 2 scale = gamma*invstd, 3 shift = beta - mean*scale,
// so the forward is y = x*scale + shift and the backward needs no gamma.
//
// Two ways to get per-channel moments / sums:
//   *_reference: one workgroup per channel, strided loads, tree reductions (stats: two passes,
//                mean then centred squares).
//   *_partial + *_finalize (split): a grid of (slices, C) barrier-free workgroups in which every
//                invocation reduces a strided share of one slice of a channel (stats: Welford, one
//                read of x) to its own partial; then one thread per channel merges the partials
//                (Chan's formula for the moments).
// Split partials come scalar or vec4 (vec4 when hw % 4 == 0: every plane starts 16-byte aligned).
// Split elementwise passes are vec4 whenever the total is a multiple of 4 and hw >= 4 (MIXED when a
// vec4 can straddle two planes); the reference variant stays scalar throughout.
//
// A leaky ReLU (ReLU: slope 0) fused into the forward, y = act(x*scale + shift [+ res]), is undone
// inside the backward kernels (GATE): they read the forward output y and use the gradient of the
// pre-activation g = dy * (y > 0 ? 1 : slope) in place of dy, so no separate pass writes g. With
// a residual in the forward (RESIDUAL), the residual's gradient is that same g: the reduce kernels
// also write it (KEEP) and the dx pass then reads it back as dy, ungated.

const WG: u32 = 256u;
// Workgroup size of the split stage-1 kernels (their partials per channel are slices * PWG).
const PWG: u32 = 64u;

struct Params {
  n: u32,        // N
  c: u32,        // C
  hw: u32,       // H * W
  slices: u32,   // partial kernels: slices per channel
  span: u32,     // partial kernels: units (elements or vec4s) of a channel per slice (the last may be shorter)
  total: u32,    // elementwise kernels: N*C*H*W (in vec4s for the _vec4 entries)
  eps: f32,
  momentum: f32,
  update: u32,   // 1: update running_mean / running_var in place (training)
  act: u32,      // normalize: 1 applies a leaky ReLU with `slope` (ReLU: slope 0) to the output
  slope: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> gamma: array<f32>;
@group(0) @binding(6) var<storage, read> beta: array<f32>;
@group(0) @binding(7) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(8) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(9) var<storage, read_write> stats_out: array<f32>;   // [4, C]
@group(0) @binding(10) var<storage, read> stats: array<f32>;            // [4, C]
@group(0) @binding(11) var<storage, read_write> partial: array<f32>;    // [C, slices*PWG, 3 or 2]
@group(0) @binding(12) var<storage, read> partial_in: array<f32>;
@group(0) @binding(13) var<storage, read_write> sum_dy: array<f32>;     // [C]: dbeta
@group(0) @binding(14) var<storage, read_write> sum_dy_xhat: array<f32>; // [C]: dgamma
@group(0) @binding(15) var<storage, read_write> out: array<f32>;
@group(0) @binding(16) var<storage, read_write> out4: array<vec4<f32>>;
@group(0) @binding(17) var<storage, read> y: array<f32>;       // the forward output (GATE: its sign)
@group(0) @binding(18) var<storage, read> y4: array<vec4<f32>>;
@group(0) @binding(19) var<storage, read> res: array<f32>;     // the forward's residual (RESIDUAL)
@group(0) @binding(20) var<storage, read> res4: array<vec4<f32>>;

// Template constants (see the top): undo a fused activation in the backward; write the gated
// gradient from the reduce kernels; add a residual in the forward.
const GATE: bool = false;
const KEEP: bool = false;
const RESIDUAL: bool = false;

var<workgroup> red_a: array<f32, WG>;

fn flat(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * WG;
}

fn channel_index(c: u32, j: u32) -> u32 {
  let n = j / params.hw;
  return (n * params.c + c) * params.hw + (j - n * params.hw);
}

// Sum of v over the workgroup (every invocation gets it).
fn tree_sum(lid: u32, v: f32) -> f32 {
  red_a[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) { red_a[lid] += red_a[lid + s]; }
    workgroupBarrier();
  }
  let r = red_a[0];
  workgroupBarrier();
  return r;
}

// Write row c of stats_out from the biased batch variance and, in training, update the running
// statistics as torch does: running = (1 - momentum) * running + momentum * batch, with the
// unbiased variance var * m / (m - 1) for running_var.
fn finish_channel(c: u32, mean: f32, var_biased: f32) {
  let invstd = 1.0 / sqrt(var_biased + params.eps);
  let scale = gamma[c] * invstd;
  stats_out[c] = mean;
  stats_out[params.c + c] = invstd;
  stats_out[2u * params.c + c] = scale;
  stats_out[3u * params.c + c] = beta[c] - mean * scale;
  if (params.update == 1u) {
    let m = f32(params.n * params.hw);
    let mom = params.momentum;
    running_mean[c] = (1.0 - mom) * running_mean[c] + mom * mean;
    running_var[c] = (1.0 - mom) * running_var[c] + mom * var_biased * m / (m - 1.0);
  }
}

// The backward's gradient at flat element i: dy, or (GATE) dy gated by the forward output's sign,
// with leaky_relu_backward's arithmetic. Without GATE, y is bound but never read.
fn grad(i: u32) -> f32 {
  let g = dy[i];
  if (!GATE) { return g; }
  return select(params.slope * g, g, y[i] > 0.0);
}

fn grad4(i: u32) -> vec4<f32> {
  let g = dy4[i];
  if (!GATE) { return g; }
  return select(params.slope * g, g, y4[i] > vec4<f32>(0.0));
}

// ---- statistics ---------------------------------------------------------------------------------

// One workgroup per channel: mean, then the mean of centred squares (two reads of x).
@compute @workgroup_size(WG)
fn stats_reference(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let m = params.n * params.hw;
  var acc = 0.0;
  for (var j = lid; j < m; j += WG) { acc += x[channel_index(c, j)]; }
  let mean = tree_sum(lid, acc) / f32(m);
  var acc2 = 0.0;
  for (var j = lid; j < m; j += WG) {
    let d = x[channel_index(c, j)] - mean;
    acc2 += d * d;
  }
  let var_biased = tree_sum(lid, acc2) / f32(m);
  if (lid == 0u) { finish_channel(c, mean, var_biased); }
}

// Split statistics, stage 1: workgroup (s, c) covers units [s*span, min((s+1)*span, m_u)) of
// channel c, a unit being one element (stats_partial) or one vec4 (stats_partial_vec4, hw % 4 == 0,
// m_u = N*hw/4). Each invocation runs Welford over a strided subset, walking (n, k) without a
// division per unit, and writes its own (count, mean, m2) to
// partial[((c*slices + s)*PWG + lid)*3 + {0, 1, 2}]. No workgroup barrier: on SwiftShader a single
// barrier makes the whole loop several times slower; stage 2 merges the partials instead.
@compute @workgroup_size(PWG)
fn stats_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let s = wid.x;
  let c = wid.y;
  let hw = params.hw;
  let end = min((s + 1u) * params.span, params.n * hw);
  let step_n = PWG / hw;
  let step_k = PWG - step_n * hw;
  var j = s * params.span + lid;
  var n = j / hw;
  var k = j - n * hw;
  var cnt = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  for (; j < end; j += PWG) {
    let v = x[(n * params.c + c) * hw + k];
    cnt += 1.0;
    let d = v - mean;
    mean += d / cnt;
    m2 += d * (v - mean);
    n += step_n;
    k += step_k;
    if (k >= hw) { k -= hw; n += 1u; }
  }
  let at = ((c * params.slices + s) * PWG + lid) * 3u;
  partial[at] = cnt;
  partial[at + 1u] = mean;
  partial[at + 2u] = m2;
}

@compute @workgroup_size(PWG)
fn stats_partial_vec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let s = wid.x;
  let c = wid.y;
  let hw4 = params.hw / 4u;
  let end = min((s + 1u) * params.span, params.n * hw4);
  let step_n = PWG / hw4;
  let step_k = PWG - step_n * hw4;
  var j = s * params.span + lid;
  var n = j / hw4;
  var k = j - n * hw4;
  // Four Welford streams (one per component) that share their count.
  var cnt = 0.0;
  var mean = vec4<f32>();
  var m2 = vec4<f32>();
  for (; j < end; j += PWG) {
    let v = x4[(n * params.c + c) * hw4 + k];
    cnt += 1.0;
    let d = v - mean;
    mean += d * (1.0 / cnt);
    m2 += d * (v - mean);
    n += step_n;
    k += step_k;
    if (k >= hw4) { k -= hw4; n += 1u; }
  }
  // Merge the four equal-count streams: mean of means, m2 plus cnt * spread of the means.
  let mu = (mean.x + mean.y + mean.z + mean.w) * 0.25;
  let spread = mean - mu;
  let at = ((c * params.slices + s) * PWG + lid) * 3u;
  partial[at] = 4.0 * cnt;
  partial[at + 1u] = mu;
  partial[at + 2u] = m2.x + m2.y + m2.z + m2.w + cnt * dot(spread, spread);
}

// Stage 2: one thread per channel merges its slices*PWG partial moments (Chan's formula).
@compute @workgroup_size(64)
fn stats_finalize(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= params.c) { return; }
  let parts = params.slices * PWG;
  var cnt = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  for (var p = 0u; p < parts; p++) {
    let at = (c * parts + p) * 3u;
    let nb = partial_in[at];
    let n = cnt + nb;
    if (nb > 0.0) {
      let d = partial_in[at + 1u] - mean;
      let fb = nb / n;
      mean += d * fb;
      m2 += partial_in[at + 2u] + d * d * cnt * fb;
      cnt = n;
    }
  }
  finish_channel(c, mean, m2 / cnt);
}

// Inference: the statistics are the running ones (nothing is updated; params.update is 0).
@compute @workgroup_size(64)
fn stats_eval(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= params.c) { return; }
  finish_channel(c, running_mean[c], running_var[c]);
}

// ---- vec4 elementwise helpers ---------------------------------------------------------------------
// A vec4 covers flat elements 4i .. 4i+3. With hw % 4 == 0 they share one channel. With MIXED (hw % 4
// != 0 but hw >= 4, total % 4 == 0) they may straddle two planes: components whose in-plane index
// reaches hw belong to the next channel, c1 = (c0 + 1) % C.
const MIXED: bool = false;

struct Lanes {
  c0: u32,
  c1: u32,
  next: vec4<bool>,
}

fn lanes(i: u32) -> Lanes {
  let e = i * 4u;
  let q = e / params.hw;
  let c0 = q % params.c;
  if (!MIXED) { return Lanes(c0, c0, vec4<bool>(false)); }
  let k = e - q * params.hw;
  let c1 = select(c0 + 1u, 0u, c0 + 1u == params.c);
  return Lanes(c0, c1, vec4<u32>(k) + vec4<u32>(0u, 1u, 2u, 3u) >= vec4<u32>(params.hw));
}

// Row `row` of stats, per component.
fn row4(row: u32, l: Lanes) -> vec4<f32> {
  let a = vec4<f32>(stats[row * params.c + l.c0]);
  if (!MIXED) { return a; }
  return select(a, vec4<f32>(stats[row * params.c + l.c1]), l.next);
}

fn sum_dy4(l: Lanes) -> vec4<f32> {
  let a = vec4<f32>(sum_dy[l.c0]);
  if (!MIXED) { return a; }
  return select(a, vec4<f32>(sum_dy[l.c1]), l.next);
}

fn sum_dy_xhat4(l: Lanes) -> vec4<f32> {
  let a = vec4<f32>(sum_dy_xhat[l.c0]);
  if (!MIXED) { return a; }
  return select(a, vec4<f32>(sum_dy_xhat[l.c1]), l.next);
}

// ---- forward: y = act(x * scale[c] + shift[c] [+ res]), act a leaky ReLU or none -----------------------

@compute @workgroup_size(WG)
fn normalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat(gid, groups);
  if (i >= params.total) { return; }
  let c = (i / params.hw) % params.c;
  var v = x[i] * stats[2u * params.c + c] + stats[3u * params.c + c];
  if (RESIDUAL) { v += res[i]; }
  out[i] = select(v, select(params.slope * v, v, v > 0.0), params.act == 1u);
}

@compute @workgroup_size(WG)
fn normalize_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat(gid, groups);
  if (i >= params.total) { return; }
  let l = lanes(i);
  var v = x4[i] * row4(2u, l) + row4(3u, l);
  if (RESIDUAL) { v += res4[i]; }
  out4[i] = select(v, select(params.slope * v, v, v > vec4<f32>(0.0)), params.act == 1u);
}

// ---- backward -------------------------------------------------------------------------------------
// sum_dy[c] = sum of dy (dbeta), sum_dy_xhat[c] = sum of dy * (x - mean) * invstd (dgamma).

@compute @workgroup_size(WG)
fn backward_reduce_reference(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let m = params.n * params.hw;
  let mean = stats[c];
  var a = 0.0;
  var b = 0.0;
  for (var j = lid; j < m; j += WG) {
    let i = channel_index(c, j);
    let g = grad(i);
    if (KEEP) { out[i] = g; }
    a += g;
    b += g * (x[i] - mean);
  }
  let total_a = tree_sum(lid, a);
  let total_b = tree_sum(lid, b);
  if (lid == 0u) {
    sum_dy[c] = total_a;
    sum_dy_xhat[c] = total_b * stats[params.c + c];
  }
}

// Split backward sums, stage 1 (units and layout as stats_partial): each invocation writes its
// sums of dy and dy * (x - mean) to partial[((c*slices + s)*PWG + lid)*2 + {0, 1}].
@compute @workgroup_size(PWG)
fn backward_reduce_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let s = wid.x;
  let c = wid.y;
  let hw = params.hw;
  let end = min((s + 1u) * params.span, params.n * hw);
  let step_n = PWG / hw;
  let step_k = PWG - step_n * hw;
  let mean = stats[c];
  var j = s * params.span + lid;
  var n = j / hw;
  var k = j - n * hw;
  var a = 0.0;
  var b = 0.0;
  for (; j < end; j += PWG) {
    let i = (n * params.c + c) * hw + k;
    let g = grad(i);
    if (KEEP) { out[i] = g; }
    a += g;
    b += g * (x[i] - mean);
    n += step_n;
    k += step_k;
    if (k >= hw) { k -= hw; n += 1u; }
  }
  let at = ((c * params.slices + s) * PWG + lid) * 2u;
  partial[at] = a;
  partial[at + 1u] = b;
}

@compute @workgroup_size(PWG)
fn backward_reduce_partial_vec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let s = wid.x;
  let c = wid.y;
  let hw4 = params.hw / 4u;
  let end = min((s + 1u) * params.span, params.n * hw4);
  let step_n = PWG / hw4;
  let step_k = PWG - step_n * hw4;
  let mean = stats[c];
  var j = s * params.span + lid;
  var n = j / hw4;
  var k = j - n * hw4;
  var a = vec4<f32>();
  var b = vec4<f32>();
  for (; j < end; j += PWG) {
    let i = (n * params.c + c) * hw4 + k;
    let g = grad4(i);
    if (KEEP) { out4[i] = g; }
    a += g;
    b += g * (x4[i] - mean);
    n += step_n;
    k += step_k;
    if (k >= hw4) { k -= hw4; n += 1u; }
  }
  let at = ((c * params.slices + s) * PWG + lid) * 2u;
  partial[at] = a.x + a.y + a.z + a.w;
  partial[at + 1u] = b.x + b.y + b.z + b.w;
}

// Stage 2: one thread per channel adds its slices*PWG partial sums.
@compute @workgroup_size(64)
fn backward_reduce_finalize(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= params.c) { return; }
  let parts = params.slices * PWG;
  var a = 0.0;
  var b = 0.0;
  for (var p = 0u; p < parts; p++) {
    a += partial_in[(c * parts + p) * 2u];
    b += partial_in[(c * parts + p) * 2u + 1u];
  }
  sum_dy[c] = a;
  sum_dy_xhat[c] = b * stats[params.c + c];
}

// Training: the gradient through the batch statistics,
// dx = scale * (dy - sum_dy / m - xhat * sum_dy_xhat / m), xhat = (x - mean) * invstd.
@compute @workgroup_size(WG)
fn dx_train(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat(gid, groups);
  if (i >= params.total) { return; }
  let C = params.c;
  let c = (i / params.hw) % C;
  let inv_m = 1.0 / f32(params.n * params.hw);
  let xhat = (x[i] - stats[c]) * stats[C + c];
  out[i] = stats[2u * C + c] * (grad(i) - sum_dy[c] * inv_m - xhat * sum_dy_xhat[c] * inv_m);
}

@compute @workgroup_size(WG)
fn dx_train_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat(gid, groups);
  if (i >= params.total) { return; }
  let l = lanes(i);
  let inv_m = 1.0 / f32(params.n * params.hw);
  let xhat = (x4[i] - row4(0u, l)) * row4(1u, l);
  out4[i] = row4(2u, l) * (grad4(i) - sum_dy4(l) * inv_m - xhat * (sum_dy_xhat4(l) * inv_m));
}

// Inference (running statistics are constants): dx = dy * scale.
@compute @workgroup_size(WG)
fn dx_eval(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat(gid, groups);
  if (i >= params.total) { return; }
  out[i] = grad(i) * stats[2u * params.c + (i / params.hw) % params.c];
}

@compute @workgroup_size(WG)
fn dx_eval_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat(gid, groups);
  if (i >= params.total) { return; }
  out4[i] = grad4(i) * row4(2u, lanes(i));
}
