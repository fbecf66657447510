// In-place integer counters (BatchNorm's num_batches_tracked): one invocation adds `by`.

struct Params {
  by: i32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> counter: array<i32>;

@compute @workgroup_size(1)
fn increment() {
  counter[0] += params.by;
}
