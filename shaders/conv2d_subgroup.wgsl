enable subgroups;
// Threads past `col_stride` return before the subgroup operations; col_stride is a multiple of 4,
// so no quad that broadcasts loses its source lanes (see "Idle threads" below).
diagnostic(off, subgroup_uniformity);

// 2-D convolution as register-blocked implicit GEMMs without workgroup memory, for adapters with
// subgroups (the 'subgroup' variant of src/kernels/conv2d.ts). Layouts as in conv2d.wgsl:
//   x: [N, Cin, H, W], wt: [Cout, Cin, KH, KW], y / dy: [N, Cout, Ho, Wo].
//
// Each thread accumulates a 32 x 8 block: 32 GEMM rows shared by the whole workgroup and 8
// columns of its own, col0 + lid + col_stride * j. Per reduction step a thread gathers its 8 B
// values and ONE A value per 4 rows: lane q of each quad loads rows q, q+4, .., q+28 (two vec4s)
// and subgroupBroadcast shares them, so a step costs 16 loads for 256 multiply-adds. The block
// (ROWS, COLS, the accumulators, Step, multiply_add<n>, clear_acc, row_values) is gemm_32x8.wgsl,
// which the TS side appends to this file; the loops below hand it 3 or 4 steps per call (its
// header says why). 32 rows rather than 16: on SwiftShader each load is a gather that costs about
// as much as 10 multiply-adds, and halving the B loads per multiply-add saved more than the larger
// block costs (bench/probes/conv-ab.ts).
//
// Why no workgroup memory: on SwiftShader every dynamically indexed load, from workgroup memory
// or from a storage buffer alike, is a masked gather costing as much as ~30 multiply-adds, so
// staging tiles only adds stores and barriers; register blocking is what cuts loads. On GPUs the
// 16 A rows are read by every thread of the workgroup at once (a cache broadcast).
//
// Idle threads: small problems use col_stride < WG columns per block row (fewer idle columns);
// threads lid >= col_stride return at once. col_stride is a multiple of 4 and subgroups are
// contiguous runs of invocations, so each subgroup with a live thread keeps lanes 0..3 alive.

const WG: u32 = 64u;

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
  act: u32,
  slope: f32,
  tile_base: u32,
  col_stride: u32,
  r_begin: u32,
  r_end: u32,
  split_len: u32,
  accumulate: u32,
  count: u32,
  splits: u32,
  has_bn: u32,
  bn_eps: f32,
  has_res: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read_write> dw: array<f32>;
// Inference batchnorm folded into the forward's epilogue (as conv2d.wgsl; binding 8 is its `partial`).
@group(0) @binding(9) var<storage, read> bn_w: array<f32>;
@group(0) @binding(10) var<storage, read> bn_b: array<f32>;
@group(0) @binding(11) var<storage, read> bn_m: array<f32>;
@group(0) @binding(12) var<storage, read> bn_v: array<f32>;

// Column j (0..7) of a thread whose first column is col0.
fn column(col0: u32, j: u32) -> u32 {
  return col0 + params.col_stride * j;
}

// Columns 4h..4h+3 of the thread, as a vec4.
fn columns4(col0: u32, h: u32) -> vec4<u32> {
  return col0 + params.col_stride * (4u * h + vec4<u32>(0u, 1u, 2u, 3u));
}

// This lane's A rows in the row group starting at row0: row0 + q, +4, +8, +12 for quad lane q
// (clamped so that rows past `rows` read valid memory; never stored).
fn quad_rows(row0: u32, rows: u32, lane_id: u32) -> vec4<u32> {
  return min(row0 + (lane_id & 3u) + vec4<u32>(0u, 4u, 8u, 12u), vec4<u32>(rows - 1u));
}

// Gathers of 4 values; lanes outside the image / border may hold wrapped offsets: WebGPU's robust
// buffer access keeps such reads in bounds and select() zeroes them (no branch per lane).
fn gather_x(o: vec4<u32>, ok: vec4<bool>) -> vec4<f32> {
  return select(vec4<f32>(0.0), vec4<f32>(x[o.x], x[o.y], x[o.z], x[o.w]), ok);
}

