// 2-D convolution, NCHW activations and OIHW weights (torch layouts), no groups or dilation:
//   x: [N, Cin, H, W], wt: [Cout, Cin, KH, KW], bias: [Cout], y: [N, Cout, Ho, Wo]
//   Ho = (H + 2 pad - KH) / stride + 1 (floor), likewise Wo.
//
// The 'tiled' variant (for adapters without subgroups; conv2d_subgroup.wgsl is the fast one where
// they exist). Three implicit GEMMs share one register-tiled inner product:
//   forward          Y[Cout, N*Ho*Wo]  = W[Cout, K] x Col[K, N*Ho*Wo],  K = Cin*KH*KW
//   backward_input   dX[Cin, N*H*W]    = W^T gathered from wt x dY gathered (a transposed conv)
//   backward_filter  dW[Cout, K]       = dY[Cout, N*Ho*Wo] x Col^T, split-K over N*Ho*Wo
// Col is never stored: the B tile is gathered from x (zero outside the padded border). The batch
// is folded into the GEMM columns so that small late-layer images still fill whole tiles.
//
// A workgroup computes a BM x BN tile of the output with TX*TY threads, staging BK-deep slices of
// A and B in workgroup memory; each thread owns a 4x4 register block at rows ty + TY*i and columns
// tx + TX*j (strided, so that neighbouring threads read neighbouring words of Bs).
//   As: [BM][BK] (row-major over k), Bs: [BK][BN] (row-major over columns).
// On SwiftShader this runs at ~0.7 GFLOP/s against ~2.5 for conv2d_subgroup.wgsl: every
// workgroup-memory read there is a gather as costly as a storage-buffer read.
//
// The *_reference entries are one thread per output with plain loops (for tests and as a
// fallback); they read the geometry from params, not from the template constants.

const TX: u32 = 16u;      // threads along the tile's columns
const TY: u32 = 16u;      // threads along the tile's rows
const BK: u32 = 16u;      // reduction depth of one shared-memory step
// Forward only: the kernel window and stride as constants, so that k -> (ci, ky, kx) and the
// input coordinates compile to multiplies and shifts instead of divisions.
const KH: u32 = 3u;
const KW: u32 = 3u;
const STRIDE: u32 = 1u;
const REF_WG: u32 = 64u;  // workgroup size of the reference and sum kernels

const WG: u32 = TX * TY;
const BM: u32 = 4u * TY;
const BN: u32 = 4u * TX;

