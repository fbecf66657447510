// The register block shared by the 'subgroup' GEMM kernels (conv2d_subgroup.wgsl and
// matmul_subgroup.wgsl; the TS side appends this file to theirs, and WGSL resolves module-scope
// names in any order). Each thread accumulates ROWS x COLS = 16 x 8 outputs in 128 scalar
// accumulators; per reduction step lane q of each quad loads the A values of rows q, q+4, q+8,
// q+12 and subgroupBroadcast shares them, so a step costs 4 + 8 loads for 128 multiply-adds.
// Scalar accumulators: on SwiftShader they run ~2x faster than vec4 ones and ~5x faster than
// mat4x4 ones (scratch/accum.ts). `a * b + c` here, not fma(): on SwiftShader both give the same
// bits at the same speed (bench/probes/conv-fma.ts, 2026-12-03), and a GPU contracts either.

// Block of one thread: ROWS GEMM rows x COLS columns. Fixed: the 128 accumulators rRcJ are spelled
// out below; the TS side reads both values from here.
const ROWS: u32 = 16u;
const COLS: u32 = 8u;

// Accumulators: rRcJ = GEMM row R (0..15) of the block, thread column J (0..7).
var<private> r0c0: f32; var<private> r0c1: f32; var<private> r0c2: f32; var<private> r0c3: f32; var<private> r0c4: f32; var<private> r0c5: f32; var<private> r0c6: f32; var<private> r0c7: f32;
var<private> r1c0: f32; var<private> r1c1: f32; var<private> r1c2: f32; var<private> r1c3: f32; var<private> r1c4: f32; var<private> r1c5: f32; var<private> r1c6: f32; var<private> r1c7: f32;
var<private> r2c0: f32; var<private> r2c1: f32; var<private> r2c2: f32; var<private> r2c3: f32; var<private> r2c4: f32; var<private> r2c5: f32; var<private> r2c6: f32; var<private> r2c7: f32;
var<private> r3c0: f32; var<private> r3c1: f32; var<private> r3c2: f32; var<private> r3c3: f32; var<private> r3c4: f32; var<private> r3c5: f32; var<private> r3c6: f32; var<private> r3c7: f32;
var<private> r4c0: f32; var<private> r4c1: f32; var<private> r4c2: f32; var<private> r4c3: f32; var<private> r4c4: f32; var<private> r4c5: f32; var<private> r4c6: f32; var<private> r4c7: f32;
var<private> r5c0: f32; var<private> r5c1: f32; var<private> r5c2: f32; var<private> r5c3: f32; var<private> r5c4: f32; var<private> r5c5: f32; var<private> r5c6: f32; var<private> r5c7: f32;
var<private> r6c0: f32; var<private> r6c1: f32; var<private> r6c2: f32; var<private> r6c3: f32; var<private> r6c4: f32; var<private> r6c5: f32; var<private> r6c6: f32; var<private> r6c7: f32;
var<private> r7c0: f32; var<private> r7c1: f32; var<private> r7c2: f32; var<private> r7c3: f32; var<private> r7c4: f32; var<private> r7c5: f32; var<private> r7c6: f32; var<private> r7c7: f32;
var<private> r8c0: f32; var<private> r8c1: f32; var<private> r8c2: f32; var<private> r8c3: f32; var<private> r8c4: f32; var<private> r8c5: f32; var<private> r8c6: f32; var<private> r8c7: f32;
var<private> r9c0: f32; var<private> r9c1: f32; var<private> r9c2: f32; var<private> r9c3: f32; var<private> r9c4: f32; var<private> r9c5: f32; var<private> r9c6: f32; var<private> r9c7: f32;
var<private> r10c0: f32; var<private> r10c1: f32; var<private> r10c2: f32; var<private> r10c3: f32; var<private> r10c4: f32; var<private> r10c5: f32; var<private> r10c6: f32; var<private> r10c7: f32;
var<private> r11c0: f32; var<private> r11c1: f32; var<private> r11c2: f32; var<private> r11c3: f32; var<private> r11c4: f32; var<private> r11c5: f32; var<private> r11c6: f32; var<private> r11c7: f32;
var<private> r12c0: f32; var<private> r12c1: f32; var<private> r12c2: f32; var<private> r12c3: f32; var<private> r12c4: f32; var<private> r12c5: f32; var<private> r12c6: f32; var<private> r12c7: f32;
var<private> r13c0: f32; var<private> r13c1: f32; var<private> r13c2: f32; var<private> r13c3: f32; var<private> r13c4: f32; var<private> r13c5: f32; var<private> r13c6: f32; var<private> r13c7: f32;
var<private> r14c0: f32; var<private> r14c1: f32; var<private> r14c2: f32; var<private> r14c3: f32; var<private> r14c4: f32; var<private> r14c5: f32; var<private> r14c6: f32; var<private> r14c7: f32;
var<private> r15c0: f32; var<private> r15c1: f32; var<private> r15c2: f32; var<private> r15c3: f32; var<private> r15c4: f32; var<private> r15c5: f32; var<private> r15c6: f32; var<private> r15c7: f32;

