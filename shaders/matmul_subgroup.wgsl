enable subgroups;
// Threads past `col_stride` return before the subgroup operations; col_stride is a multiple of 4,
// so no quad that broadcasts loses its source lanes (as in conv2d_subgroup.wgsl).
diagnostic(off, subgroup_uniformity);

// Batched GEMM on the conv kernels' scheme, for CPU adapters with subgroups (the 'subgroup'
// variant of src/kernels/matmul.ts): C[b] = op(A[b]) x op(B[b]), then + bias[col] and leaky ReLU.
// Layouts, batches, binding ranges, K slices and the epilogue are those of matmul.wgsl (same
// Params plus col_stride, same bindings). The register block is gemm_16x8.wgsl, appended by the
// TS side: each thread accumulates 16 rows x 8 columns, col0 + lid + col_stride * j; per step
// of K lane q of each quad loads the A values of rows q, q+4, q+8, q+12 and a broadcast shares
// them, so a step costs 4 + 8 loads for 128 multiply-adds (matmul.wgsl's `blocked`: 16 loads for 64).
//
// Grid: x over column blocks of 8 col_stride columns (from col0), y over blocks of 16 rows (from
// row0), z batch.

const WG: u32 = 64u;

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
  col_stride: u32, // threads in use per workgroup (a multiple of 4, at most WG)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
// [N]; without has_bias any buffer may be bound here (it is never read).
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

// Columns 4h..4h+3 of the thread whose first column is col0.
fn columns4(col0: u32, h: u32) -> vec4<u32> {
  return col0 + params.col_stride * (4u * h + vec4<u32>(0u, 1u, 2u, 3u));
}

// Offsets of op(B)[0, cols] for 4 columns (clamped into [0, N): the extra ones are computed and
// dropped), relative to the bound range.
fn b_columns(base: u32, cols: vec4<u32>) -> vec4<u32> {
  let cc = min(cols, vec4<u32>(params.n - 1u));
  if (params.trans_b != 0u) { return base + cc * params.k - params.b_start; }
  return base + cc - params.b_start;
}

// Offsets of op(A)[rows, 0] for this lane's 4 rows q, q+4, q+8, q+12 (clamped likewise).
fn a_rows(base: u32, row0: u32, lane_id: u32) -> vec4<u32> {
  let rows = min(row0 + (lane_id & 3u) + vec4<u32>(0u, 4u, 8u, 12u), vec4<u32>(params.m - 1u));
  if (params.trans_a != 0u) { return base + rows - params.a_start; }
  return base + rows * params.k - params.a_start;
}

fn gather_a(o: vec4<u32>) -> vec4<f32> {
  return vec4<f32>(a[o.x], a[o.y], a[o.z], a[o.w]);
}

fn gather_b(o: vec4<u32>) -> vec4<f32> {
  return vec4<f32>(b[o.x], b[o.y], b[o.z], b[o.w]);
}

fn k_step(ao: vec4<u32>, bo0: vec4<u32>, bo1: vec4<u32>) -> Step {
  return Step(gather_a(ao), gather_b(bo0), gather_b(bo1));
}

@compute @workgroup_size(WG)
fn subgroup(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
            @builtin(subgroup_invocation_id) lane_id: u32) {
  if (lid >= params.col_stride) { return; }
  let batch = params.batch0 + wid.z;
  let row0 = params.row0 + wid.y * ROWS;
  let col0 = params.col0 + wid.x * COLS * params.col_stride + lid;
  let cols0 = columns4(col0, 0u);
  let cols1 = columns4(col0, 1u);
  // Offsets at k = k0 and the step from one k to the next.
  let sa = select(1u, params.m, params.trans_a != 0u);
  let sb = select(params.n, 1u, params.trans_b != 0u);
  var ao = a_rows(batch * params.a_batch, row0, lane_id) + params.k0 * sa;
  var bo0 = b_columns(batch * params.b_batch, cols0) + params.k0 * sb;
  var bo1 = b_columns(batch * params.b_batch, cols1) + params.k0 * sb;
  clear_acc();
  var kk = params.k0;
  for (; kk + 4u <= params.k1; kk += 4u) {
    multiply_add4(k_step(ao, bo0, bo1), k_step(ao + sa, bo0 + sb, bo1 + sb), k_step(ao + 2u * sa, bo0 + 2u * sb, bo1 + 2u * sb),
                  k_step(ao + 3u * sa, bo0 + 3u * sb, bo1 + 3u * sb));
    ao += 4u * sa;
    bo0 += 4u * sb;
    bo1 += 4u * sb;
  }
  for (; kk < params.k1; kk++) {
    multiply_add(k_step(ao, bo0, bo1));
    ao += sa;
    bo0 += sb;
    bo1 += sb;
  }

  // Epilogue per element of the block inside [0, M) x [0, N): partial sums, bias, activation.
  let c_base = batch * params.c_batch;
  let cols = array<u32, 8>(cols0.x, cols0.y, cols0.z, cols0.w, cols1.x, cols1.y, cols1.z, cols1.w);
  for (var i = 0u; i < ROWS; i++) {
    let row = row0 + i;
    if (row >= params.m) { break; }
    let v = row_values(i);
    for (var j = 0u; j < COLS; j++) {
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
}