struct Params {
  n: u32,
  cin: u32,
  h: u32,
  w: u32,
  cout: u32,
  ho: u32,
  wo: u32,
  kh: u32,
  kw: u32,
  stride: u32,
  pad: u32,
  has_bias: u32,
  act: u32,         // 0: none, 1: leaky relu with `slope` (ReLU is slope 0)
  slope: f32,
  tile_base: u32,   // forward / backward_input: first column tile of this dispatch
  col_stride: u32,  // conv2d_subgroup.wgsl only (the struct is shared)
  r_begin: u32,     // backward_filter: first reduction index of this dispatch
  r_end: u32,       //   one past the last
  split_len: u32,   //   reduction length of one split-K slice (a multiple of BK)
  accumulate: u32,  //   1: add to dw instead of overwriting (dispatches after the first)
  count: u32,       // reference / sum kernels: number of outputs; sum: elements per slice
  splits: u32,      // sum kernel: number of slices
  has_bn: u32,      // forward epilogue: 1 folds an inference batchnorm (bn_*) after the bias
  bn_eps: f32,
  has_res: u32,     // forward epilogue: 1 adds y's previous contents (a residual copied there)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read_write> dw: array<f32>;
@group(0) @binding(8) var<storage, read> partial: array<f32>;
// Inference batchnorm folded into the forward's epilogue (gamma, beta, running mean and variance).
@group(0) @binding(9) var<storage, read> bn_w: array<f32>;
@group(0) @binding(10) var<storage, read> bn_b: array<f32>;
@group(0) @binding(11) var<storage, read> bn_m: array<f32>;
@group(0) @binding(12) var<storage, read> bn_v: array<f32>;

var<workgroup> As: array<f32, BM * BK>;
var<workgroup> Bs: array<f32, BK * BN>;

// The thread's 4x4 register block: acc_i holds row ty + TY*i, columns tx + TX*(0..3).
var<private> acc0: vec4<f32>;
var<private> acc1: vec4<f32>;
var<private> acc2: vec4<f32>;
var<private> acc3: vec4<f32>;

// acc += As x Bs over the BK slice in workgroup memory.
fn multiply_tile(tx: u32, ty: u32) {
  for (var kk = 0u; kk < BK; kk++) {
    let a = vec4<f32>(As[ty * BK + kk], As[(ty + TY) * BK + kk], As[(ty + 2u * TY) * BK + kk], As[(ty + 3u * TY) * BK + kk]);
    let bo = kk * BN + tx;
    let b = vec4<f32>(Bs[bo], Bs[bo + TX], Bs[bo + 2u * TX], Bs[bo + 3u * TX]);
    acc0 += a.x * b;
    acc1 += a.y * b;
    acc2 += a.z * b;
    acc3 += a.w * b;
  }
}

fn activate(v: f32) -> f32 {
  if (params.act == 1u) { return select(params.slope * v, v, v > 0.0); }
  return v;
}

// The forward epilogue of output row (channel) r: o = (acc + bias) * s + t, with s = 1, t = 0
// without batchnorm and, with it, the unfused batchnorm's own arithmetic (batchnorm.wgsl):
// s = gamma / sqrt(var + eps), t = beta - mean * s. Read from the live parameters every dispatch.
fn row_affine(r: u32) -> vec3<f32> {
  var b = 0.0;
  if (params.has_bias == 1u) { b = bias[r]; }
  var s = 1.0;
  var t = 0.0;
  if (params.has_bn == 1u) {
    s = bn_w[r] * (1.0 / sqrt(bn_v[r] + params.bn_eps));
    t = bn_b[r] - bn_m[r] * s;
  }
  return vec3<f32>(b, s, t);
}

// act((acc + b) * s + t [+ y[i]]), written to y[i].
fn finish(i: u32, acc: f32, a: vec3<f32>) {
  var o = (acc + a.x) * a.y + a.z;
  if (params.has_res == 1u) { o += y[i]; }
  y[i] = activate(o);
}

fn flat_id(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * REF_WG;
}

// ---- forward ------------------------------------------------------------------------------------

// slice: where a split-K slice's partial sums go (y[z, N, Cout, Ho, Wo]), 0 otherwise.
fn store_y(r: u32, col0: u32, tx: u32, v: vec4<f32>, slice: u32) {
  let hw = params.ho * params.wo;
  let cols = params.n * hw;
  if (r >= params.cout) { return; }
  let a = row_affine(r);
  for (var j = 0u; j < 4u; j++) {
    let c = col0 + tx + TX * j;
    if (c < cols) {
      let img = c / hw;
      finish(slice + (img * params.cout + r) * hw + (c - img * hw), v[j], a);
    }
  }
}

// Grid: (column tiles of this dispatch, ceil(Cout / BM), split-K slices). Columns are (n, oy, ox)
// flattened. Slice z reduces k in [z * split_len, (z + 1) * split_len) of K = Cin * KH * KW and,
// with several slices, writes raw partial sums (the TS side turns the epilogue off) that
// forward_sum_slices adds; unsplit, split_len = K.
@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let hw = params.ho * params.wo;
  let cols = params.n * hw;
  let kk_all = params.cin * KH * KW;
  let k_lo = wid.z * params.split_len;
  let kk_total = min(kk_all, k_lo + params.split_len);
  let col0 = (wid.x + params.tile_base) * BN;
  let row0 = wid.y * BM;

