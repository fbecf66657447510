// Batched matrix multiply (shaders/matmul.wgsl): C[b] = op(A[b]) x op(B[b]) with a fused
// bias + (leaky) ReLU epilogue. Variants: `reference` (one thread per output), `tiled`
// (workgroup-memory tiles, 4 x 4 outputs per thread: for GPUs) and `blocked` (8 x 8 outputs per
// thread straight from storage: for CPU adapters). Large work is cut into several dispatches
// (batches, rows, then slices of K whose partial sums accumulate in C).
import wgsl from '../../shaders/matmul.wgsl?raw';
import { type GpuData, type KernelConstants, type Runtime, GraftError, expectDtype, output, shapeError, shapeStr } from './runtime.ts';

const K = {
  reference: { name: 'matmul.reference', wgsl, entry: 'reference' },
  tiled: { name: 'matmul.tiled', wgsl, entry: 'tiled' },
  blocked: { name: 'matmul.blocked', wgsl, entry: 'blocked' },
};

export type MatmulVariant = keyof typeof K;
export const variants = Object.keys(K) as MatmulVariant[];
export type Activation = 'none' | 'relu' | 'leakyRelu';

/** Threads per workgroup along M and N (tiled, blocked) and the K step of tiled's tiles. */
export interface Tile {
  wgM: number;
  wgN: number;
  tk?: number;
}

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  /** [N], added to every row of C. */
  bias?: GpuData;
  activation?: Activation;
  /** Slope of leakyRelu for negative inputs (default 0.01). */
  slope?: number;
  /** Force a variant (tests, benchmarks); chosen from the shapes otherwise. */
  variant?: MatmulVariant;
  /** Sum the batch products into one [M, N] result (gradients of a broadcast operand). */
  sumBatches?: boolean;
  /** Most multiply-adds in one dispatch (tests lower it to exercise the split path). */
  maxDispatchWork?: number;
  /** Override the tile configuration (benchmarks). */
  tile?: Tile;
}

// Outputs per thread along M and N: C's block per workgroup is (rows * wgM) x (cols * wgN).
const PER_THREAD: Record<MatmulVariant, number> = { reference: 1, tiled: 4, blocked: 8 };
// About 0.1 s of SwiftShader time per dispatch at most, and no invocation loops over more than 4096 of K.
const MAX_DISPATCH_WORK = 1 << 26;
const MAX_K_SLICE = 4096;

interface Dims {
  batch: number;
  m: number;
  n: number;
  k: number;
  aBatch: number; // element strides between batches; 0 broadcasts
  bBatch: number;
}

/** Shapes of op(A) [M, K] and op(B) [K, N] with their batches; shape errors name both operands. */
function dims(a: GpuData, b: GpuData, transA: boolean, transB: boolean): Dims {
  const op = 'matmul';
  const aIs = `A is ${shapeStr(a.shape)}${transA ? ' (transposed)' : ''}`;
  const bIs = `B is ${shapeStr(b.shape)}${transB ? ' (transposed)' : ''}`;
  if (a.shape.length < 2 || a.shape.length > 3) shapeError(op, `A (${bIs})`, transA ? '[K, M] or [batch, K, M]' : '[M, K] or [batch, M, K]', a.shape);
  if (b.shape.length < 2 || b.shape.length > 3) shapeError(op, `B (${aIs})`, transB ? '[N, K] or [batch, N, K]' : '[K, N] or [batch, K, N]', b.shape);
  expectDtype(op, 'A', a, 'f32');
  expectDtype(op, 'B', b, 'f32');
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [m, k] = transA ? [ac, ar] : [ar, ac];
  const [kb, n] = transB ? [bc, br] : [br, bc];
  const batchA = a.shape.length === 3 ? a.shape[0] : 1;
  const batchB = b.shape.length === 3 ? b.shape[0] : 1;
  const batchMismatch = a.shape.length === 3 && b.shape.length === 3 && batchA !== batchB;
  if (k !== kb || batchMismatch) {
    const batch = b.shape.length === 3 ? `${a.shape.length === 3 ? batchA : 'batch'}, ` : '';
    shapeError(op, `B (${aIs})`, transB ? `[${batch}N, ${k}]` : `[${batch}${k}, N]`, b.shape);
  }
  const batch = Math.max(batchA, batchB);
  return { batch, m, n, k, aBatch: a.shape.length === 3 ? m * k : 0, bBatch: b.shape.length === 3 ? k * n : 0 };
}

/**
 * op(A) x op(B) (+ bias, activation). A [M, K] or [B, M, K] ([.., K, M] with transA), B [K, N]
 * or [B, K, N] ([.., N, K] with transB); a rank-2 operand is broadcast over the other's batch.
 * Returns [M, N], or [B, M, N] when either operand has a batch (unless sumBatches).
 */
export function matmul(rt: Runtime, a: GpuData, b: GpuData, opts: MatmulOptions = {}): GpuData {
  const transA = !!opts.transA;
  const transB = !!opts.transB;
  const d = dims(a, b, transA, transB);
  const batched = a.shape.length === 3 || b.shape.length === 3;
  if (opts.bias) {
    expectDtype('matmul', 'bias', opts.bias, 'f32');
    if (opts.bias.shape.length !== 1 || opts.bias.shape[0] !== d.n) shapeError('matmul', `bias (A is ${shapeStr(a.shape)}, B is ${shapeStr(b.shape)})`, `[${d.n}]`, opts.bias.shape);
  }
  const sum = !!opts.sumBatches && batched;
  const out = output(rt, sum || !batched ? [d.m, d.n] : [d.batch, d.m, d.n]);
  if (d.m === 0 || d.n === 0) return out;
  if (sum && transA && !transB && d.aBatch && d.bBatch) {
    // sum_b A[b]^T B[b] contracts over (batch, row of A, row of B): one GEMM over the flattened
    // [batch * K, M] x [batch * K, N].
    const k = d.batch * d.k;
    gemm(rt, a, b, out, { ...d, batch: 1, k, aBatch: 0, bBatch: 0 }, 0, transA, transB, opts, false);
  } else {
    gemm(rt, a, b, out, d, sum ? 0 : d.m * d.n, transA, transB, opts, sum);
  }
  return out;
}