fn gather_dy(o: vec4<u32>, ok: vec4<bool>) -> vec4<f32> {
  return select(vec4<f32>(0.0), vec4<f32>(dy[o.x], dy[o.y], dy[o.z], dy[o.w]), ok);
}

fn gather_wt(o: vec4<u32>) -> vec4<f32> {
  return vec4<f32>(wt[o.x], wt[o.y], wt[o.z], wt[o.w]);
}

// ---- forward ------------------------------------------------------------------------------------
// Rows: output channels co. Columns: output pixels (n, oy, ox) flattened. Reduction: taps
// (ky, kx) outer, input channels ci inner (unrolled by 4), so the border test is made once per
// tap and column. Grid: (column blocks of this dispatch, ceil(Cout / 16)).

// Where the thread's 8 output pixels are: the window's top-left input coordinates, the image's
// offset in x and the pixel's offset in y (without the channel term), 4 columns per vector.
struct OutColumns {
  iy0: vec4<i32>,
  iy1: vec4<i32>,
  ix0: vec4<i32>,
  ix1: vec4<i32>,
  base0: vec4<u32>,
  base1: vec4<u32>,
  ok0: vec4<bool>,
  ok1: vec4<bool>,
  out0: vec4<u32>,
  out1: vec4<u32>,
}

fn out_columns(col0: u32) -> OutColumns {
  let hw = params.ho * params.wo;
  let c0 = columns4(col0, 0u);
  let c1 = columns4(col0, 1u);
  let img0 = c0 / hw;
  let img1 = c1 / hw;
  let p0 = c0 - img0 * hw;
  let p1 = c1 - img1 * hw;
  let pad = i32(params.pad);
  return OutColumns(
    vec4<i32>(p0 / params.wo * params.stride) - pad, vec4<i32>(p1 / params.wo * params.stride) - pad,
    vec4<i32>(p0 % params.wo * params.stride) - pad, vec4<i32>(p1 % params.wo * params.stride) - pad,
    img0 * params.cin * params.h * params.w, img1 * params.cin * params.h * params.w,
    c0 < vec4<u32>(params.n * hw), c1 < vec4<u32>(params.n * hw),
    img0 * params.cout * hw + p0, img1 * params.cout * hw + p1);
}

// x offsets of tap (ky, kx) at channel 0 and whether it lies inside the image.
struct Tap {
  o0: vec4<u32>,
  o1: vec4<u32>,
  in0: vec4<bool>,
  in1: vec4<bool>,
}

fn tap_of(oc: OutColumns, ky: u32, kx: u32) -> Tap {
  let yy0 = vec4<u32>(oc.iy0 + i32(ky));
  let yy1 = vec4<u32>(oc.iy1 + i32(ky));
  let xx0 = vec4<u32>(oc.ix0 + i32(kx));
  let xx1 = vec4<u32>(oc.ix1 + i32(kx));
  let h = vec4<u32>(params.h);
  let w = vec4<u32>(params.w);
  return Tap(oc.base0 + yy0 * params.w + xx0, oc.base1 + yy1 * params.w + xx1,
             oc.ok0 & (yy0 < h) & (xx0 < w), oc.ok1 & (yy1 < h) & (xx1 < w));
}

// One step at tap t and input channel ci: w0, w1 = the weight offsets of this lane's rows of the
// two row groups at (ci = 0, this tap).
fn forward_step(t: Tap, ci: u32, w0: vec4<u32>, w1: vec4<u32>) -> Step {
  let xo = ci * params.h * params.w;
  let wo = ci * params.kh * params.kw;
  return Step(gather_wt(w0 + wo), gather_wt(w1 + wo), gather_x(t.o0 + xo, t.in0), gather_x(t.o1 + xo, t.in1));
}

