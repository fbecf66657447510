// On-GPU augmentation and preprocessing of image batches x: [N, C, H, W] (NCHW, f32). One
// invocation per output element, index = x + y * (groups_x * WG) as in dropout.wgsl.
//   crop_flip:       torchvision RandomCrop(padding) + RandomHorizontalFlip with per-image choices
//   resize_bilinear: torch F.interpolate(mode='bilinear', align_corners=False, antialias=False)
//   normalize:       (x[src channel] * scale - mean) / std per output channel (gray -> RGB, BGR)

const WG: u32 = 256u;

struct CropParams {
  total: u32,     // N * C * out_h * out_w
  c: u32,
  h: u32,
  w: u32,
  out_h: u32,
  out_w: u32,
}

struct ResizeParams {
  total: u32,     // N * C * out_h * out_w
  h: u32,
  w: u32,
  out_h: u32,
  out_w: u32,
  scale_h: f32,   // h / out_h
  scale_w: f32,   // w / out_w
}

struct NormalizeParams {
  total: u32,     // N * c_out * plane
  c_in: u32,
  c_out: u32,
  plane: u32,     // H * W
  scale: f32,
  src_channel: vec4<u32>,  // input channel read by output channel c (c < 4)
  mean: vec4<f32>,
  deviation: vec4<f32>,  // std (a reserved word in WGSL)
}

@group(0) @binding(0) var<uniform> crop: CropParams;
@group(0) @binding(0) var<uniform> resize: ResizeParams;
@group(0) @binding(0) var<uniform> norm: NormalizeParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// Per image n: offsets[3n] = row offset oy, [3n + 1] = column offset ox (into the unpadded image,
// so negative in the padding), [3n + 2] = 1 to flip.
@group(0) @binding(2) var<storage, read> offsets: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * WG;
}

// out[n, c, y, xo] = x[n, c, y + oy, (flip ? out_w - 1 - xo : xo) + ox], 0 outside the image.
@compute @workgroup_size(WG)
fn crop_flip(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i >= crop.total) { return; }
  let xo = i % crop.out_w;
  let y = (i / crop.out_w) % crop.out_h;
  let nc = i / (crop.out_w * crop.out_h);
  let n = nc / crop.c;
  var col = xo;
  if (offsets[3u * n + 2u] != 0) { col = crop.out_w - 1u - xo; }
  let sy = i32(y) + offsets[3u * n];
  let sx = i32(col) + offsets[3u * n + 1u];
  var v = 0.0;
  if (sy >= 0 && sy < i32(crop.h) && sx >= 0 && sx < i32(crop.w)) {
    v = x[(nc * crop.h + u32(sy)) * crop.w + u32(sx)];
  }
  out[i] = v;
}

// Source coordinate of an output pixel (torch's area_pixel_compute_source_index, align_corners
// false): s = scale * (dst + 0.5) - 0.5, clamped at 0; lower index floor(s), the upper one clamped
// to the last row/column.
@compute @workgroup_size(WG)
fn resize_bilinear(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i >= resize.total) { return; }
  let xo = i % resize.out_w;
  let yo = (i / resize.out_w) % resize.out_h;
  let plane = i / (resize.out_w * resize.out_h);
  let sy = max(resize.scale_h * (f32(yo) + 0.5) - 0.5, 0.0);
  let sx = max(resize.scale_w * (f32(xo) + 0.5) - 0.5, 0.0);
  let y0 = u32(sy);
  let x0 = u32(sx);
  let y1 = min(y0 + 1u, resize.h - 1u);
  let x1 = min(x0 + 1u, resize.w - 1u);
  let ly = sy - f32(y0);
  let lx = sx - f32(x0);
  let base = plane * resize.h * resize.w;
  let top = (1.0 - lx) * x[base + y0 * resize.w + x0] + lx * x[base + y0 * resize.w + x1];
  let bottom = (1.0 - lx) * x[base + y1 * resize.w + x0] + lx * x[base + y1 * resize.w + x1];
  out[i] = (1.0 - ly) * top + ly * bottom;
}

@compute @workgroup_size(WG)
fn normalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = index(gid, groups);
  if (i >= norm.total) { return; }
  let p = i % norm.plane;
  let c = (i / norm.plane) % norm.c_out;
  let n = i / (norm.plane * norm.c_out);
  let v = x[(n * norm.c_in + norm.src_channel[c]) * norm.plane + p];
  out[i] = (v * norm.scale - norm.mean[c]) / norm.deviation[c];
}
