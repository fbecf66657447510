// Pooling over x: [N, C, H, W] -> y: [N, C, OH, OW]. Planes are the N*C (n, c) pairs; flat output
// o = (plane*OH + oy)*OW + ox, flat input i = (plane*H + iy)*W + ix. Backward passes gather (one
// invocation per input; WGSL has no float atomics to scatter with).
//
// Max pooling forward runs one invocation per output. Its backward comes in two variants: the
// reference (one invocation per input) and `rows` (one per ROW consecutive inputs of a row, loading
// each window's argmax and dy once for all of them). A rows forward (ROW outputs sharing the loads
// of overlapping windows) measured slower than one output per invocation on SwiftShader.
//
// Max pooling: window rows oy*SH - PH .. + KH - 1 (likewise columns); padding counts as -inf, so a
// window's max is over its in-bounds elements (the TS side keeps every window partly in bounds).
// PH/PW is the top/left padding; bottom/right padding (TF 'same' puts the odd pixel there) only
// shows in params.oh/ow, since windows past the last row or column are simply cut at the edge.
// Ties go to the first max in row-major window order, as in torch. argmax holds iy*W + ix.
//
// Adaptive average pooling (torchvision/torch AdaptiveAvgPool2d): output row oy averages input
// rows floor(oy*H/OH) .. ceil((oy+1)*H/OH) - 1 (likewise columns); bins overlap when H % OH != 0
// and repeat rows when OH > H.

const WG: u32 = 256u;

// Max-pool geometry: template constants (one pipeline per window shape), so that the window loops
// unroll and the divisions by the stride are by constants.
const KH: u32 = 2u;
const KW: u32 = 2u;
const SH: u32 = 2u;
const SW: u32 = 2u;
const PH: u32 = 0u;
const PW: u32 = 0u;

// Inputs per invocation of the rows backward (4: they travel in a vec4).
const ROW: u32 = 4u;

struct Params {
  total: u32,   // invocations: outputs, inputs, or row groups of ROW inputs
  h: u32,
  w: u32,
  oh: u32,
  ow: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> argmax_in: array<i32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> argmax: array<i32>;

fn flat(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * WG;
}

struct WindowMax {
  value: f32,
  index: i32,
}

fn window_max(o: u32) -> WindowMax {
  let ox = o % params.ow;
  let t = o / params.ow;
  let oy = t % params.oh;
  let base = (t / params.oh) * params.h * params.w;
  let y0 = i32(oy * SH) - i32(PH);
  let x0 = i32(ox * SW) - i32(PW);
  var best = 0.0;
  var arg = -1;
  for (var ky = 0; ky < i32(KH); ky++) {
    let iy = y0 + ky;
    if (iy < 0 || iy >= i32(params.h)) { continue; }
    for (var kx = 0; kx < i32(KW); kx++) {
      let ix = x0 + kx;
      if (ix < 0 || ix >= i32(params.w)) { continue; }
      let at = iy * i32(params.w) + ix;
      let v = x[base + u32(at)];
      // Strictly greater keeps the first of equal maxima; a NaN wins, as in torch.
      if (arg < 0 || v > best || v != v) {
        best = v;
        arg = at;
      }
    }
  }
  return WindowMax(best, arg);
}

// Inference: y only.
@compute @workgroup_size(WG)
fn max_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let o = flat(gid, groups);
  if (o >= params.total) { return; }
  out[o] = window_max(o).value;
}

// Training: y and the argmax the backward gathers by.
@compute @workgroup_size(WG)
fn max_pool_argmax(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let o = flat(gid, groups);
  if (o >= params.total) { return; }
  let r = window_max(o);
  out[o] = r.value;
  argmax[o] = r.index;
}

// dx[i] = sum of dy over the windows that contain input (iy, ix) and chose it as their max.
// Window rows containing iy: oy*SH - PH <= iy <= oy*SH - PH + KH - 1, i.e.
// ceil((iy + PH - KH + 1) / SH) <= oy <= floor((iy + PH) / SH).
@compute @workgroup_size(WG)
fn max_pool_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat(gid, groups);
  if (i >= params.total) { return; }
  let ix = i % params.w;
  let t = i / params.w;
  let iy = t % params.h;
  let obase = (t / params.h) * params.oh * params.ow;
  let here = i32(iy * params.w + ix);
  let ny = i32(iy + PH) - i32(KH) + 1;
  let nx = i32(ix + PW) - i32(KW) + 1;
  let oy0 = select(0u, u32(ny + i32(SH) - 1) / SH, ny > 0);
  let ox0 = select(0u, u32(nx + i32(SW) - 1) / SW, nx > 0);
  let oy1 = min((iy + PH) / SH + 1u, params.oh);
  let ox1 = min((ix + PW) / SW + 1u, params.ow);
  var acc = 0.0;
  for (var oy = oy0; oy < oy1; oy++) {
    for (var ox = ox0; ox < ox1; ox++) {
      let o = obase + oy * params.ow + ox;
      if (argmax_in[o] == here) { acc += dy[o]; }
    }
  }
  out[i] = acc;
}