// One reduction step. `mine`: this lane's A values (rows q, q+4, q+8, q+12 for its quad lane q);
// b0, b1: the thread's 8 B values.
fn multiply_add(mine: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>) {
  // a_l = the A values of lane l: rows l, l+4, l+8, l+12.
  let a0 = subgroupBroadcast(mine, 0u);
  let a1 = subgroupBroadcast(mine, 1u);
  let a2 = subgroupBroadcast(mine, 2u);
  let a3 = subgroupBroadcast(mine, 3u);
  r0c0 += a0.x * b0.x; r0c1 += a0.x * b0.y; r0c2 += a0.x * b0.z; r0c3 += a0.x * b0.w; r0c4 += a0.x * b1.x; r0c5 += a0.x * b1.y; r0c6 += a0.x * b1.z; r0c7 += a0.x * b1.w;
  r1c0 += a1.x * b0.x; r1c1 += a1.x * b0.y; r1c2 += a1.x * b0.z; r1c3 += a1.x * b0.w; r1c4 += a1.x * b1.x; r1c5 += a1.x * b1.y; r1c6 += a1.x * b1.z; r1c7 += a1.x * b1.w;
  r2c0 += a2.x * b0.x; r2c1 += a2.x * b0.y; r2c2 += a2.x * b0.z; r2c3 += a2.x * b0.w; r2c4 += a2.x * b1.x; r2c5 += a2.x * b1.y; r2c6 += a2.x * b1.z; r2c7 += a2.x * b1.w;
  r3c0 += a3.x * b0.x; r3c1 += a3.x * b0.y; r3c2 += a3.x * b0.z; r3c3 += a3.x * b0.w; r3c4 += a3.x * b1.x; r3c5 += a3.x * b1.y; r3c6 += a3.x * b1.z; r3c7 += a3.x * b1.w;
  r4c0 += a0.y * b0.x; r4c1 += a0.y * b0.y; r4c2 += a0.y * b0.z; r4c3 += a0.y * b0.w; r4c4 += a0.y * b1.x; r4c5 += a0.y * b1.y; r4c6 += a0.y * b1.z; r4c7 += a0.y * b1.w;
  r5c0 += a1.y * b0.x; r5c1 += a1.y * b0.y; r5c2 += a1.y * b0.z; r5c3 += a1.y * b0.w; r5c4 += a1.y * b1.x; r5c5 += a1.y * b1.y; r5c6 += a1.y * b1.z; r5c7 += a1.y * b1.w;
  r6c0 += a2.y * b0.x; r6c1 += a2.y * b0.y; r6c2 += a2.y * b0.z; r6c3 += a2.y * b0.w; r6c4 += a2.y * b1.x; r6c5 += a2.y * b1.y; r6c6 += a2.y * b1.z; r6c7 += a2.y * b1.w;
  r7c0 += a3.y * b0.x; r7c1 += a3.y * b0.y; r7c2 += a3.y * b0.z; r7c3 += a3.y * b0.w; r7c4 += a3.y * b1.x; r7c5 += a3.y * b1.y; r7c6 += a3.y * b1.z; r7c7 += a3.y * b1.w;
  r8c0 += a0.z * b0.x; r8c1 += a0.z * b0.y; r8c2 += a0.z * b0.z; r8c3 += a0.z * b0.w; r8c4 += a0.z * b1.x; r8c5 += a0.z * b1.y; r8c6 += a0.z * b1.z; r8c7 += a0.z * b1.w;
  r9c0 += a1.z * b0.x; r9c1 += a1.z * b0.y; r9c2 += a1.z * b0.z; r9c3 += a1.z * b0.w; r9c4 += a1.z * b1.x; r9c5 += a1.z * b1.y; r9c6 += a1.z * b1.z; r9c7 += a1.z * b1.w;
  r10c0 += a2.z * b0.x; r10c1 += a2.z * b0.y; r10c2 += a2.z * b0.z; r10c3 += a2.z * b0.w; r10c4 += a2.z * b1.x; r10c5 += a2.z * b1.y; r10c6 += a2.z * b1.z; r10c7 += a2.z * b1.w;
  r11c0 += a3.z * b0.x; r11c1 += a3.z * b0.y; r11c2 += a3.z * b0.z; r11c3 += a3.z * b0.w; r11c4 += a3.z * b1.x; r11c5 += a3.z * b1.y; r11c6 += a3.z * b1.z; r11c7 += a3.z * b1.w;
  r12c0 += a0.w * b0.x; r12c1 += a0.w * b0.y; r12c2 += a0.w * b0.z; r12c3 += a0.w * b0.w; r12c4 += a0.w * b1.x; r12c5 += a0.w * b1.y; r12c6 += a0.w * b1.z; r12c7 += a0.w * b1.w;
  r13c0 += a1.w * b0.x; r13c1 += a1.w * b0.y; r13c2 += a1.w * b0.z; r13c3 += a1.w * b0.w; r13c4 += a1.w * b1.x; r13c5 += a1.w * b1.y; r13c6 += a1.w * b1.z; r13c7 += a1.w * b1.w;
  r14c0 += a2.w * b0.x; r14c1 += a2.w * b0.y; r14c2 += a2.w * b0.z; r14c3 += a2.w * b0.w; r14c4 += a2.w * b1.x; r14c5 += a2.w * b1.y; r14c6 += a2.w * b1.z; r14c7 += a2.w * b1.w;
  r15c0 += a3.w * b0.x; r15c1 += a3.w * b0.y; r15c2 += a3.w * b0.z; r15c3 += a3.w * b0.w; r15c4 += a3.w * b1.x; r15c5 += a3.w * b1.y; r15c6 += a3.w * b1.z; r15c7 += a3.w * b1.w;
}

