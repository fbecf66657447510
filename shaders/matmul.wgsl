// Batched GEMM, f32: C[b] = op(A[b]) x op(B[b]), then optionally + bias[col] and leaky ReLU.
//
// Row-major layouts: op(A) is [M, K], stored as A [M, K], or as [K, M] with trans_a;
// op(B) is [K, N], stored as B [K, N], or as [N, K] with trans_b; C is [M, N].
// Batch z of a dispatch is batch (batch0 + z): A starts at (batch0 + z) * a_batch, likewise B and
// C (a stride of 0 broadcasts an operand, or, for C, sums every batch into one result).
//
// One dispatch covers the rows from row0, the columns from col0 and the slice [k0, k1) of K. A long
// K is cut into several dispatches whose partial sums add into C (`accumulate`); only the last one
// runs the epilogue.
//
// An operand larger than maxStorageBufferBindingSize is bound as a byte range of its buffer: a, b
// and c then start at element a_start, b_start, c_start of the whole operand, and every index is
// made relative to that start. (The TS side picks ranges that cover all this dispatch reads.)
// Transposes and the epilogue are uniforms, not template constants: they cost a select outside the
// inner loops, and each template combination would be another pipeline to compile (0.1-1 s each
// on SwiftShader).
//
// Entry points: `reference` (one thread per output), `tiled` (workgroup-memory tiles, for GPUs),
// `tiled_vec4` (the same tiles, double-buffered, filled with vec4 loads where rows allow), `blocked`
// (8 x 8 outputs per thread straight from storage, for CPU adapters: SwiftShader turns every
// per-thread load, workgroup memory included, into a 4-lane gather, so the tiles of `tiled` only add
// work there; what pays is many FMAs per loaded value), and `split_k` + `split_sum` (skinny GEMMs:
// slices of K in parallel into partial sums, then one pass adds them and runs the epilogue).

// Threads per workgroup along M (y) and N (x), for `tiled` and `blocked`.
const WG_M: u32 = 16u;
const WG_N: u32 = 16u;
// Step along K of `tiled` (its workgroup tiles are [TK, 4 * WG_M] and [TK, 4 * WG_N]).
const TK: u32 = 16u;

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
  // tiled_vec4: 1 when every vec4 of op(A) (op(B)) along its stored rows starts at a multiple of 4.
  vec_a: u32,
  vec_b: u32,
  // split_k: the length of each slice of [k0, k1) (grid z counts the slices).
  slice_len: u32,
  // split_sum: how many slices to add.
  slices: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
// [N]; without has_bias any buffer may be bound here (it is never read).
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
// tiled_vec4: the same buffers as a and b, read as vec4s.
@group(0) @binding(5) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> b4: array<vec4<f32>>;
// split_k writes and split_sum reads the partial sums: [slices, M, N].
@group(0) @binding(7) var<storage, read_write> part: array<f32>;

// op(A)[row, kk] and op(B)[kk, col] of the batch starting at `base`.
fn load_a(base: u32, row: u32, kk: u32) -> f32 {
  if (params.trans_a != 0u) { return a[base + kk * params.m + row - params.a_start]; }
  return a[base + row * params.k + kk - params.a_start];
}

fn load_b(base: u32, kk: u32, col: u32) -> f32 {
  if (params.trans_b != 0u) { return b[base + col * params.k + kk - params.b_start]; }
  return b[base + kk * params.n + col - params.b_start];
}

// The epilogue of one element of C (skipped outside [0, M) x [0, N)): partial sums, bias, activation.
fn store(c_base: u32, row: u32, col: u32, sum: f32) {
  if (row >= params.m || col >= params.n) { return; }
  let i = c_base + row * params.n + col - params.c_start;
  var v = sum;
  if (params.accumulate != 0u) { v += c[i]; }
  if (params.has_bias != 0u) { v += bias[col]; }
  if (params.activation != 0u) { v = select(params.slope * v, v, v > 0.0); }
  c[i] = v;
}

// u v^T as a matrix whose column i is u[i] * v: element [i][j] is row i, column j of a 4 x 4 block.
fn outer(u: vec4<f32>, v: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(u.x * v, u.y * v, u.z * v, u.w * v);
}