// ---- max pooling backward, rows variant ------------------------------------------------------------
// Invocation g covers inputs ix0 = ROW * (g % groups) .. ix0 + ROW - 1 of row t = g / groups
// (t = plane*H + iy, groups = ceil(W / ROW)). The windows containing any of them are rows as in
// max_pool_backward and columns ceil((ix0 + PW - KW + 1) / SW) .. floor((ix0 + ROW - 1 + PW) / SW);
// each window's argmax and dy are loaded once and credited to the input it names.
@compute @workgroup_size(WG)
fn max_pool_backward_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let g = flat(gid, groups);
  if (g >= params.total) { return; }
  let row_groups = (params.w + ROW - 1u) / ROW;
  let gx = g % row_groups;
  let t = g / row_groups;
  let iy = t % params.h;
  let obase = (t / params.h) * params.oh * params.ow;
  let ix0 = gx * ROW;
  let here = i32(iy * params.w + ix0);
  let ny = i32(iy + PH) - i32(KH) + 1;
  let nx = i32(ix0 + PW) - i32(KW) + 1;
  let oy0 = select(0u, u32(ny + i32(SH) - 1) / SH, ny > 0);
  let ox0 = select(0u, u32(nx + i32(SW) - 1) / SW, nx > 0);
  let oy1 = min((iy + PH) / SH + 1u, params.oh);
  let ox1 = min((ix0 + ROW - 1u + PW) / SW + 1u, params.ow);
  var acc = vec4<f32>();
  for (var oy = oy0; oy < oy1; oy++) {
    for (var ox = ox0; ox < ox1; ox++) {
      let o = obase + oy * params.ow + ox;
      let rel = vec4<i32>(argmax_in[o] - here);
      acc += select(vec4<f32>(), vec4<f32>(dy[o]), rel == vec4<i32>(0, 1, 2, 3));
    }
  }
  let i0 = t * params.w + ix0;
  for (var q = 0u; q < ROW; q++) {
    if (ix0 + q < params.w) { out[i0 + q] = acc[q]; }
  }
}

// Adaptive average pooling forward.
@compute @workgroup_size(WG)
fn adaptive_avg_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let o = flat(gid, groups);
  if (o >= params.total) { return; }
  let ox = o % params.ow;
  let t = o / params.ow;
  let oy = t % params.oh;
  let base = (t / params.oh) * params.h * params.w;
  let y0 = oy * params.h / params.oh;
  let y1 = ((oy + 1u) * params.h + params.oh - 1u) / params.oh;
  let x0 = ox * params.w / params.ow;
  let x1 = ((ox + 1u) * params.w + params.ow - 1u) / params.ow;
  var acc = 0.0;
  for (var iy = y0; iy < y1; iy++) {
    for (var ix = x0; ix < x1; ix++) { acc += x[base + iy * params.w + ix]; }
  }
  out[o] = acc / f32((y1 - y0) * (x1 - x0));
}

// dx[i] = sum over the bins containing input (iy, ix) of dy / bin area. Bins containing row iy:
// floor(iy*OH/H) <= oy <= floor(((iy+1)*OH - 1)/H); the bin bounds are rechecked in the loop.
@compute @workgroup_size(WG)
fn adaptive_avg_pool_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat(gid, groups);
  if (i >= params.total) { return; }
  let ix = i % params.w;
  let t = i / params.w;
  let iy = t % params.h;
  let obase = (t / params.h) * params.oh * params.ow;
  let oy0 = iy * params.oh / params.h;
  let oy1 = min(((iy + 1u) * params.oh - 1u) / params.h + 1u, params.oh);
  let ox0 = ix * params.ow / params.w;
  let ox1 = min(((ix + 1u) * params.ow - 1u) / params.w + 1u, params.ow);
  var acc = 0.0;
  for (var oy = oy0; oy < oy1; oy++) {
    let y0 = oy * params.h / params.oh;
    let y1 = ((oy + 1u) * params.h + params.oh - 1u) / params.oh;
    if (iy < y0 || iy >= y1) { continue; }
    for (var ox = ox0; ox < ox1; ox++) {
      let x0 = ox * params.w / params.ow;
      let x1 = ((ox + 1u) * params.w + params.ow - 1u) / params.ow;
      if (ix < x0 || ix >= x1) { continue; }
      acc += dy[obase + oy * params.ow + ox] / f32((y1 - y0) * (x1 - x0));
    }
  }
  out[i] = acc;
}