fn clear_acc() {
  r0c0 = 0.0; r0c1 = 0.0; r0c2 = 0.0; r0c3 = 0.0; r0c4 = 0.0; r0c5 = 0.0; r0c6 = 0.0; r0c7 = 0.0;
  r1c0 = 0.0; r1c1 = 0.0; r1c2 = 0.0; r1c3 = 0.0; r1c4 = 0.0; r1c5 = 0.0; r1c6 = 0.0; r1c7 = 0.0;
  r2c0 = 0.0; r2c1 = 0.0; r2c2 = 0.0; r2c3 = 0.0; r2c4 = 0.0; r2c5 = 0.0; r2c6 = 0.0; r2c7 = 0.0;
  r3c0 = 0.0; r3c1 = 0.0; r3c2 = 0.0; r3c3 = 0.0; r3c4 = 0.0; r3c5 = 0.0; r3c6 = 0.0; r3c7 = 0.0;
  r4c0 = 0.0; r4c1 = 0.0; r4c2 = 0.0; r4c3 = 0.0; r4c4 = 0.0; r4c5 = 0.0; r4c6 = 0.0; r4c7 = 0.0;
  r5c0 = 0.0; r5c1 = 0.0; r5c2 = 0.0; r5c3 = 0.0; r5c4 = 0.0; r5c5 = 0.0; r5c6 = 0.0; r5c7 = 0.0;
  r6c0 = 0.0; r6c1 = 0.0; r6c2 = 0.0; r6c3 = 0.0; r6c4 = 0.0; r6c5 = 0.0; r6c6 = 0.0; r6c7 = 0.0;
  r7c0 = 0.0; r7c1 = 0.0; r7c2 = 0.0; r7c3 = 0.0; r7c4 = 0.0; r7c5 = 0.0; r7c6 = 0.0; r7c7 = 0.0;
  r8c0 = 0.0; r8c1 = 0.0; r8c2 = 0.0; r8c3 = 0.0; r8c4 = 0.0; r8c5 = 0.0; r8c6 = 0.0; r8c7 = 0.0;
  r9c0 = 0.0; r9c1 = 0.0; r9c2 = 0.0; r9c3 = 0.0; r9c4 = 0.0; r9c5 = 0.0; r9c6 = 0.0; r9c7 = 0.0;
  r10c0 = 0.0; r10c1 = 0.0; r10c2 = 0.0; r10c3 = 0.0; r10c4 = 0.0; r10c5 = 0.0; r10c6 = 0.0; r10c7 = 0.0;
  r11c0 = 0.0; r11c1 = 0.0; r11c2 = 0.0; r11c3 = 0.0; r11c4 = 0.0; r11c5 = 0.0; r11c6 = 0.0; r11c7 = 0.0;
  r12c0 = 0.0; r12c1 = 0.0; r12c2 = 0.0; r12c3 = 0.0; r12c4 = 0.0; r12c5 = 0.0; r12c6 = 0.0; r12c7 = 0.0;
  r13c0 = 0.0; r13c1 = 0.0; r13c2 = 0.0; r13c3 = 0.0; r13c4 = 0.0; r13c5 = 0.0; r13c6 = 0.0; r13c7 = 0.0;
  r14c0 = 0.0; r14c1 = 0.0; r14c2 = 0.0; r14c3 = 0.0; r14c4 = 0.0; r14c5 = 0.0; r14c6 = 0.0; r14c7 = 0.0;
  r15c0 = 0.0; r15c1 = 0.0; r15c2 = 0.0; r15c3 = 0.0; r15c4 = 0.0; r15c5 = 0.0; r15c6 = 0.0; r15c7 = 0.0;
}