// The epilogue of a 4 x 4 block at (row, col): acc[i][j] is row i, column j. Columns travel as
// vec4 through bias, partial sums and activation (this halved the epilogue's cost for K = 32).
fn store_block(c_base: u32, row: u32, col: u32, acc: mat4x4<f32>) {
  if (col + 3u >= params.n) {
    for (var i = 0u; i < 4u; i++) {
      for (var j = 0u; j < 4u; j++) { store(c_base, row + i, col + j, acc[i][j]); }
    }
    return;
  }
  var bias4 = vec4<f32>(0.0);
  if (params.has_bias != 0u) { bias4 = vec4<f32>(bias[col], bias[col + 1u], bias[col + 2u], bias[col + 3u]); }
  for (var i = 0u; i < 4u; i++) {
    if (row + i >= params.m) { return; }
    let at = c_base + (row + i) * params.n + col - params.c_start;
    var v = acc[i] + bias4;
    if (params.accumulate != 0u) { v += vec4<f32>(c[at], c[at + 1u], c[at + 2u], c[at + 3u]); }
    if (params.activation != 0u) { v = select(params.slope * v, v, v > vec4<f32>(0.0)); }
    c[at] = v.x;
    c[at + 1u] = v.y;
    c[at + 2u] = v.z;
    c[at + 3u] = v.w;
  }
}

// ---- reference: one thread per element of C. Grid: x over N / 8, y over M / 8, z batch. ----

@compute @workgroup_size(8, 8)
fn reference(@builtin(global_invocation_id) gid: vec3<u32>) {
  let col = params.col0 + gid.x;
  let row = params.row0 + gid.y;
  if (col >= params.n || row >= params.m) { return; }
  let batch = params.batch0 + gid.z;
  var sum = 0.0;
  for (var kk = params.k0; kk < params.k1; kk++) {
    sum += load_a(batch * params.a_batch, row, kk) * load_b(batch * params.b_batch, kk, col);
  }
  store(batch * params.c_batch, row, col, sum);
}

// ---- tiled: a workgroup computes a (4 WG_M) x (4 WG_N) block of C, each thread 4 x 4 of it. ----

// Tiles of op(A) and op(B) for one step of TK along K, stored k-major so that a thread reads its
// 4 rows (4 columns) as one vec4: a_tile[kk * WG_M + r / 4][r % 4] = op(A)[tile_row + r, kt + kk].
var<workgroup> a_tile: array<vec4<f32>, TK * WG_M>;
var<workgroup> b_tile: array<vec4<f32>, TK * WG_N>;

// Grid: x over column tiles, y over row tiles (from row0), z batch.
@compute @workgroup_size(WG_N, WG_M)
fn tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
         @builtin(local_invocation_index) li: u32) {
  let batch = params.batch0 + wid.z;
  let a_base = batch * params.a_batch;
  let b_base = batch * params.b_batch;
  let tile_row = params.row0 + wid.y * 4u * WG_M;
  let tile_col = params.col0 + wid.x * 4u * WG_N;
  var acc = mat4x4<f32>();
  for (var kt = params.k0; kt < params.k1; kt += TK) {
    // Cooperative loads, zero outside [0, M) x [kt, k1) and [kt, k1) x [0, N). The index order
    // follows the stored layout so that neighbouring threads read neighbouring addresses.
    for (var l = li; l < 4u * WG_M * TK; l += WG_M * WG_N) {
      var r = l / TK;
      var kk = l % TK;
      if (params.trans_a != 0u) { r = l % (4u * WG_M); kk = l / (4u * WG_M); }
      var v = 0.0;
      if (tile_row + r < params.m && kt + kk < params.k1) { v = load_a(a_base, tile_row + r, kt + kk); }
      a_tile[kk * WG_M + r / 4u][r % 4u] = v;
    }
    for (var l = li; l < 4u * WG_N * TK; l += WG_M * WG_N) {
      var col = l % (4u * WG_N);
      var kk = l / (4u * WG_N);
      if (params.trans_b != 0u) { col = l / TK; kk = l % TK; }
      var v = 0.0;
      if (tile_col + col < params.n && kt + kk < params.k1) { v = load_b(b_base, kt + kk, tile_col + col); }
      b_tile[kk * WG_N + col / 4u][col % 4u] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      acc += outer(a_tile[kk * WG_M + lid.y], b_tile[kk * WG_N + lid.x]);
    }
    workgroupBarrier();
  }
  store_block(batch * params.c_batch, tile_row + 4u * lid.y, tile_col + 4u * lid.x, acc);
}