// y[n, r, pixel] = act((acc + bias[r]) * s[r] + t[r] [+ y]), at y[slice + out_j + r * Ho * Wo] for
// the thread's column j (slice: where a split-K slice's partial sums go, 0 otherwise). s, t: an inference batchnorm folded in (s = 1, t = 0 without), computed as
// the unfused batchnorm computes them; with has_res, y holds a residual copied there before.
fn store_forward(oc: OutColumns, row0: u32, col0: u32, slice: u32) {
  let hw = params.ho * params.wo;
  let out = array<u32, 8>(oc.out0.x, oc.out0.y, oc.out0.z, oc.out0.w, oc.out1.x, oc.out1.y, oc.out1.z, oc.out1.w);
  for (var i = 0u; i < ROWS; i++) {
    let r = row0 + i;
    if (r >= params.cout) { break; }
    var b = 0.0;
    if (params.has_bias == 1u) { b = bias[r]; }
    var s = 1.0;
    var t = 0.0;
    if (params.has_bn == 1u) {
      s = bn_w[r] * (1.0 / sqrt(bn_v[r] + params.bn_eps));
      t = bn_b[r] - bn_m[r] * s;
    }
    let v = row_values(i);
    for (var j = 0u; j < 8u; j++) {
      if (column(col0, j) >= params.n * hw) { break; }
      let k = slice + out[j] + r * hw;
      var o = (v[j] + b) * s + t;
      if (params.has_res == 1u) { o += y[k]; }
      if (params.act == 1u && o < 0.0) { o *= params.slope; }
      y[k] = o;
    }
  }
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
           @builtin(subgroup_invocation_id) lane_id: u32) {
  if (lid >= params.col_stride) { return; }
  let row0 = wid.y * ROWS;
  let col0 = (wid.x + params.tile_base) * COLS * params.col_stride + lid;
  let oc = out_columns(col0);
  let wrow0 = quad_rows(row0, params.cout, lane_id) * params.cin * params.kh * params.kw;
  let wrow1 = quad_rows(row0 + 16u, params.cout, lane_id) * params.cin * params.kh * params.kw;
  // Split-K (grid z > 1): slice z reduces the input channels [z * split_len, (z + 1) * split_len)
  // and writes raw partial sums (the TS side turns the epilogue off) to y[z, N, Cout, Ho, Wo];
  // conv2d.wgsl's forward_sum_slices adds them and runs the epilogue. Unsplit: split_len = Cin.
  let ci_lo = wid.z * params.split_len;
  let ci_hi = min(params.cin, ci_lo + params.split_len);
  clear_acc();
  for (var ky = 0u; ky < params.kh; ky++) {
    for (var kx = 0u; kx < params.kw; kx++) {
      let t = tap_of(oc, ky, kx);
      let w0 = wrow0 + ky * params.kw + kx;
      let w1 = wrow1 + ky * params.kw + kx;
      var ci = ci_lo;
      for (; ci + 4u <= ci_hi; ci += 4u) {
        multiply_add4(forward_step(t, ci, w0, w1), forward_step(t, ci + 1u, w0, w1), forward_step(t, ci + 2u, w0, w1), forward_step(t, ci + 3u, w0, w1));
      }
      for (; ci < ci_hi; ci++) { multiply_add(forward_step(t, ci, w0, w1)); }
    }
  }
  store_forward(oc, row0, col0, wid.z * params.n * params.cout * params.ho * params.wo);
}

// 3x3 kernels: input channels outer and the 9 taps unrolled inside, their offsets and border
// masks computed once. A step's 9 taps then read neighbouring pixels of one channel and 9
// consecutive weights of each row, where the loop above sweeps every channel per tap; on
// SwiftShader 10-25% faster (bench/probes/conv-ab.ts). Three taps per multiply_add3. Split-K as
// in forward.
fn tap_step(t: Tap, xo: u32, w0: vec4<u32>, w1: vec4<u32>) -> Step {
  return Step(gather_wt(w0), gather_wt(w1), gather_x(t.o0 + xo, t.in0), gather_x(t.o1 + xo, t.in1));
}

