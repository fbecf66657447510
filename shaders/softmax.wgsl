// Softmax over the last axis and fused softmax + cross-entropy. Every tensor is viewed as
// [rows, C] row-major; element (r, j) is at r * C + j (vec4 element r * C/4 + j/4 when C % 4 == 0).
//
// Three kernels per row job:
// - *_reference: one thread per row, plain scalar loops (the naive kernel; also any C).
// - *_vec4: one thread per row, vec4 loads (C % 4 == 0), and an online (max, sum exp) pass so the
//   row is read once for its statistics. The fast path on CPU adapters (SwiftShader), where each
//   storage access and each invocation are costly and barriers are very costly.
// - *_workgroup: TPR threads per row (a power of two), ROWS = WG / TPR rows per workgroup. Thread t
//   visits columns t, t + TPR, ... and the row's partial results meet in a tree over its TPR-wide
//   segment of workgroup memory. The fast path on GPUs for large C.
// Row-per-thread kernels number rows as gid.x + gid.y * (nwg.x * WG); workgroup kernels number
// workgroups as wid.x + wid.y * nwg.x (many rows fit the per-dimension dispatch limit).
//
// Cross-entropy: labels are i32 [rows]; the target of row r is (1 - eps) * onehot(label) + eps / C
// (torch label_smoothing). A label outside [0, C) makes that row's loss and gradient NaN: that is
// how a bad label is reported (it can never give a plausible-looking number).

const WG: u32 = 64u;
// *_workgroup: threads per row, a power of two, at most WG.
const TPR: u32 = 64u;
const ROWS: u32 = WG / TPR;
// The lowest finite f32 starts a running max (-inf would make exp(-inf - -inf) NaN).
const LOWEST: f32 = -3.4028234e38;