  // B loader: this thread's column is fixed for the whole loop; its rows are lid / BN + step.
  let bc = lid % BN;
  let col = col0 + bc;
  let img = col / hw;
  let pix = col - img * hw;
  let oy = pix / params.wo;
  let ox = pix - oy * params.wo;
  let iy0 = i32(oy * STRIDE) - i32(params.pad);
  let ix0 = i32(ox * STRIDE) - i32(params.pad);
  let x_img = img * params.cin * params.h * params.w;
  let col_ok = col < cols;
  // A loader: column k = lid % BK (consecutive lanes read consecutive weights), rows lid / BK + step.
  let ak = lid % BK;

  acc0 = vec4<f32>(0.0);
  acc1 = vec4<f32>(0.0);
  acc2 = vec4<f32>(0.0);
  acc3 = vec4<f32>(0.0);
  for (var k0 = k_lo; k0 < kk_total; k0 += BK) {
    for (var m = lid / BK; m < BM; m += WG / BK) {
      let r = row0 + m;
      let k = k0 + ak;
      var v = 0.0;
      if (r < params.cout && k < kk_total) { v = wt[r * kk_all + k]; }
      As[m * BK + ak] = v;
    }
    for (var kk = lid / BN; kk < BK; kk += WG / BN) {
      let k = k0 + kk;
      let ci = k / (KH * KW);
      let t = k - ci * (KH * KW);
      let ky = t / KW;
      let kx = t - ky * KW;
      let iy = u32(iy0 + i32(ky));
      let ix = u32(ix0 + i32(kx));
      var v = 0.0;
      if (col_ok && k < kk_total && iy < params.h && ix < params.w) { v = x[x_img + (ci * params.h + iy) * params.w + ix]; }
      Bs[kk * BN + bc] = v;
    }
    workgroupBarrier();
    multiply_tile(lid % TX, lid / TX);
    workgroupBarrier();
  }
  let tx = lid % TX;
  let ty = lid / TX;
  let slice = wid.z * params.n * params.cout * hw;
  store_y(row0 + ty, col0, tx, acc0, slice);
  store_y(row0 + ty + TY, col0, tx, acc1, slice);
  store_y(row0 + ty + 2u * TY, col0, tx, acc2, slice);
  store_y(row0 + ty + 3u * TY, col0, tx, acc3, slice);
}

@compute @workgroup_size(REF_WG)
fn forward_reference(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_id(gid, groups);
  if (i >= params.count) { return; }
  let ox = i % params.wo;
  let oy = (i / params.wo) % params.ho;
  let co = (i / (params.wo * params.ho)) % params.cout;
  let img = i / (params.wo * params.ho * params.cout);
  var s = 0.0;
  for (var ci = 0u; ci < params.cin; ci++) {
    for (var ky = 0u; ky < params.kh; ky++) {
      for (var kx = 0u; kx < params.kw; kx++) {
        let iy = i32(oy * params.stride + ky) - i32(params.pad);
        let ix = i32(ox * params.stride + kx) - i32(params.pad);
        if (iy >= 0 && iy < i32(params.h) && ix >= 0 && ix < i32(params.w)) {
          s += x[((img * params.cin + ci) * params.h + u32(iy)) * params.w + u32(ix)] *
               wt[((co * params.cin + ci) * params.kh + ky) * params.kw + kx];
        }
      }
    }
  }
  finish(i, s, row_affine(co));
}

// ---- backward_input -----------------------------------------------------------------------------
// dX[n, ci, iy, ix] = sum over co, ky, kx of W[co, ci, ky, kx] dY[n, co, oy, ox] where
// oy = (iy + pad - ky) / stride when that divides evenly. The output is split into stride^2
// phases (iy % S, ix % S) = (py, px); in one phase only the taps ky = ky0 + S*ty with
// ky0 = (py + pad) % S contribute, each at oy = cy + qy - ty for iy = py + S*qy and
// cy = (py + pad - ky0) / S, so every phase is a dense GEMM over its own pixels, reading dY with
// unit stride. Phases whose tap set is empty (1x1 kernels with stride 2) write zeros.
// Grid: (column tiles of this dispatch, ceil(Cin / BM), S*S phases). Reduction order: taps outer,
// channels co inner (chunks of BK), so no division per element.