@compute @workgroup_size(WG)
fn forward_3x3(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
               @builtin(subgroup_invocation_id) lane_id: u32) {
  if (lid >= params.col_stride) { return; }
  let row0 = wid.y * ROWS;
  let col0 = (wid.x + params.tile_base) * COLS * params.col_stride + lid;
  let oc = out_columns(col0);
  let wrow0 = quad_rows(row0, params.cout, lane_id) * params.cin * 9u;
  let wrow1 = quad_rows(row0 + 16u, params.cout, lane_id) * params.cin * 9u;
  let ci_lo = wid.z * params.split_len;
  let ci_hi = min(params.cin, ci_lo + params.split_len);
  let t0 = tap_of(oc, 0u, 0u);
  let t1 = tap_of(oc, 0u, 1u);
  let t2 = tap_of(oc, 0u, 2u);
  let t3 = tap_of(oc, 1u, 0u);
  let t4 = tap_of(oc, 1u, 1u);
  let t5 = tap_of(oc, 1u, 2u);
  let t6 = tap_of(oc, 2u, 0u);
  let t7 = tap_of(oc, 2u, 1u);
  let t8 = tap_of(oc, 2u, 2u);
  clear_acc();
  for (var ci = ci_lo; ci < ci_hi; ci++) {
    let xo = ci * params.h * params.w;
    let w0 = wrow0 + ci * 9u;
    let w1 = wrow1 + ci * 9u;
    multiply_add3(tap_step(t0, xo, w0, w1), tap_step(t1, xo, w0 + 1u, w1 + 1u), tap_step(t2, xo, w0 + 2u, w1 + 2u));
    multiply_add3(tap_step(t3, xo, w0 + 3u, w1 + 3u), tap_step(t4, xo, w0 + 4u, w1 + 4u), tap_step(t5, xo, w0 + 5u, w1 + 5u));
    multiply_add3(tap_step(t6, xo, w0 + 6u, w1 + 6u), tap_step(t7, xo, w0 + 7u, w1 + 7u), tap_step(t8, xo, w0 + 8u, w1 + 8u));
  }
  store_forward(oc, row0, col0, wid.z * params.n * params.cout * params.ho * params.wo);
}

// The same for few input channels (the 3-channel first layer): per-tap loops of a few steps
// cost more than the steps (SwiftShader spills and reloads the accumulators around each loop),
// so one flat loop runs over k = (ci, ky, kx) in weight order and finds the tap per step; KH and
// KW are template constants, so that k -> (ci, ky, kx) is multiplies and shifts.
const KH: u32 = 3u;
const KW: u32 = 3u;

fn forward_flat_step(oc: OutColumns, k: u32, w0: vec4<u32>, w1: vec4<u32>) -> Step {
  let ci = k / (KH * KW);
  let t = k - ci * (KH * KW);
  let ky = t / KW;
  let tp = tap_of(oc, ky, t - ky * KW);
  let xo = ci * params.h * params.w;
  return Step(gather_wt(w0 + k), gather_wt(w1 + k), gather_x(tp.o0 + xo, tp.in0), gather_x(tp.o1 + xo, tp.in1));
}

@compute @workgroup_size(WG)
fn forward_flat(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                @builtin(subgroup_invocation_id) lane_id: u32) {
  if (lid >= params.col_stride) { return; }
  let row0 = wid.y * ROWS;
  let col0 = (wid.x + params.tile_base) * COLS * params.col_stride + lid;
  let oc = out_columns(col0);
  let ktot = params.cin * KH * KW;
  let w0 = quad_rows(row0, params.cout, lane_id) * ktot;
  let w1 = quad_rows(row0 + 16u, params.cout, lane_id) * ktot;
  clear_acc();
  var k = 0u;
  for (; k + 4u <= ktot; k += 4u) {
    multiply_add4(forward_flat_step(oc, k, w0, w1), forward_flat_step(oc, k + 1u, w0, w1), forward_flat_step(oc, k + 2u, w0, w1), forward_flat_step(oc, k + 3u, w0, w1));
  }
  for (; k < ktot; k++) { multiply_add(forward_flat_step(oc, k, w0, w1)); }
  store_forward(oc, row0, col0, 0u);
}

// ---- backward_input -----------------------------------------------------------------------------
// dX[n, ci, iy, ix] = sum over co, ky, kx of W[co, ci, ky, kx] dY[n, co, oy, ox] where
// oy = (iy + pad - ky) / stride divides evenly. Split into stride^2 phases (py, px) =
// (iy % S, ix % S): in a phase only taps ky = ky0 + S*ty with ky0 = (py + pad) % S contribute,
// each at oy = cy + qy - ty for iy = py + S*qy and cy = (py + pad - ky0) / S, so each phase is a
// dense GEMM over its own pixels that reads dY with unit stride. Phases with no taps (1x1 kernels
// with stride 2) write zeros. Rows: ci. Columns: (n, qy, qx) of the phase. Reduction: the phase's
// taps outer, co inner. Grid: (column blocks of phase 0 in this dispatch, ceil(Cin / 16), S*S).