// ---- blocked: each thread computes 8 x 8 of C from storage; no workgroup memory. ----

// Offsets of op(A)[r .. r+3, 0] (rows clamped into [0, M): the extra rows are computed and dropped)
// and of op(B)[0, col .. col+3]; the step from one k to the next is k_step_a / k_step_b.
fn rows_of_a(base: u32, r: u32) -> vec4<u32> {
  let rows = min(vec4<u32>(r) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(params.m - 1u));
  if (params.trans_a != 0u) { return vec4<u32>(base) + rows - vec4<u32>(params.a_start); }
  return vec4<u32>(base) + rows * params.k - vec4<u32>(params.a_start);
}

fn cols_of_b(base: u32, col: u32) -> vec4<u32> {
  let cols = min(vec4<u32>(col) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(params.n - 1u));
  if (params.trans_b != 0u) { return vec4<u32>(base) + cols * params.k - vec4<u32>(params.b_start); }
  return vec4<u32>(base) + cols - vec4<u32>(params.b_start);
}

fn k_step_a() -> u32 { return select(1u, params.m, params.trans_a != 0u); }
fn k_step_b() -> u32 { return select(params.n, 1u, params.trans_b != 0u); }

fn gather_a(off: vec4<u32>, k: u32) -> vec4<f32> {
  return vec4<f32>(a[off.x + k], a[off.y + k], a[off.z + k], a[off.w + k]);
}

fn gather_b(off: vec4<u32>, k: u32) -> vec4<f32> {
  return vec4<f32>(b[off.x + k], b[off.y + k], b[off.z + k], b[off.w + k]);
}

// Grid: x over column blocks of 8 WG_N, y over row blocks of 8 WG_M (from row0), z batch.
@compute @workgroup_size(WG_N, WG_M)
fn blocked(@builtin(global_invocation_id) gid: vec3<u32>) {
  let batch = params.batch0 + gid.z;
  let row = params.row0 + gid.y * 8u;
  let col = params.col0 + gid.x * 8u;
  let ar0 = rows_of_a(batch * params.a_batch, row);
  let ar1 = rows_of_a(batch * params.a_batch, row + 4u);
  let bc0 = cols_of_b(batch * params.b_batch, col);
  let bc1 = cols_of_b(batch * params.b_batch, col + 4u);
  let sa = k_step_a();
  let sb = k_step_b();
  // c10 holds rows row+4 .. row+7, columns col .. col+3, and so on.
  var c00 = mat4x4<f32>();
  var c01 = mat4x4<f32>();
  var c10 = mat4x4<f32>();
  var c11 = mat4x4<f32>();
  var ka = params.k0 * sa;
  var kb = params.k0 * sb;
  // Two steps of K per iteration (measured 15-20% faster on SwiftShader), then the odd one.
  var kk = params.k0;
  for (; kk + 1u < params.k1; kk += 2u) {
    let a0 = gather_a(ar0, ka);
    let a1 = gather_a(ar1, ka);
    let b0 = gather_b(bc0, kb);
    let b1 = gather_b(bc1, kb);
    let a2 = gather_a(ar0, ka + sa);
    let a3 = gather_a(ar1, ka + sa);
    let b2 = gather_b(bc0, kb + sb);
    let b3 = gather_b(bc1, kb + sb);
    c00 += outer(a0, b0) + outer(a2, b2);
    c01 += outer(a0, b1) + outer(a2, b3);
    c10 += outer(a1, b0) + outer(a3, b2);
    c11 += outer(a1, b1) + outer(a3, b3);
    ka += 2u * sa;
    kb += 2u * sb;
  }
  if (kk < params.k1) {
    let a0 = gather_a(ar0, ka);
    let a1 = gather_a(ar1, ka);
    let b0 = gather_b(bc0, kb);
    let b1 = gather_b(bc1, kb);
    c00 += outer(a0, b0);
    c01 += outer(a0, b1);
    c10 += outer(a1, b0);
    c11 += outer(a1, b1);
  }
  let c_base = batch * params.c_batch;
  store_block(c_base, row, col, c00);
  store_block(c_base, row, col + 4u, c01);
  store_block(c_base, row + 4u, col, c10);
  store_block(c_base, row + 4u, col + 4u, c11);
}