fn store_dx(r: u32, col0: u32, cols: u32, tx: u32, v: vec4<f32>, hq: u32, wq: u32, py: u32, px: u32) {
  if (r >= params.cin) { return; }
  for (var j = 0u; j < 4u; j++) {
    let c = col0 + tx + TX * j;
    if (c < cols) {
      let img = c / (hq * wq);
      let q = c - img * hq * wq;
      let qy = q / wq;
      let qx = q - qy * wq;
      dx[((img * params.cin + r) * params.h + py + params.stride * qy) * params.w + px + params.stride * qx] = v[j];
    }
  }
}

@compute @workgroup_size(WG)
fn backward_input(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let s = params.stride;
  let py = wid.z / s;
  let px = wid.z % s;
  if (py >= params.h || px >= params.w) { return; }
  let hq = (params.h - py + s - 1u) / s;
  let wq = (params.w - px + s - 1u) / s;
  let cols = params.n * hq * wq;
  let col0 = (wid.x + params.tile_base) * BN;
  if (col0 >= cols) { return; }
  let row0 = wid.y * BM;
  let ky0 = (py + params.pad) % s;
  let kx0 = (px + params.pad) % s;
  let nky = select(0u, (params.kh - ky0 + s - 1u) / s, ky0 < params.kh);
  let nkx = select(0u, (params.kw - kx0 + s - 1u) / s, kx0 < params.kw);
  let cy = i32((py + params.pad - ky0) / s);
  let cx = i32((px + params.pad - kx0) / s);
  let hw_out = params.ho * params.wo;
  let kk_w = params.kh * params.kw;

  let bc = lid % BN;
  let col = col0 + bc;
  let img = col / (hq * wq);
  let q = col - img * hq * wq;
  let qy = i32(q / wq);
  let qx = i32(q) - qy * i32(wq);
  let col_ok = col < cols;
  let dy_img = img * params.cout * hw_out;
  let ak = lid % BK;

  acc0 = vec4<f32>(0.0);
  acc1 = vec4<f32>(0.0);
  acc2 = vec4<f32>(0.0);
  acc3 = vec4<f32>(0.0);
  for (var t = 0u; t < nky * nkx; t++) {
    let ty_ = t / nkx;
    let tx_ = t - ty_ * nkx;
    let tap = (ky0 + s * ty_) * params.kw + kx0 + s * tx_;
    let oy = u32(cy + qy - i32(ty_));
    let ox = u32(cx + qx - i32(tx_));
    let pix_ok = col_ok && oy < params.ho && ox < params.wo;
    let dy_off = dy_img + oy * params.wo + ox;
    for (var co0 = 0u; co0 < params.cout; co0 += BK) {
      // A[ci][co] = wt[co, ci, ky, kx]
      for (var m = lid / BK; m < BM; m += WG / BK) {
        let ci = row0 + m;
        let co = co0 + ak;
        var v = 0.0;
        if (ci < params.cin && co < params.cout) { v = wt[(co * params.cin + ci) * kk_w + tap]; }
        As[m * BK + ak] = v;
      }
      // B[co][col] = dY[n, co, oy, ox]
      for (var kk = lid / BN; kk < BK; kk += WG / BN) {
        let co = co0 + kk;
        var v = 0.0;
        if (pix_ok && co < params.cout) { v = dy[dy_off + co * hw_out]; }
        Bs[kk * BN + bc] = v;
      }
      workgroupBarrier();
      multiply_tile(lid % TX, lid / TX);
      workgroupBarrier();
    }
  }
  let tx = lid % TX;
  let ty = lid / TX;
  store_dx(row0 + ty, col0, cols, tx, acc0, hq, wq, py, px);
  store_dx(row0 + ty + TY, col0, cols, tx, acc1, hq, wq, py, px);
  store_dx(row0 + ty + 2u * TY, col0, cols, tx, acc2, hq, wq, py, px);
  store_dx(row0 + ty + 3u * TY, col0, cols, tx, acc3, hq, wq, py, px);
}