fn input_step(o0: vec4<u32>, o1: vec4<u32>, in0: vec4<bool>, in1: vec4<bool>, co: u32, w0: vec4<u32>, w1: vec4<u32>) -> Step {
  let dyo = co * params.ho * params.wo;
  let wo = co * params.cin * params.kh * params.kw;
  return Step(gather_wt(w0 + wo), gather_wt(w1 + wo), gather_dy(o0 + dyo, in0), gather_dy(o1 + dyo, in1));
}

@compute @workgroup_size(WG)
fn backward_input(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                  @builtin(subgroup_invocation_id) lane_id: u32) {
  if (lid >= params.col_stride) { return; }
  let s = params.stride;
  let py = wid.z / s;
  let px = wid.z % s;
  if (py >= params.h || px >= params.w) { return; }
  let hq = (params.h - py + s - 1u) / s;
  let wq = (params.w - px + s - 1u) / s;
  let cols = params.n * hq * wq;
  let block0 = (wid.x + params.tile_base) * COLS * params.col_stride;
  if (block0 >= cols) { return; }
  let row0 = wid.y * ROWS;
  let ky0 = (py + params.pad) % s;
  let kx0 = (px + params.pad) % s;
  let nky = select(0u, (params.kh - ky0 + s - 1u) / s, ky0 < params.kh);
  let nkx = select(0u, (params.kw - kx0 + s - 1u) / s, kx0 < params.kw);
  let cy = i32((py + params.pad - ky0) / s);
  let cx = i32((px + params.pad - kx0) / s);
  let hw_out = params.ho * params.wo;

  let col0 = block0 + lid;
  let c0 = columns4(col0, 0u);
  let c1 = columns4(col0, 1u);
  let img0 = c0 / (hq * wq);
  let img1 = c1 / (hq * wq);
  let q0 = c0 - img0 * hq * wq;
  let q1 = c1 - img1 * hq * wq;
  let qy0 = vec4<i32>(q0 / wq);
  let qy1 = vec4<i32>(q1 / wq);
  let qx0 = vec4<i32>(q0 % wq);
  let qx1 = vec4<i32>(q1 % wq);
  let ok0 = c0 < vec4<u32>(cols);
  let ok1 = c1 < vec4<u32>(cols);
  let wcol0 = quad_rows(row0, params.cin, lane_id) * params.kh * params.kw;
  let wcol1 = quad_rows(row0 + 16u, params.cin, lane_id) * params.kh * params.kw;

  clear_acc();
  for (var t = 0u; t < nky * nkx; t++) {
    let ty = t / nkx;
    let tx = t - ty * nkx;
    let oy0 = vec4<u32>(qy0 + (cy - i32(ty)));
    let oy1 = vec4<u32>(qy1 + (cy - i32(ty)));
    let ox0 = vec4<u32>(qx0 + (cx - i32(tx)));
    let ox1 = vec4<u32>(qx1 + (cx - i32(tx)));
    let ho = vec4<u32>(params.ho);
    let wo = vec4<u32>(params.wo);
    let in0 = ok0 & (oy0 < ho) & (ox0 < wo);
    let in1 = ok1 & (oy1 < ho) & (ox1 < wo);
    let o0 = img0 * params.cout * hw_out + oy0 * params.wo + ox0;
    let o1 = img1 * params.cout * hw_out + oy1 * params.wo + ox1;
    let tap = (ky0 + s * ty) * params.kw + kx0 + s * tx;
    let w0 = wcol0 + tap;
    let w1 = wcol1 + tap;
    var co = 0u;
    for (; co + 4u <= params.cout; co += 4u) {
      multiply_add4(input_step(o0, o1, in0, in1, co, w0, w1), input_step(o0, o1, in0, in1, co + 1u, w0, w1),
                    input_step(o0, o1, in0, in1, co + 2u, w0, w1), input_step(o0, o1, in0, in1, co + 3u, w0, w1));
    }
    for (; co < params.cout; co++) { multiply_add(input_step(o0, o1, in0, in1, co, w0, w1)); }
  }

  // dx[n, ci, iy, ix] = dx[out_j + ci * H * W] for the thread's column j.
  let hw_in = params.h * params.w;
  let out0 = img0 * params.cin * hw_in + (py + s * vec4<u32>(qy0)) * params.w + px + s * vec4<u32>(qx0);
  let out1 = img1 * params.cin * hw_in + (py + s * vec4<u32>(qy1)) * params.w + px + s * vec4<u32>(qx1);
  let out = array<u32, 8>(out0.x, out0.y, out0.z, out0.w, out1.x, out1.y, out1.z, out1.w);
  for (var i = 0u; i < ROWS; i++) {
    let ci = row0 + i;
    if (ci >= params.cin) { break; }
    let v = row_values(i);
    for (var j = 0u; j < 8u; j++) {
      if (column(col0, j) >= cols) { break; }
      dx[out[j] + ci * hw_in] = v[j];
    }
  }
}

