// Dropout with a mask that is never stored: element i of a tensor is kept when
// hash(seed, i) >= threshold (threshold = p * 2^32), and a kept element is scaled by 1 / (1 - p).
// The hash is counter-based (a function of seed and index only), so the backward recomputes the
// very same mask from the seed: forward and backward are both `apply` (out = a * mask * scale).
// Index = x + y * (groups_x * WG), as in elementwise.wgsl.

const WG: u32 = 256u;

struct Params {
  n: u32,
  seed: u32,
  threshold: u32,  // keep when hash >= threshold: P(keep) = 1 - threshold / 2^32
  scale: f32,      // 1 / (1 - p)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// PCG hash (Jarzynski & Olano, "Hash Functions for GPU Rendering", 2020): a bijection on u32.
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// Two rounds: the index is hashed, mixed with the hashed seed (golden-ratio offset so seed 0 is not
// special), and hashed again, so nearby seeds and nearby indices give unrelated bits.
fn kept(i: u32) -> bool {
  let key = pcg(params.seed ^ 0x9e3779b9u);
  return pcg(pcg(i) ^ key) >= params.threshold;
}

@compute @workgroup_size(WG)
fn apply(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= params.n) { return; }
  out[i] = select(0.0, a[i] * params.scale, kept(i));
}