// ---- tiled_vec4: `tiled` with double-buffered tiles whose loads read vec4s of the stored rows. ----

// op(A)[row, kk .. kk+3] (trans_a: op(A)[row .. row+3, kk]) as stored: 4 consecutive values from
// element `at` (relative to a_start) as one vec4 where aligned and inside `valid`, else 4 scalars.
fn a_run(at: u32, valid: u32) -> vec4<f32> {
  if (valid >= 4u && params.vec_a != 0u) { return a4[at / 4u]; }
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < min(valid, 4u); j++) { v[j] = a[at + j]; }
  return v;
}

fn b_run(at: u32, valid: u32) -> vec4<f32> {
  if (valid >= 4u && params.vec_b != 0u) { return b4[at / 4u]; }
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < min(valid, 4u); j++) { v[j] = b[at + j]; }
  return v;
}

// How many of the 4 values from `first` lie below `end` (0 when none).
fn run_length(first: u32, end: u32) -> u32 {
  return select(0u, min(end - first, 4u), first < end);
}

// Two tiles of each operand (double buffering): while a step multiplies one, the loads of the next
// step fill the other, so each step needs one barrier instead of two. 2 x 2 x TK x 16 x 4 WG_M floats:
// 16 KiB at the default 16 x 16 threads and TK 16, WebGPU's default maxComputeWorkgroupStorageSize.
var<workgroup> a_tiles: array<vec4<f32>, 2u * TK * WG_M>;
var<workgroup> b_tiles: array<vec4<f32>, 2u * TK * WG_N>;

// Fill tile `slot` of a_tiles and b_tiles with the step of K starting at kt: TK x 4 WG_M values of
// op(A) and TK x 4 WG_N of op(B) as vec4 runs along the stored rows. A run along K (A, or B
// transposed) is scattered into 4 k-rows of the tile; a run along M or N (A transposed, B) is one
// vec4 of the tile as it stands. a_base, b_base: the batch's first element, less the range starts.
fn load_tiles_vec4(slot: u32, kt: u32, li: u32, a_base: u32, b_base: u32, tile_row: u32, tile_col: u32) {
  let a_slot = slot * TK * WG_M;
  let b_slot = slot * TK * WG_N;
  for (var l = li; l < WG_M * TK; l += WG_M * WG_N) {
    if (params.trans_a != 0u) {
      // A [K, M]: a run of 4 rows at one k.
      let kk = l / WG_M;
      let r = (l % WG_M) * 4u;
      var v = vec4<f32>(0.0);
      if (kt + kk < params.k1) { v = a_run(a_base + (kt + kk) * params.m + tile_row + r, run_length(tile_row + r, params.m)); }
      a_tiles[a_slot + kk * WG_M + r / 4u] = v;
    } else {
      // A [M, K]: a run of 4 k at one row.
      let r = l / (TK / 4u);
      let kk = (l % (TK / 4u)) * 4u;
      var v = vec4<f32>(0.0);
      if (tile_row + r < params.m) { v = a_run(a_base + (tile_row + r) * params.k + kt + kk, run_length(kt + kk, params.k1)); }
      for (var j = 0u; j < 4u; j++) { a_tiles[a_slot + (kk + j) * WG_M + r / 4u][r % 4u] = v[j]; }
    }
  }
  for (var l = li; l < WG_N * TK; l += WG_M * WG_N) {
    if (params.trans_b != 0u) {
      // B [N, K]: a run of 4 k at one column.
      let col = l / (TK / 4u);
      let kk = (l % (TK / 4u)) * 4u;
      var v = vec4<f32>(0.0);
      if (tile_col + col < params.n) { v = b_run(b_base + (tile_col + col) * params.k + kt + kk, run_length(kt + kk, params.k1)); }
      for (var j = 0u; j < 4u; j++) { b_tiles[b_slot + (kk + j) * WG_N + col / 4u][col % 4u] = v[j]; }
    } else {
      // B [K, N]: a run of 4 columns at one k.
      let kk = l / WG_N;
      let col = (l % WG_N) * 4u;
      var v = vec4<f32>(0.0);
      if (kt + kk < params.k1) { v = b_run(b_base + (kt + kk) * params.n + tile_col + col, run_length(tile_col + col, params.n)); }
      b_tiles[b_slot + kk * WG_N + col / 4u] = v;
    }
  }
}