// Stride 1, 3x3 kernels: one phase; as forward_3x3, output channels outer and the 9 taps
// unrolled inside, their dY offsets and masks computed once (tap (ky, kx) of dX pixel (iy, ix)
// reads dY at (iy + pad - ky, ix + pad - kx)). Columns: dX pixels (n, iy, ix). Grid as
// backward_input's with one phase.
fn dy_tap(iy0: vec4<i32>, iy1: vec4<i32>, ix0: vec4<i32>, ix1: vec4<i32>, base0: vec4<u32>, base1: vec4<u32>,
          ok0: vec4<bool>, ok1: vec4<bool>, ky: u32, kx: u32) -> Tap {
  let yy0 = vec4<u32>(iy0 - i32(ky));
  let yy1 = vec4<u32>(iy1 - i32(ky));
  let xx0 = vec4<u32>(ix0 - i32(kx));
  let xx1 = vec4<u32>(ix1 - i32(kx));
  let ho = vec4<u32>(params.ho);
  let wo = vec4<u32>(params.wo);
  return Tap(base0 + yy0 * params.wo + xx0, base1 + yy1 * params.wo + xx1,
             ok0 & (yy0 < ho) & (xx0 < wo), ok1 & (yy1 < ho) & (xx1 < wo));
}

fn input_tap_step(t: Tap, dyo: u32, w0: vec4<u32>, w1: vec4<u32>) -> Step {
  return Step(gather_wt(w0), gather_wt(w1), gather_dy(t.o0 + dyo, t.in0), gather_dy(t.o1 + dyo, t.in1));
}