// Row r (0..15) of the block: the thread's 8 columns.
fn row_values(r: u32) -> array<f32, 8> {
  switch (r) {
    case 0u: { return array<f32, 8>(r0c0, r0c1, r0c2, r0c3, r0c4, r0c5, r0c6, r0c7); }
    case 1u: { return array<f32, 8>(r1c0, r1c1, r1c2, r1c3, r1c4, r1c5, r1c6, r1c7); }
    case 2u: { return array<f32, 8>(r2c0, r2c1, r2c2, r2c3, r2c4, r2c5, r2c6, r2c7); }
    case 3u: { return array<f32, 8>(r3c0, r3c1, r3c2, r3c3, r3c4, r3c5, r3c6, r3c7); }
    case 4u: { return array<f32, 8>(r4c0, r4c1, r4c2, r4c3, r4c4, r4c5, r4c6, r4c7); }
    case 5u: { return array<f32, 8>(r5c0, r5c1, r5c2, r5c3, r5c4, r5c5, r5c6, r5c7); }
    case 6u: { return array<f32, 8>(r6c0, r6c1, r6c2, r6c3, r6c4, r6c5, r6c6, r6c7); }
    case 7u: { return array<f32, 8>(r7c0, r7c1, r7c2, r7c3, r7c4, r7c5, r7c6, r7c7); }
    case 8u: { return array<f32, 8>(r8c0, r8c1, r8c2, r8c3, r8c4, r8c5, r8c6, r8c7); }
    case 9u: { return array<f32, 8>(r9c0, r9c1, r9c2, r9c3, r9c4, r9c5, r9c6, r9c7); }
    case 10u: { return array<f32, 8>(r10c0, r10c1, r10c2, r10c3, r10c4, r10c5, r10c6, r10c7); }
    case 11u: { return array<f32, 8>(r11c0, r11c1, r11c2, r11c3, r11c4, r11c5, r11c6, r11c7); }
    case 12u: { return array<f32, 8>(r12c0, r12c1, r12c2, r12c3, r12c4, r12c5, r12c6, r12c7); }
    case 13u: { return array<f32, 8>(r13c0, r13c1, r13c2, r13c3, r13c4, r13c5, r13c6, r13c7); }
    case 14u: { return array<f32, 8>(r14c0, r14c1, r14c2, r14c3, r14c4, r14c5, r14c6, r14c7); }
    default: { return array<f32, 8>(r15c0, r15c1, r15c2, r15c3, r15c4, r15c5, r15c6, r15c7); }
  }
}