/** Plan and record the dispatches of one product; `sumAll` adds every batch into the same C. */
function gemm(rt: Runtime, a: GpuData, b: GpuData, c: GpuData, d: Dims, cBatch: number, transA: boolean, transB: boolean, opts: MatmulOptions, sumAll: boolean): void {
  const variant = opts.variant ?? chooseVariant(rt, d);
  if (!(variant in K)) throw new GraftError(`matmul: unknown variant '${variant}'`);
  const tile = variant === 'reference' ? { wgM: 8, wgN: 8 } : (opts.tile ?? chooseTile(variant, d));
  const bm = PER_THREAD[variant] * tile.wgM;
  const bn = PER_THREAD[variant] * tile.wgN;
  const tk = variant === 'tiled' ? (tile.tk ?? 16) : 1;
  const act = opts.activation ?? 'none';
  const slope = act === 'leakyRelu' ? (opts.slope ?? 0.01) : 0;
  const constants: KernelConstants = variant === 'reference' ? {} : variant === 'tiled' ? { WG_M: tile.wgM, WG_N: tile.wgN, TK: tk } : { WG_M: tile.wgM, WG_N: tile.wgN };
  const kernel = rt.kernel(K[variant], constants);

  // Work is counted on padded tiles: what the threads really execute.
  const budget = opts.maxDispatchWork ?? MAX_DISPATCH_WORK;
  const colTiles = Math.ceil(d.n / bn);
  const rowTiles = Math.ceil(d.m / bm);
  const padN = colTiles * bn;
  const kSlice = Math.max(tk, Math.min(roundDown(Math.floor(budget / (bm * padN)), tk), roundDown(MAX_K_SLICE, tk), Math.ceil(d.k / tk) * tk));
  const rowTilesPer = Math.max(1, Math.min(rowTiles, Math.floor(budget / (bm * padN * kSlice))));
  const batchesPer = sumAll ? 1 : rowTilesPer < rowTiles ? 1 : Math.max(1, Math.min(d.batch, Math.floor(budget / (rowTiles * bm * padN * kSlice))));
  const maxWg = rt.limits.maxComputeWorkgroupsPerDimension;
  const rowGroup = Math.min(rowTilesPer, maxWg);
  const batchGroup = Math.min(batchesPer, maxWg);

  for (let b0 = 0; b0 < d.batch; b0 += batchGroup) {
    const nb = Math.min(batchGroup, d.batch - b0);
    for (let t0 = 0; t0 < rowTiles; t0 += rowGroup) {
      const nt = Math.min(rowGroup, rowTiles - t0);
      // K = 0 still needs one pass to write zeros (and the bias).
      for (let k0 = 0; k0 < Math.max(d.k, 1); k0 += kSlice) {
        const k1 = Math.min(d.k, k0 + kSlice);
        const first = k0 === 0 && (!sumAll || b0 === 0);
        const last = k1 === d.k && (!sumAll || b0 + nb === d.batch);
        rt.dispatch(kernel, {
          params: {
            m: d.m, n: d.n, k: d.k,
            a_batch: d.aBatch, b_batch: d.bBatch, c_batch: cBatch,
            batch0: b0, row0: t0 * bm, k0, k1,
            trans_a: transA ? 1 : 0, trans_b: transB ? 1 : 0,
            accumulate: first ? 0 : 1,
            has_bias: last && opts.bias ? 1 : 0,
            activation: last && act !== 'none' ? 1 : 0,
            slope,
          },
          buffers: { a: a.buffer, b: b.buffer, bias: (last && opts.bias ? opts.bias : a).buffer, c: c.buffer },
          workgroups: [colTiles, nt, nb],
        });
      }
    }
  }
}

function roundDown(x: number, step: number): number {
  return Math.floor(x / step) * step;
}

/** The naive kernel for tiny products; otherwise `blocked` on CPU adapters, `tiled` on GPUs. */
function chooseVariant(rt: Runtime, d: Dims): MatmulVariant {
  if (d.m * d.n * d.k < 4096) return 'reference';
  return rt.report.isCpu ? 'blocked' : 'tiled';
}

/**
 * Workgroup shapes. tiled: 16 x 16 threads, 64 x 64 blocks, the usual GPU choice. blocked: 64
 * threads with as few rows as cover M (8 x 8 threads from M > 32): on SwiftShader M = 32, K = 2048,
 * N = 1000 ran at 1.17 GFLOP per CPU-second with 4 x 16 threads and 0.59 with 8 x 8, whose
 * 64-row blocks are half padding; 256^3 and 512^3 run at ~1.0 with 8 x 8.
 */
function chooseTile(variant: MatmulVariant, d: Dims): Tile {
  if (variant === 'tiled') return { wgM: 16, wgN: 16, tk: 16 };
  let wgM = 1;
  while (wgM < 8 && wgM * 8 < d.m) wgM *= 2;
  return { wgM, wgN: 64 / wgM };
}

export const kernels = Object.values(K);