struct Params {
  rows: u32,
  c: u32,
  eps: f32,        // label smoothing
  g_stride: u32,   // cross_entropy_backward*: 0 when the upstream gradient is one scalar, 1 per row
  scale: f32,      // cross_entropy_backward*, cross_entropy_total: 1 / rows for a mean, else 1
  chunk_len: u32,  // cross_entropy_backward*: elements (vec4s) per thread; chunks never cross rows
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // logits, or y for backward
@group(0) @binding(2) var<storage, read> x4: array<vec4<f32>>;   // the same, as vec4
@group(0) @binding(3) var<storage, read> dy: array<f32>;         // upstream gradient [rows, C]
@group(0) @binding(4) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> labels: array<i32>;     // [rows]
@group(0) @binding(6) var<storage, read> lse: array<f32>;        // saved log-sum-exp [rows]
@group(0) @binding(7) var<storage, read> g: array<f32>;          // upstream loss gradient [1] or [rows]
@group(0) @binding(8) var<storage, read_write> out: array<f32>;
@group(0) @binding(9) var<storage, read_write> out4: array<vec4<f32>>;
@group(0) @binding(10) var<storage, read_write> lse_out: array<f32>;

var<workgroup> red_m: array<f32, WG>;
var<workgroup> red_s: array<f32, WG>;
var<workgroup> red_x: array<f32, WG>;

fn nan() -> f32 {
  var bits = 0x7fc00000u; // a var, not a constant: NaN must not be folded at shader creation
  return bitcast<f32>(bits);
}

// Per-row loss from the row's max m, sum of exp(x - m) and sum of x:
// -sum_j target_j (x_j - lse) = lse - (1 - eps) x[label] - eps / C * sum_j x_j.
fn write_row_loss(row: u32, m: f32, s: f32, sum_x: f32) {
  let l = m + log(s);
  lse_out[row] = l;
  let label = labels[row];
  if (label < 0 || u32(label) >= params.c) {
    out[row] = nan();
    return;
  }
  let eps = params.eps;
  out[row] = l - (1.0 - eps) * x[row * params.c + u32(label)] - eps / f32(params.c) * sum_x;
}

// ---- online (max, sum exp) statistics -----------------------------------------------------------
// A running pair (m, s = sum exp(v - m)); a new value v costs one exp e = exp(-|v - m|): when v is
// a new max, s is rescaled by e and gains exp(0) = 1; otherwise s gains e.

struct Stats4 { m: vec4<f32>, s: vec4<f32> }

fn online4(a: Stats4, v: vec4<f32>) -> Stats4 {
  let e = exp(-abs(v - a.m));
  return Stats4(max(a.m, v), select(a.s + e, a.s * e + 1.0, v > a.m));
}

// Combine the four lanes: (max, sum exp(v - max)) of the row.
fn finish4(a: Stats4) -> vec2<f32> {
  let m = max(max(a.m.x, a.m.y), max(a.m.z, a.m.w));
  return vec2<f32>(m, dot(a.s, exp(a.m - m)));
}

fn online(a: vec2<f32>, v: f32) -> vec2<f32> {
  let e = exp(-abs(v - a.x));
  return vec2<f32>(max(a.x, v), select(a.y + e, a.y * e + 1.0, v > a.x));
}

// Pairs from two threads: both sums move to the larger max.
fn combine(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let m = max(a.x, b.x);
  return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

// ---- segment reductions for *_workgroup: the TPR threads of a row combine; all get the result ---

fn seg_stats(lid: u32, v: vec2<f32>) -> vec2<f32> {
  red_m[lid] = v.x;
  red_s[lid] = v.y;
  workgroupBarrier();
  let t = lid % TPR;
  for (var k = TPR / 2u; k > 0u; k /= 2u) {
    if (t < k) {
      let c = combine(vec2<f32>(red_m[lid], red_s[lid]), vec2<f32>(red_m[lid + k], red_s[lid + k]));
      red_m[lid] = c.x;
      red_s[lid] = c.y;
    }
    workgroupBarrier();
  }
  let r = vec2<f32>(red_m[lid - t], red_s[lid - t]);
  workgroupBarrier(); // everyone has read before the next reduction writes
  return r;
}

fn seg_sum(lid: u32, v: f32) -> f32 {
  red_x[lid] = v;
  workgroupBarrier();
  let t = lid % TPR;
  for (var k = TPR / 2u; k > 0u; k /= 2u) {
    if (t < k) { red_x[lid] += red_x[lid + k]; }
    workgroupBarrier();
  }
  let r = red_x[lid - t];
  workgroupBarrier();
  return r;
}

// ---- softmax forward: out = exp(x - max) / sum exp(x - max) -----------------------------------

@compute @workgroup_size(WG)
fn softmax_reference(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= params.rows) { return; }
  let base = row * params.c;
  var m = LOWEST;
  for (var j = 0u; j < params.c; j++) { m = max(m, x[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < params.c; j++) { s += exp(x[base + j] - m); }
  for (var j = 0u; j < params.c; j++) { out[base + j] = exp(x[base + j] - m) / s; }
}

@compute @workgroup_size(WG)
fn softmax_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= params.rows) { return; }
  let c4 = params.c / 4u;
  let base = row * c4;
  var a = Stats4(vec4<f32>(LOWEST), vec4<f32>(0.0));
  for (var j = 0u; j < c4; j++) { a = online4(a, x4[base + j]); }
  let ms = finish4(a);
  let inv = 1.0 / ms.y;
  for (var j = 0u; j < c4; j++) { out4[base + j] = exp(x4[base + j] - ms.x) * inv; }
}

@compute @workgroup_size(WG)
fn softmax_workgroup(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = (wid.x + wid.y * nwg.x) * ROWS + lid / TPR;
  let valid = row < params.rows;
  let base = row * params.c;
  var a = vec2<f32>(LOWEST, 0.0);
  if (valid) { for (var j = lid % TPR; j < params.c; j += TPR) { a = online(a, x[base + j]); } }
  a = seg_stats(lid, a);
  let inv = 1.0 / a.y;
  if (valid) { for (var j = lid % TPR; j < params.c; j += TPR) { out[base + j] = exp(x[base + j] - a.x) * inv; } }
}

// ---- softmax backward: dx = y * (dy - sum(dy * y)); x holds y ---------------------------------

@compute @workgroup_size(WG)
fn softmax_backward_reference(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= params.rows) { return; }
  let base = row * params.c;
  var d = 0.0;
  for (var j = 0u; j < params.c; j++) { d += dy[base + j] * x[base + j]; }
  for (var j = 0u; j < params.c; j++) { out[base + j] = x[base + j] * (dy[base + j] - d); }
}

@compute @workgroup_size(WG)
fn softmax_backward_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= params.rows) { return; }
  let c4 = params.c / 4u;
  let base = row * c4;
  var d4 = vec4<f32>(0.0);
  for (var j = 0u; j < c4; j++) { d4 += dy4[base + j] * x4[base + j]; }
  let d = d4.x + d4.y + d4.z + d4.w;
  for (var j = 0u; j < c4; j++) { out4[base + j] = x4[base + j] * (dy4[base + j] - d); }
}

@compute @workgroup_size(WG)
fn softmax_backward_workgroup(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = (wid.x + wid.y * nwg.x) * ROWS + lid / TPR;
  let valid = row < params.rows;
  let base = row * params.c;
  var d = 0.0;
  if (valid) { for (var j = lid % TPR; j < params.c; j += TPR) { d += dy[base + j] * x[base + j]; } }
  d = seg_sum(lid, d);
  if (valid) { for (var j = lid % TPR; j < params.c; j += TPR) { out[base + j] = x[base + j] * (dy[base + j] - d); } }
}

