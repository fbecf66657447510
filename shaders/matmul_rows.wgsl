// Few-row GEMM (the 'rows' variant of src/kernels/matmul.ts): C = op(A) x op(B) with M <= 4, a
// fully connected layer at batch 1-4, where every other variant computes padding rows (`blocked`
// 8 x 8 per thread: at M = 1, 7 of every 8 multiply-adds are thrown away). Each thread computes all
// R rows of C (a template constant, min(M, 4); a larger M takes several row blocks) for 8 columns
// col0 + lid + WG * j; per step of K it loads
// the R values of op(A) (one address for every lane) and its 8 values of op(B): R x 8 useful
// multiply-adds for R + 8 loads. Layouts, batches, binding ranges, K slices and the epilogue are
// matmul.wgsl's (the same Params up to `slope`, the same bindings).
//
// Grid: x over blocks of 8 WG columns (from col0), y over blocks of R rows (from row0), z batch.

const WG: u32 = 64u;
// Rows of C (1..4); the accumulators of rows past R are never touched (R folds at compile time).
const R: u32 = 1u;

struct Params {
  m: u32,
  n: u32,
  k: u32,
  a_batch: u32,
  b_batch: u32,
  c_batch: u32,
  batch0: u32,
  row0: u32,
  k0: u32,
  k1: u32,
  col0: u32,
  a_start: u32,
  b_start: u32,
  c_start: u32,
  trans_a: u32,
  trans_b: u32,
  accumulate: u32, // 1: add to the values already in C
  has_bias: u32,
  activation: u32, // 1: leaky ReLU with `slope` (ReLU: slope 0)
  slope: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
// [N]; without has_bias any buffer may be bound here (it is never read).
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

// Offsets of op(B)[k0, cols] (clamped into [0, N): the extra columns are computed and dropped).
fn b_offsets(base: u32, cols: vec4<u32>) -> vec4<u32> {
  let cc = min(cols, vec4<u32>(params.n - 1u));
  if (params.trans_b != 0u) { return base + cc * params.k + params.k0 - params.b_start; }
  return base + params.k0 * params.n + cc - params.b_start;
}

fn gather_b(o: vec4<u32>) -> vec4<f32> {
  return vec4<f32>(b[o.x], b[o.y], b[o.z], b[o.w]);
}

// The epilogue of row `row`, the thread's 8 columns.
fn store_row(c_base: u32, row: u32, cols: array<u32, 8>, v: array<f32, 8>) {
  for (var j = 0u; j < 8u; j++) {
    let col = cols[j];
    if (col >= params.n) { break; }
    let at = c_base + row * params.n + col - params.c_start;
    var o = v[j];
    if (params.accumulate != 0u) { o += c[at]; }
    if (params.has_bias != 0u) { o += bias[col]; }
    if (params.activation != 0u) { o = select(params.slope * o, o, o > 0.0); }
    c[at] = o;
  }
}

@compute @workgroup_size(WG)
fn rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let batch = params.batch0 + wid.z;
  let col0 = params.col0 + wid.x * 8u * WG + lid;
  let c0 = col0 + WG * vec4<u32>(0u, 1u, 2u, 3u);
  let c1 = col0 + WG * vec4<u32>(4u, 5u, 6u, 7u);
  let b_base = batch * params.b_batch;
  var bo0 = b_offsets(b_base, c0);
  var bo1 = b_offsets(b_base, c1);
  let sb = select(params.n, 1u, params.trans_b != 0u);
  // op(A)[row, k] at base + row * ra + k * sa; rows past M are clamped (computed, never stored).
  let sa = select(1u, params.m, params.trans_a != 0u);
  let ra = select(params.k, 1u, params.trans_a != 0u);
  let row = params.row0 + wid.y * R;
  let a_base = batch * params.a_batch + params.k0 * sa - params.a_start;
  let last = params.m - 1u;
  var ao = a_base + vec4<u32>(min(row, last), min(row + 1u, last), min(row + 2u, last), min(row + 3u, last)) * ra;
  var p0 = vec4<f32>(0.0); var q0 = vec4<f32>(0.0);
  var p1 = vec4<f32>(0.0); var q1 = vec4<f32>(0.0);
  var p2 = vec4<f32>(0.0); var q2 = vec4<f32>(0.0);
  var p3 = vec4<f32>(0.0); var q3 = vec4<f32>(0.0);
  for (var kk = params.k0; kk < params.k1; kk++) {
    let x = gather_b(bo0);
    let y = gather_b(bo1);
    let a0 = a[ao.x];
    p0 += a0 * x; q0 += a0 * y;
    if (R > 1u) { let a1 = a[ao.y]; p1 += a1 * x; q1 += a1 * y; }
    if (R > 2u) { let a2 = a[ao.z]; p2 += a2 * x; q2 += a2 * y; }
    if (R > 3u) { let a3 = a[ao.w]; p3 += a3 * x; q3 += a3 * y; }
    ao += sa;
    bo0 += sb;
    bo1 += sb;
  }
  let c_base = batch * params.c_batch;
  let cols = array<u32, 8>(c0.x, c0.y, c0.z, c0.w, c1.x, c1.y, c1.z, c1.w);
  store_row(c_base, row, cols, array<f32, 8>(p0.x, p0.y, p0.z, p0.w, q0.x, q0.y, q0.z, q0.w));
  if (R > 1u && row + 1u < params.m) { store_row(c_base, row + 1u, cols, array<f32, 8>(p1.x, p1.y, p1.z, p1.w, q1.x, q1.y, q1.z, q1.w)); }
  if (R > 2u && row + 2u < params.m) { store_row(c_base, row + 2u, cols, array<f32, 8>(p2.x, p2.y, p2.z, p2.w, q2.x, q2.y, q2.z, q2.w)); }
  if (R > 3u && row + 3u < params.m) { store_row(c_base, row + 3u, cols, array<f32, 8>(p3.x, p3.y, p3.z, p3.w, q3.x, q3.y, q3.z, q3.w)); }
}