// Grid as `tiled`. Step i multiplies tile slot i % 2 while filling slot (i + 1) % 2 with step i + 1;
// the barrier at the end of a step makes those loads visible and frees slot i % 2 for step i + 2.
@compute @workgroup_size(WG_N, WG_M)
fn tiled_vec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
  let batch = params.batch0 + wid.z;
  let a_base = batch * params.a_batch - params.a_start;
  let b_base = batch * params.b_batch - params.b_start;
  let tile_row = params.row0 + wid.y * 4u * WG_M;
  let tile_col = params.col0 + wid.x * 4u * WG_N;
  var acc = mat4x4<f32>();
  var slot = 0u;
  load_tiles_vec4(slot, params.k0, li, a_base, b_base, tile_row, tile_col);
  workgroupBarrier();
  for (var kt = params.k0; kt < params.k1; kt += TK) {
    if (kt + TK < params.k1) { load_tiles_vec4(1u - slot, kt + TK, li, a_base, b_base, tile_row, tile_col); }
    let a_slot = slot * TK * WG_M;
    let b_slot = slot * TK * WG_N;
    for (var kk = 0u; kk < TK; kk++) {
      acc += outer(a_tiles[a_slot + kk * WG_M + lid.y], b_tiles[b_slot + kk * WG_N + lid.x]);
    }
    workgroupBarrier();
    slot = 1u - slot;
  }
  store_block(batch * params.c_batch, tile_row + 4u * lid.y, tile_col + 4u * lid.x, acc);
}

// ---- split_k + split_sum: skinny GEMMs (few rows, long K). ----

// A thread computes 4 x 4 outputs of C over one slice of K into part[slice, row, col].
// Grid: x over column blocks of 4 * 64, y over row blocks of 4 (from row0), z over slices.
@compute @workgroup_size(64)
fn split_k(@builtin(global_invocation_id) gid: vec3<u32>) {
  let batch = params.batch0;
  let row = params.row0 + gid.y * 4u;
  let col = params.col0 + gid.x * 4u;
  if (row >= params.m || col >= params.n) { return; }
  let ar = rows_of_a(batch * params.a_batch, row);
  let bc = cols_of_b(batch * params.b_batch, col);
  let sa = k_step_a();
  let sb = k_step_b();
  let k_begin = params.k0 + gid.z * params.slice_len;
  let k_end = min(params.k1, k_begin + params.slice_len);
  var acc = mat4x4<f32>();
  for (var kk = k_begin; kk < k_end; kk++) {
    acc += outer(gather_a(ar, kk * sa), gather_b(bc, kk * sb));
  }
  for (var i = 0u; i < 4u; i++) {
    if (row + i >= params.m) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (col + j < params.n) { part[(gid.z * params.m + row + i) * params.n + col + j] = acc[i][j]; }
    }
  }
}

// C[row, col] = epilogue(sum of part[s, row, col] over the slices). Grid: x over N / 64, y rows from row0.
@compute @workgroup_size(64)
fn split_sum(@builtin(global_invocation_id) gid: vec3<u32>) {
  let col = gid.x;
  let row = params.row0 + gid.y;
  if (col >= params.n || row >= params.m) { return; }
  var sum = 0.0;
  for (var s = 0u; s < params.slices; s++) { sum += part[(s * params.m + row) * params.n + col]; }
  store(params.batch0 * params.c_batch, row, col, sum);
}