// ---- cross-entropy forward: out[r] = loss of row r, lse_out[r] = log sum exp x[r, :] -----------

@compute @workgroup_size(WG)
fn cross_entropy_reference(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= params.rows) { return; }
  let base = row * params.c;
  var m = LOWEST;
  var sum_x = 0.0;
  for (var j = 0u; j < params.c; j++) {
    m = max(m, x[base + j]);
    sum_x += x[base + j];
  }
  var s = 0.0;
  for (var j = 0u; j < params.c; j++) { s += exp(x[base + j] - m); }
  write_row_loss(row, m, s, sum_x);
}

@compute @workgroup_size(WG)
fn cross_entropy_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= params.rows) { return; }
  let c4 = params.c / 4u;
  let base = row * c4;
  var a = Stats4(vec4<f32>(LOWEST), vec4<f32>(0.0));
  var sum_x = vec4<f32>(0.0);
  for (var j = 0u; j < c4; j++) {
    let v = x4[base + j];
    a = online4(a, v);
    sum_x += v;
  }
  let ms = finish4(a);
  write_row_loss(row, ms.x, ms.y, sum_x.x + sum_x.y + sum_x.z + sum_x.w);
}

@compute @workgroup_size(WG)
fn cross_entropy_workgroup(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = (wid.x + wid.y * nwg.x) * ROWS + lid / TPR;
  let valid = row < params.rows;
  let base = row * params.c;
  var a = vec2<f32>(LOWEST, 0.0);
  var sum_x = 0.0;
  if (valid) {
    for (var j = lid % TPR; j < params.c; j += TPR) {
      let v = x[base + j];
      a = online(a, v);
      sum_x += v;
    }
  }
  a = seg_stats(lid, a);
  sum_x = seg_sum(lid, sum_x);
  if (valid && lid % TPR == 0u) { write_row_loss(row, a.x, a.y, sum_x); }
}

// out[0] = scale * sum of the row losses in x (one thread: a batch is small, and the order is fixed).
@compute @workgroup_size(1)
fn cross_entropy_total() {
  var s = 0.0;
  for (var r = 0u; r < params.rows; r++) { s += x[r]; }
  out[0] = s * params.scale;
}

// ---- cross-entropy backward: d logits = g * scale * (softmax - target) -------------------------
// softmax is recomputed from the saved lse: p = exp(x - lse). Thread i handles chunk i of
// chunk_len elements (vec4s); chunks = ceil(C / chunk_len) per row ((C / 4) / chunk_len for vec4).

@compute @workgroup_size(WG)
fn cross_entropy_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let c = params.c;
  let chunks = (c + params.chunk_len - 1u) / params.chunk_len;
  if (i >= params.rows * chunks) { return; }
  let row = i / chunks;
  let j0 = (i - row * chunks) * params.chunk_len;
  let label = labels[row];
  let eps = params.eps;
  let f = select(nan(), g[row * params.g_stride] * params.scale, label >= 0 && u32(label) < c);
  let l = lse[row];
  for (var j = j0; j < min(j0 + params.chunk_len, c); j++) {
    let tgt = eps / f32(c) + select(0.0, 1.0 - eps, u32(label) == j);
    out[row * c + j] = f * (exp(x[row * c + j] - l) - tgt);
  }
}

@compute @workgroup_size(WG)
fn cross_entropy_backward_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let c4 = params.c / 4u;
  let chunks = (c4 + params.chunk_len - 1u) / params.chunk_len;
  if (i >= params.rows * chunks) { return; }
  let row = i / chunks;
  let j0 = (i - row * chunks) * params.chunk_len;
  let label = labels[row];
  let eps = params.eps;
  let f = select(nan(), g[row * params.g_stride] * params.scale, label >= 0 && u32(label) < params.c);
  let l = lse[row];
  let uniform_part = vec4<f32>(eps / f32(params.c));
  // The one-hot part lands in vec4 number label / 4, lane label % 4.
  let hot = vec4<f32>(vec4<u32>(0u, 1u, 2u, 3u) == vec4<u32>(u32(label) % 4u)) * (1.0 - eps);
  let base = row * c4;
  for (var j = j0; j < min(j0 + params.chunk_len, c4); j++) {
    let tgt = select(uniform_part, uniform_part + hot, j == u32(label) / 4u);
    out4[base + j] = f * (exp(x4[base + j] - l) - tgt);
  }
}