@compute @workgroup_size(REF_WG)
fn backward_input_reference(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_id(gid, groups);
  if (i >= params.count) { return; }
  let ix = i % params.w;
  let iy = (i / params.w) % params.h;
  let ci = (i / (params.w * params.h)) % params.cin;
  let img = i / (params.w * params.h * params.cin);
  var s = 0.0;
  for (var co = 0u; co < params.cout; co++) {
    for (var ky = 0u; ky < params.kh; ky++) {
      for (var kx = 0u; kx < params.kw; kx++) {
        let ny = i32(iy + params.pad) - i32(ky);
        let nx = i32(ix + params.pad) - i32(kx);
        if (ny < 0 || nx < 0) { continue; }
        if (u32(ny) % params.stride != 0u || u32(nx) % params.stride != 0u) { continue; }
        let oy = u32(ny) / params.stride;
        let ox = u32(nx) / params.stride;
        if (oy >= params.ho || ox >= params.wo) { continue; }
        s += dy[((img * params.cout + co) * params.ho + oy) * params.wo + ox] *
             wt[((co * params.cin + ci) * params.kh + ky) * params.kw + kx];
      }
    }
  }
  dx[i] = s;
}

// ---- backward_filter ----------------------------------------------------------------------------
// dW[co, k] = sum over r = (n, oy, ox) of dY[n, co, oy, ox] Col[k, r], k = (ci, ky, kx).
// Grid: (ceil(K / BN), ceil(Cout / BM), slices). Slice z reduces r in
// [r_begin + z*split_len, min(r_end, r_begin + (z+1)*split_len)) and writes its partial tile to
// dw[z, Cout, K] (sum_slices adds the slices; with one slice dw is the result itself).
// Loaders: a thread's reduction row rr = lid % BK is shared by its A and B loads (one pixel
// decomposition per step); its B columns lid / BK + step are fixed for the whole loop.

const FILTER_COLS: u32 = BN * BK / WG;  // B columns loaded per thread per step