@compute @workgroup_size(WG)
fn backward_input_3x3(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                      @builtin(subgroup_invocation_id) lane_id: u32) {
  if (lid >= params.col_stride) { return; }
  let row0 = wid.y * ROWS;
  let col0 = (wid.x + params.tile_base) * COLS * params.col_stride + lid;
  let hw = params.h * params.w;
  let c0 = columns4(col0, 0u);
  let c1 = columns4(col0, 1u);
  let img0 = c0 / hw;
  let img1 = c1 / hw;
  let p0 = c0 - img0 * hw;
  let p1 = c1 - img1 * hw;
  let pad = i32(params.pad);
  let iy0 = vec4<i32>(p0 / params.w) + pad;
  let iy1 = vec4<i32>(p1 / params.w) + pad;
  let ix0 = vec4<i32>(p0 % params.w) + pad;
  let ix1 = vec4<i32>(p1 % params.w) + pad;
  let ok0 = c0 < vec4<u32>(params.n * hw);
  let ok1 = c1 < vec4<u32>(params.n * hw);
  let base0 = img0 * params.cout * params.ho * params.wo;
  let base1 = img1 * params.cout * params.ho * params.wo;
  let t0 = dy_tap(iy0, iy1, ix0, ix1, base0, base1, ok0, ok1, 0u, 0u);
  let t1 = dy_tap(iy0, iy1, ix0, ix1, base0, base1, ok0, ok1, 0u, 1u);
  let t2 = dy_tap(iy0, iy1, ix0, ix1, base0, base1, ok0, ok1, 0u, 2u);
  let t3 = dy_tap(iy0, iy1, ix0, ix1, base0, base1, ok0, ok1, 1u, 0u);
  let t4 = dy_tap(iy0, iy1, ix0, ix1, base0, base1, ok0, ok1, 1u, 1u);
  let t5 = dy_tap(iy0, iy1, ix0, ix1, base0, base1, ok0, ok1, 1u, 2u);
  let t6 = dy_tap(iy0, iy1, ix0, ix1, base0, base1, ok0, ok1, 2u, 0u);
  let t7 = dy_tap(iy0, iy1, ix0, ix1, base0, base1, ok0, ok1, 2u, 1u);
  let t8 = dy_tap(iy0, iy1, ix0, ix1, base0, base1, ok0, ok1, 2u, 2u);
  // W[co, ci, ky, kx] at (co, this lane's rows ci, tap 0).
  let wcol0 = quad_rows(row0, params.cin, lane_id) * 9u;
  let wcol1 = quad_rows(row0 + 16u, params.cin, lane_id) * 9u;
  clear_acc();
  for (var co = 0u; co < params.cout; co++) {
    let dyo = co * params.ho * params.wo;
    let w0 = wcol0 + co * params.cin * 9u;
    let w1 = wcol1 + co * params.cin * 9u;
    multiply_add3(input_tap_step(t0, dyo, w0, w1), input_tap_step(t1, dyo, w0 + 1u, w1 + 1u), input_tap_step(t2, dyo, w0 + 2u, w1 + 2u));
    multiply_add3(input_tap_step(t3, dyo, w0 + 3u, w1 + 3u), input_tap_step(t4, dyo, w0 + 4u, w1 + 4u), input_tap_step(t5, dyo, w0 + 5u, w1 + 5u));
    multiply_add3(input_tap_step(t6, dyo, w0 + 6u, w1 + 6u), input_tap_step(t7, dyo, w0 + 7u, w1 + 7u), input_tap_step(t8, dyo, w0 + 8u, w1 + 8u));
  }
  // dx[n, ci, iy, ix] = dx[img * Cin * H * W + ci * H * W + pixel] for the thread's column j.
  let out0 = img0 * params.cin * hw + p0;
  let out1 = img1 * params.cin * hw + p1;
  let out = array<u32, 8>(out0.x, out0.y, out0.z, out0.w, out1.x, out1.y, out1.z, out1.w);
  for (var i = 0u; i < ROWS; i++) {
    let ci = row0 + i;
    if (ci >= params.cin) { break; }
    let v = row_values(i);
    for (var j = 0u; j < 8u; j++) {
      if (column(col0, j) >= params.n * hw) { break; }
      dx[out[j] + ci * hw] = v[j];
    }
  }
}

// ---- backward_filter ----------------------------------------------------------------------------
// dW[co, k] = sum over r = (n, oy, ox) of dY[n, co, oy, ox] Col[k, r], k = (ci, ky, kx).
// Rows: co. Columns: k. Reduction: r, one output pixel per step (unrolled by 4). Walking output
// rows in an inner loop instead (no division per step) was 1.4-1.8x slower at 7x7 and 14x14: on
// SwiftShader every loop entry and exit stores and reloads the spilled accumulators.
// Grid: (ceil(K / (8 col_stride)), ceil(Cout / ROWS), slices). Slice z reduces r in
// [r_begin + z*split_len, min(r_end, r_begin + (z+1)*split_len)) into dw[z, Cout, K]
// (conv2d.wgsl's sum_slices adds the slices; with one slice dw is the result itself).

// Per column: x offset of tap (ky, kx) at channel ci relative to the window corner, and the tap.
struct FilterColumns {
  koff0: vec4<i32>,
  koff1: vec4<i32>,
  ky0: vec4<i32>,
  ky1: vec4<i32>,
  kx0: vec4<i32>,
  kx1: vec4<i32>,
  ok0: vec4<bool>,
  ok1: vec4<bool>,
}

fn filter_columns(c: vec4<u32>) -> array<vec4<i32>, 3> {
  let taps = params.kh * params.kw;
  let ci = c / taps;
  let t = c - ci * taps;
  let ky = t / params.kw;
  let kx = t - ky * params.kw;
  return array<vec4<i32>, 3>(vec4<i32>((ci * params.h + ky) * params.w + kx), vec4<i32>(ky), vec4<i32>(kx));
}

// Output pixel r as (img, oy, ox), and the pixel after it.
fn pixel_of(r: u32) -> vec3<u32> {
  let hw_out = params.ho * params.wo;
  let img = r / hw_out;
  let oy = (r - img * hw_out) / params.wo;
  return vec3<u32>(img, oy, r - img * hw_out - oy * params.wo);
}

fn next_pixel(p: vec3<u32>) -> vec3<u32> {
  let row_end = p.z + 1u == params.wo;
  let img_end = row_end && p.y + 1u == params.ho;
  return vec3<u32>(select(p.x, p.x + 1u, img_end), select(select(p.y, p.y + 1u, row_end), 0u, img_end), select(p.z + 1u, 0u, row_end));
}

fn filter_step(k: FilterColumns, p: vec3<u32>, drow0: vec4<u32>, drow1: vec4<u32>) -> Step {
  let hw_out = params.ho * params.wo;
  let img = p.x;
  let pix = p.y * params.wo + p.z;
  let iy = i32(p.y * params.stride) - i32(params.pad);
  let ix = i32(p.z * params.stride) - i32(params.pad);
  let corner = i32(img * params.cin * params.h * params.w) + iy * i32(params.w) + ix;
  let h = vec4<u32>(params.h);
  let w = vec4<u32>(params.w);
  let in0 = k.ok0 & (vec4<u32>(k.ky0 + iy) < h) & (vec4<u32>(k.kx0 + ix) < w);
  let in1 = k.ok1 & (vec4<u32>(k.ky1 + iy) < h) & (vec4<u32>(k.kx1 + ix) < w);
  let a0 = gather_dy((img * params.cout + drow0) * hw_out + pix, vec4<bool>(true));
  let a1 = gather_dy((img * params.cout + drow1) * hw_out + pix, vec4<bool>(true));
  return Step(a0, a1, gather_x(vec4<u32>(k.koff0 + corner), in0), gather_x(vec4<u32>(k.koff1 + corner), in1));
}

@compute @workgroup_size(WG)
fn backward_filter(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                   @builtin(subgroup_invocation_id) lane_id: u32) {
  if (lid >= params.col_stride) { return; }
  let ktot = params.cin * params.kh * params.kw;
  let row0 = wid.y * ROWS;
  let col0 = wid.x * COLS * params.col_stride + lid;
  let c0 = columns4(col0, 0u);
  let c1 = columns4(col0, 1u);
  let g0 = filter_columns(c0);
  let g1 = filter_columns(c1);
  let k = FilterColumns(g0[0], g1[0], g0[1], g1[1], g0[2], g1[2], c0 < vec4<u32>(ktot), c1 < vec4<u32>(ktot));
  let drow0 = quad_rows(row0, params.cout, lane_id);
  let drow1 = quad_rows(row0 + 16u, params.cout, lane_id);
  let r_lo = params.r_begin + wid.z * params.split_len;
  let r_hi = min(params.r_end, r_lo + params.split_len);

  clear_acc();
  var r = r_lo;
  // Two divisions per 4 steps: a 4-lane integer division costs SwiftShader about as much as a load.
  for (; r + 4u <= r_hi; r += 4u) {
    let p0 = pixel_of(r);
    let p1 = next_pixel(p0);
    let p2 = next_pixel(p1);
    multiply_add4(filter_step(k, p0, drow0, drow1), filter_step(k, p1, drow0, drow1), filter_step(k, p2, drow0, drow1), filter_step(k, next_pixel(p2), drow0, drow1));
  }
  for (; r < r_hi; r++) { multiply_add(filter_step(k, pixel_of(r), drow0, drow1)); }

  let slice = wid.z * params.cout * ktot;
  for (var i = 0u; i < ROWS; i++) {
    let co = row0 + i;
    if (co >= params.cout) { break; }
    let v = row_values(i);
    for (var j = 0u; j < 8u; j++) {
      let c = column(col0, j);
      if (c >= ktot) { break; }
      let o = slice + co * ktot + c;
      if (params.accumulate == 1u) { dw[o] += v[j]; } else { dw[o] = v[j]; }
    }
  }
}