@compute @workgroup_size(WG)
fn backward_filter(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let kk_w = params.kh * params.kw;
  let kk_total = params.cin * kk_w;
  let col0 = wid.x * BN;
  let row0 = wid.y * BM;
  let hw_in = params.h * params.w;
  let hw_out = params.ho * params.wo;
  let r_lo = params.r_begin + wid.z * params.split_len;
  let r_hi = min(params.r_end, r_lo + params.split_len);

  let rr = lid % BK;
  // Fixed B columns: input offset ci*H*W + ky*W + kx and the tap (ky, kx) for the border test.
  var koff: array<u32, FILTER_COLS>;
  var kyx: array<vec2<i32>, FILTER_COLS>;
  var kok: array<bool, FILTER_COLS>;
  for (var j = 0u; j < FILTER_COLS; j++) {
    let k = col0 + lid / BK + j * (WG / BK);
    let ci = k / kk_w;
    let t = k - ci * kk_w;
    let ky = t / params.kw;
    let kx = t - ky * params.kw;
    koff[j] = (ci * params.h + ky) * params.w + kx;
    kyx[j] = vec2<i32>(i32(ky), i32(kx));
    kok[j] = k < kk_total;
  }

  acc0 = vec4<f32>(0.0);
  acc1 = vec4<f32>(0.0);
  acc2 = vec4<f32>(0.0);
  acc3 = vec4<f32>(0.0);
  for (var r0 = r_lo; r0 < r_hi; r0 += BK) {
    let r = r0 + rr;
    let r_ok = r < r_hi;
    let img = r / hw_out;
    let pix = r - img * hw_out;
    let oy = pix / params.wo;
    let ox = pix - oy * params.wo;
    let iy0 = i32(oy * params.stride) - i32(params.pad);
    let ix0 = i32(ox * params.stride) - i32(params.pad);
    // A[co][rr] = dY[n, co, oy, ox]
    for (var m = lid / BK; m < BM; m += WG / BK) {
      let co = row0 + m;
      var v = 0.0;
      if (r_ok && co < params.cout) { v = dy[(img * params.cout + co) * hw_out + pix]; }
      As[m * BK + rr] = v;
    }
    // B[rr][k] = x[n, ci, iy0 + ky, ix0 + kx]
    let x_img = i32(img * params.cin * hw_in) + iy0 * i32(params.w) + ix0;
    for (var j = 0u; j < FILTER_COLS; j++) {
      let iy = u32(iy0 + kyx[j].x);
      let ix = u32(ix0 + kyx[j].y);
      var v = 0.0;
      if (r_ok && kok[j] && iy < params.h && ix < params.w) { v = x[u32(x_img + i32(koff[j]))]; }
      Bs[rr * BN + lid / BK + j * (WG / BK)] = v;
    }
    workgroupBarrier();
    multiply_tile(lid % TX, lid / TX);
    workgroupBarrier();
  }

  let tx = lid % TX;
  let ty = lid / TX;
  let slice = wid.z * params.cout * kk_total;
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + ty + TY * i;
    if (row >= params.cout) { continue; }
    var v = acc0;
    if (i == 1u) { v = acc1; }
    if (i == 2u) { v = acc2; }
    if (i == 3u) { v = acc3; }
    for (var j = 0u; j < 4u; j++) {
      let c = col0 + tx + TX * j;
      if (c < kk_total) {
        let o = slice + row * kk_total + c;
        if (params.accumulate == 1u) { dw[o] += v[j]; } else { dw[o] = v[j]; }
      }
    }
  }
}

// Split-K forward (the 'subgroup' forward with grid z > 1): y[i] = the epilogue of the sum over
// slices z of partial[z * count + i], channel (i / (Ho * Wo)) % Cout; y holds the residual if any.
@compute @workgroup_size(REF_WG)
fn forward_sum_slices(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_id(gid, groups);
  if (i >= params.count) { return; }
  var s = 0.0;
  for (var z = 0u; z < params.splits; z++) { s += partial[z * params.count + i]; }
  finish(i, s, row_affine((i / (params.ho * params.wo)) % params.cout));
}

// dw[i] = sum over slices z of partial[z * count + i]; accumulate adds to dw.
@compute @workgroup_size(REF_WG)
fn sum_slices(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_id(gid, groups);
  if (i >= params.count) { return; }
  var s = 0.0;
  for (var z = 0u; z < params.splits; z++) { s += partial[z * params.count + i]; }
  if (params.accumulate == 1u) { dw[i] += s; } else { dw[i] = s; }
}

@compute @workgroup_size(REF_WG)
fn backward_filter_reference(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_id(gid, groups);
  if (i >= params.count) { return; }
  let kx = i % params.kw;
  let ky = (i / params.kw) % params.kh;
  let ci = (i / (params.kw * params.kh)) % params.cin;
  let co = i / (params.kw * params.kh * params.cin);
  var s = 0.0;
  for (var img = 0u; img < params.n; img++) {
    for (var oy = 0u; oy < params.ho; oy++) {
      for (var ox = 0u; ox < params.wo; ox++) {
        let iy = i32(oy * params.stride + ky) - i32(params.pad);
        let ix = i32(ox * params.stride + kx) - i32(params.pad);
        if (iy >= 0 && iy < i32(params.h) && ix >= 0 && ix < i32(params.w)) {
          s += dy[((img * params.cout + co) * params.ho + oy) * params.wo + ox] *
               x[((img * params.cin + ci) * params.h + u32(iy)) * params.w + u32(ix)];
        }
      }
    }
  }
  dw[i] = s;
}
