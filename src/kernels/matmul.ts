// Batched matrix multiply: C[b] = op(A[b]) x op(B[b]) with a fused bias + (leaky) ReLU epilogue.
// Variants: `reference` (one thread per output), `tiled` (workgroup-memory tiles, 4 x 4 outputs per
// thread: for GPUs), `tiledVec4` (the same, double-buffered and filled with vec4 loads), `blocked`
// (8 x 8 per thread from storage: CPU adapters), `subgroup` (16 x 8 per thread, A shared by
// subgroup broadcasts, the conv kernels' scheme: matmul_subgroup.wgsl + gemm_16x8.wgsl), `rows`
// (all of M <= 4 per thread, no padding rows: matmul_rows.wgsl) and `splitK` (slices of K in
// parallel, then a sum pass). Without a forced variant: the tuner's measured choice for the shape
// (runtime/tune.ts), else a heuristic. Large work is cut into several dispatches (batches, rows,
// slices of K accumulating in C); an operand over one storage binding is bound in ranges (gemm).
import wgsl from '../../shaders/matmul.wgsl?raw';
import subgroupMain from '../../shaders/matmul_subgroup.wgsl?raw';
import gemmBlock from '../../shaders/gemm_16x8.wgsl?raw';
import rowsWgsl from '../../shaders/matmul_rows.wgsl?raw';
import { GraftError, numel, shapeError, shapeStr } from '../core/index.ts';
import { type BufferBinding, type GpuData, type KernelConstants, type Runtime, expectDtype, literalConstants, output } from './runtime/index.ts';

const K = {
  reference: { name: 'matmul.reference', wgsl, entry: 'reference' },
  tiled: { name: 'matmul.tiled', wgsl, entry: 'tiled' },
  tiledVec4: { name: 'matmul.tiledVec4', wgsl, entry: 'tiled_vec4' },
  blocked: { name: 'matmul.blocked', wgsl, entry: 'blocked' },
  subgroup: { name: 'matmul.subgroup', wgsl: `${subgroupMain}\n${gemmBlock}`, entry: 'subgroup', requires: ['subgroups'] },
  rows: { name: 'matmul.rows', wgsl: rowsWgsl, entry: 'rows' },
  splitK: { name: 'matmul.splitK', wgsl, entry: 'split_k' },
  splitSum: { name: 'matmul.splitSum', wgsl, entry: 'split_sum' },
};

export type MatmulVariant = 'reference' | 'tiled' | 'tiledVec4' | 'blocked' | 'subgroup' | 'rows' | 'splitK';
/** Every variant; the first is the reference the tuner checks the others against. */
export const variants: readonly MatmulVariant[] = ['reference', 'tiled', 'tiledVec4', 'blocked', 'subgroup', 'rows', 'splitK'];
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
  /**
   * Force a variant (tests, benchmarks); otherwise the tuner's choice for the shape, else a
   * heuristic. `splitK` on operands over one storage binding falls back to the heuristic's variant.
   */
  variant?: MatmulVariant;
  /** Sum the batch products into one [M, N] result (gradients of a broadcast operand). */
  sumBatches?: boolean;
  /** Most multiply-adds in one dispatch (tests lower it to exercise the split path). */
  maxDispatchWork?: number;
  /** Override the tile configuration (benchmarks). */
  tile?: Tile;
}

// Outputs per thread along M and N (subgroup: its block file's ROWS x COLS, wgN threads in use being
// col_stride; rows: wgM = R rows x 8 columns): C's block per workgroup is (rows * wgM) x (cols * wgN).
const block = literalConstants(gemmBlock);
const PER_THREAD: Record<MatmulVariant, { rows: number; cols: number }> = {
  reference: { rows: 1, cols: 1 },
  tiled: { rows: 4, cols: 4 },
  tiledVec4: { rows: 4, cols: 4 },
  blocked: { rows: 8, cols: 8 },
  subgroup: { rows: block.ROWS, cols: block.COLS },
  rows: { rows: 1, cols: 8 },
  splitK: { rows: 4, cols: 4 },
};
// About 0.1 s of SwiftShader time per dispatch at most, and no invocation loops over more than 4096 of K.
const MAX_DISPATCH_WORK = 1 << 26;
const MAX_K_SLICE = 4096;
// splitK: as many slices as give about this many threads, each slice at least MIN_SPLIT_SLICE of K
// (a starting point for the tuner, not a measured optimum).
const SPLIT_TARGET_THREADS = 4096;
const MIN_SPLIT_SLICE = 32;

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

/** One product to record: operands, dims, C's batch stride, and whether batches sum into one C. */
interface Job {
  rt: Runtime;
  a: GpuData;
  b: GpuData;
  c: GpuData;
  d: Dims;
  cBatch: number;
  transA: boolean;
  transB: boolean;
  opts: MatmulOptions;
  sumAll: boolean;
}

/** A variant with its tile: C's block per workgroup is bm x bn; tk is the K step of `tiled`. */
interface Config {
  variant: MatmulVariant;
  tile: Tile;
  bm: number;
  bn: number;
  tk: number;
}

function config(variant: MatmulVariant, tile: Tile): Config {
  const tiles = variant === 'tiled' || variant === 'tiledVec4';
  return { variant, tile, bm: PER_THREAD[variant].rows * tile.wgM, bn: PER_THREAD[variant].cols * tile.wgN, tk: tiles ? (tile.tk ?? 16) : 1 };
}

/** Batches [b0, b1), rows [m0, m1) and columns [n0, n1) of C, and the slice [k0, k1) of K. */
interface Region {
  b0: number;
  b1: number;
  m0: number;
  m1: number;
  n0: number;
  n1: number;
  k0: number;
  k1: number;
}

/** What a dispatch binds as a, b, c: a buffer or a byte range, and the element the range starts at. */
interface Bound {
  binding: BufferBinding;
  start: number;
}

/** The reference kernel's fixed workgroup, from its @workgroup_size(x = along N, y = along M). */
function referenceTile(rt: Runtime): Tile {
  const [wgN, wgM] = rt.kernel(K.reference).workgroupSize;
  return { wgM, wgN };
}
// Byte alignment of binding offsets: WebGPU's largest allowed minStorageBufferOffsetAlignment.
const OFFSET_ALIGN = 256;

/**
 * Plan and record the dispatches of one product; `sumAll` adds every batch into the same C.
 * An operand over maxStorageBufferBindingSize (VGG16's classifier.0.weight is 411 MB) is cut
 * into byte ranges of its buffer, each one binding: the product is then computed per batch and
 * per chunk of M, N and K (see planChunks).
 */
function gemm(rt: Runtime, a: GpuData, b: GpuData, c: GpuData, d: Dims, cBatch: number, transA: boolean, transB: boolean, opts: MatmulOptions, sumAll: boolean): void {
  let variant = opts.variant ?? (rt.tuner.choose('matmul', tuneKey(d, transA, transB, sumAll), usableVariants(rt)) as MatmulVariant | undefined) ?? chooseVariant(rt, d);
  if (!variants.includes(variant)) throw new GraftError(`matmul: unknown variant '${variant}'`);
  if (variant === 'subgroup' && !rt.report.features.includes('subgroups')) throw new GraftError(`matmul: variant 'subgroup' needs the adapter feature 'subgroups', which this device lacks`);
  const job: Job = { rt, a, b, c, d, cBatch, transA, transB, opts, sumAll };
  const limit = rt.limits.maxStorageBufferBindingSize;
  const full: Region = { b0: 0, b1: d.batch, m0: 0, m1: d.m, n0: 0, n1: d.n, k0: 0, k1: d.k };
  const fits = [a, b, c].every((x) => numel(x.shape) * 4 <= limit);
  // Bound whole (up to its numel when the buffer itself is over the limit); at least one vec4.
  const whole = (x: GpuData): Bound => ({ binding: x.buffer.size > limit ? { buffer: x.buffer, size: Math.max(16, numel(x.shape) * 4) } : x.buffer, start: 0 });
  if (variant === 'splitK') {
    if (fits) return recordSplitK(job, whole(a), whole(b), whole(c));
    variant = chooseVariant(rt, d);
  }
  const chosen = config(variant, variant === 'reference' ? referenceTile(rt) : (opts.tile ?? chooseTile(variant, d)));
  if (fits) {
    record(job, chosen, full, whole(a), whole(b), whole(c));
    return;
  }
  // Smaller blocks make finer chunks possible: try the chosen configuration, then the other
  // `blocked` tiles (unless a tile was forced), then `reference` (unless a variant was forced).
  const others = variant === 'blocked' && !opts.tile ? [1, 2, 4, 8].map((wgM) => config('blocked', { wgM, wgN: 64 / wgM })) : [];
  const candidates = [chosen, ...others, ...(opts.variant ? [] : [config('reference', referenceTile(rt))])];
  for (const cfg of candidates) {
    const chunks = planChunks(d, transA, transB, cfg, limit);
    if (chunks) return recordChunks(job, cfg, chunks);
  }
  throw new GraftError(
    `matmul: A ${shapeStr(a.shape)}${transA ? ' (transposed)' : ''} x B ${shapeStr(b.shape)}${transB ? ' (transposed)' : ''} cannot be cut into ranges ` +
      `of at most maxStorageBufferBindingSize (${limit} bytes): one block of rows of the largest operand is already larger`,
  );
}

/**
 * Chunk lengths along M, N and K such that every operand's rows in one chunk fit one binding.
 * Stored rows: A [M, K] (rows along M) or, transposed, [K, M] (rows along K); B [K, N] (along K)
 * or [N, K] (along N); C [M, N] (along M). A chunk is a run of whole stored rows, so it is
 * contiguous; M and N chunks are whole blocks of C (no workgroup straddles two chunks). Null when
 * even one block does not fit.
 */
function planChunks(d: Dims, transA: boolean, transB: boolean, cfg: Config, limit: number): { m: number; n: number; k: number } | null {
  const room = Math.floor((limit - OFFSET_ALIGN) / 4); // elements, less the slack of an aligned-down start
  let m = d.m;
  let n = d.n;
  let k = Math.max(d.k, 1);
  if (d.m * d.k > room) {
    if (transA) k = Math.min(k, Math.floor(room / d.m));
    else m = Math.min(m, Math.floor(room / d.k));
  }
  if (d.k * d.n > room) {
    if (transB) n = Math.min(n, Math.floor(room / d.k));
    else k = Math.min(k, Math.floor(room / d.n));
  }
  if (d.m * d.n > room) m = Math.min(m, Math.floor(room / d.n));
  if (m < d.m) m = roundDown(m, cfg.bm);
  if (n < d.n) n = roundDown(n, cfg.bn);
  return m > 0 && n > 0 && k > 0 ? { m, n, k } : null;
}

function recordChunks(job: Job, cfg: Config, chunk: { m: number; n: number; k: number }): void {
  const { d, transA, transB, cBatch, sumAll } = job;
  // The elements [from, to) of x as a binding whose offset is aligned down to OFFSET_ALIGN, its
  // size rounded up to whole vec4s (buffers are multiples of 16 bytes: tiledVec4 reads vec4s).
  const range = (x: GpuData, from: number, to: number): Bound => {
    const offset = roundDown(from * 4, OFFSET_ALIGN);
    const size = Math.min(Math.ceil(Math.max(to * 4 - offset, 16) / 16) * 16, x.buffer.size - offset);
    return { binding: { buffer: x.buffer, offset, size }, start: offset / 4 };
  };
  for (let z = 0; z < d.batch; z++) {
    for (let m0 = 0; m0 < d.m; m0 += chunk.m) {
      const m1 = Math.min(d.m, m0 + chunk.m);
      for (let n0 = 0; n0 < d.n; n0 += chunk.n) {
        const n1 = Math.min(d.n, n0 + chunk.n);
        for (let k0 = 0; k0 < Math.max(d.k, 1); k0 += chunk.k) {
          const k1 = Math.min(d.k, k0 + chunk.k);
          const a = transA ? range(job.a, z * d.aBatch + k0 * d.m, z * d.aBatch + k1 * d.m) : range(job.a, z * d.aBatch + m0 * d.k, z * d.aBatch + m1 * d.k);
          const b = transB ? range(job.b, z * d.bBatch + n0 * d.k, z * d.bBatch + n1 * d.k) : range(job.b, z * d.bBatch + k0 * d.n, z * d.bBatch + k1 * d.n);
          const c = range(job.c, (sumAll ? 0 : z * cBatch) + m0 * d.n, (sumAll ? 0 : z * cBatch) + m1 * d.n);
          record(job, cfg, { b0: z, b1: z + 1, m0, m1, n0, n1, k0, k1 }, a, b, c);
        }
      }
    }
  }
}

/** Record the dispatches of one region: groups of batches, runs of row tiles, slices of K. */
function record(job: Job, cfg: Config, r: Region, a: Bound, b: Bound, c: Bound): void {
  const { rt, d, opts, sumAll } = job;
  const { variant, tile, bm, bn, tk } = cfg;
  const constants: KernelConstants = variant === 'reference' || variant === 'subgroup' ? {} : variant === 'rows' ? { R: tile.wgM } : tk > 1 ? { WG_M: tile.wgM, WG_N: tile.wgN, TK: tk } : { WG_M: tile.wgM, WG_N: tile.wgN };
  const kernel = rt.kernel(K[variant], constants);

  // Work is counted on padded tiles: what the threads really execute. r.m0 and r.n0 are multiples
  // of bm and bn (chunks are whole blocks).
  const budget = opts.maxDispatchWork ?? MAX_DISPATCH_WORK;
  const colTiles = Math.ceil(r.n1 / bn) - r.n0 / bn;
  const firstRowTile = r.m0 / bm;
  const rowTiles = Math.ceil(r.m1 / bm) - firstRowTile;
  const padN = colTiles * bn;
  const kLength = r.k1 - r.k0;
  const kSlice = Math.max(tk, Math.min(roundDown(Math.floor(budget / (bm * padN)), tk), roundDown(MAX_K_SLICE, tk), Math.ceil(kLength / tk) * tk));
  const rowTilesPer = Math.max(1, Math.min(rowTiles, Math.floor(budget / (bm * padN * kSlice))));
  const batches = r.b1 - r.b0;
  const batchesPer = sumAll ? 1 : rowTilesPer < rowTiles ? 1 : Math.max(1, Math.min(batches, Math.floor(budget / (rowTiles * bm * padN * kSlice))));
  const maxWg = rt.limits.maxComputeWorkgroupsPerDimension;
  const rowGroup = Math.min(rowTilesPer, maxWg);
  const batchGroup = Math.min(batchesPer, maxWg);

  for (let b0 = r.b0; b0 < r.b1; b0 += batchGroup) {
    const nb = Math.min(batchGroup, r.b1 - b0);
    for (let t0 = 0; t0 < rowTiles; t0 += rowGroup) {
      const nt = Math.min(rowGroup, rowTiles - t0);
      // K = 0 still needs one pass to write zeros (and the bias).
      for (let k0 = r.k0; k0 < Math.max(r.k1, r.k0 + 1); k0 += kSlice) {
        const k1 = Math.min(r.k1, k0 + kSlice);
        const first = k0 === 0 && (!sumAll || b0 === 0);
        const last = k1 === d.k && (!sumAll || b0 + nb === d.batch);
        rt.dispatch(kernel, {
          params: {
            ...uniforms(job, a, b, c, b0, (firstRowTile + t0) * bm, k0, k1, r.n0, first, last),
            ...(K[variant].wgsl === wgsl ? { ...vecFlags(job, a, b, k0), slice_len: 0, slices: 0 } : {}),
            ...(variant === 'subgroup' ? { col_stride: tile.wgN } : {}),
          },
          buffers: { a: a.binding, b: b.binding, a4: a.binding, b4: b.binding, bias: last && opts.bias ? opts.bias.buffer : a.binding, c: c.binding },
          workgroups: [colTiles, nt, nb],
        });
      }
    }
  }
}

/** The uniform fields of one dispatch that every variant's struct has (matmul.wgsl adds vec_a, vec_b, slice_len, slices). */
function uniforms(job: Job, a: Bound, b: Bound, c: Bound, batch0: number, row0: number, k0: number, k1: number, col0: number, first: boolean, last: boolean): Record<string, number> {
  const { d, opts } = job;
  const act = opts.activation ?? 'none';
  return {
    m: d.m, n: d.n, k: d.k,
    a_batch: d.aBatch, b_batch: d.bBatch, c_batch: job.cBatch,
    batch0, row0, k0, k1, col0,
    a_start: a.start, b_start: b.start, c_start: c.start,
    trans_a: job.transA ? 1 : 0, trans_b: job.transB ? 1 : 0,
    accumulate: first ? 0 : 1,
    has_bias: last && opts.bias ? 1 : 0,
    activation: last && act !== 'none' ? 1 : 0,
    slope: act === 'leakyRelu' ? (opts.slope ?? 0.01) : 0,
  };
}

/**
 * tiledVec4: whether every vec4 run along a stored row of A (of B) starts at a multiple of 4
 * elements of its binding: the row length (K, or M transposed; N, or K transposed), the start of the
 * bound range and, for runs along K, the first k of the dispatch. (Tile rows and columns start at
 * multiples of 64; batch strides are products with the row length.)
 */
function vecFlags(job: Job, a: Bound, b: Bound, k0: number): { vec_a: number; vec_b: number } {
  const { d, transA, transB } = job;
  const alongK = k0 % 4 === 0 && d.k % 4 === 0;
  const okA = a.start % 4 === 0 && (transA ? d.m % 4 === 0 : alongK);
  const okB = b.start % 4 === 0 && (transB ? alongK : d.n % 4 === 0);
  return { vec_a: okA ? 1 : 0, vec_b: okB ? 1 : 0 };
}

/**
 * splitK: per batch (or into one C with sumAll), rows in groups and K in chunks of whole slices,
 * each a split_k dispatch (4 x 4 outputs per thread over one slice each, grid z the slices) into
 * partial sums [slices, M, N], then a split_sum dispatch that adds them into C with the epilogue.
 */
function recordSplitK(job: Job, a: Bound, b: Bound, c: Bound): void {
  const { rt, d, opts, sumAll } = job;
  const budget = opts.maxDispatchWork ?? MAX_DISPATCH_WORK;
  const maxWg = rt.limits.maxComputeWorkgroupsPerDimension;
  const k = Math.max(d.k, 1);
  const colBlocks = Math.ceil(d.n / 4);
  const rowBlocks = Math.ceil(d.m / 4);
  const rowWork = 16 * colBlocks; // multiply-adds per row block and step of K
  const want = Math.max(1, Math.min(Math.ceil(SPLIT_TARGET_THREADS / (colBlocks * rowBlocks)), Math.floor(k / MIN_SPLIT_SLICE)));
  const sliceLen = Math.max(1, Math.min(Math.ceil(k / want), MAX_K_SLICE, Math.floor(budget / rowWork)));
  const slicesPer = Math.max(1, Math.min(Math.ceil(k / sliceLen), Math.floor(budget / (rowWork * sliceLen)), maxWg));
  const kChunk = slicesPer * sliceLen;
  const rowBlocksPer = Math.max(1, Math.min(rowBlocks, Math.floor(budget / (rowWork * kChunk)), Math.floor(maxWg / 4)));
  const part = output(rt, [slicesPer, d.m, d.n]);
  const split = rt.kernel(K.splitK);
  const sum = rt.kernel(K.splitSum);
  for (let z = 0; z < d.batch; z++) {
    for (let rb = 0; rb < rowBlocks; rb += rowBlocksPer) {
      const row0 = rb * 4;
      const rows = Math.min(rowBlocksPer * 4, d.m - row0);
      for (let k0 = 0; k0 < k; k0 += kChunk) {
        const k1 = Math.min(d.k, k0 + kChunk);
        const slices = Math.max(1, Math.ceil((k1 - k0) / sliceLen));
        const first = k0 === 0 && (!sumAll || z === 0);
        const last = k0 + kChunk >= k && (!sumAll || z === d.batch - 1);
        const p = { ...uniforms(job, a, b, c, z, row0, k0, k1, 0, first, last), vec_a: 0, vec_b: 0, slice_len: sliceLen, slices };
        rt.dispatch(split, { params: p, buffers: { a: a.binding, b: b.binding, part: part.buffer }, workgroups: [Math.ceil(colBlocks / 64), Math.ceil(rows / 4), slices] });
        rt.dispatch(sum, { params: p, buffers: { part: part.buffer, bias: last && opts.bias ? opts.bias.buffer : a.binding, c: c.binding }, workgroups: [Math.ceil(d.n / 64), rows] });
      }
    }
  }
  rt.release(part.buffer);
}

/** The variants this device can run (a variant may require an adapter feature), for the tuner. */
function usableVariants(rt: Runtime): MatmulVariant[] {
  return variants.filter((v) => rt.missingFeatures(K[v]).length === 0);
}

/** The tuner's key of a product: every dimension that changes which variant is fastest. */
export function tuneKey(d: Dims, transA: boolean, transB: boolean, sumAll: boolean): string {
  return `batch=${d.batch} m=${d.m} k=${d.k} n=${d.n} transA=${+transA} transB=${+transB} batchA=${+!!d.aBatch} batchB=${+!!d.bBatch} sum=${+sumAll}`;
}

function roundDown(x: number, step: number): number {
  return Math.floor(x / step) * step;
}

/**
 * The naive kernel for tiny products; `tiled` on GPUs. On CPU adapters `rows` for M <= 2, `subgroup`
 * (with subgroups) from 16 rows and K >= 32, else `blocked`: measured on SwiftShader with
 * bench/probes/mm-ab.ts (README, "Where the time goes, and the kernels").
 */
function chooseVariant(rt: Runtime, d: Dims): MatmulVariant {
  if (d.m * d.n * d.k < 4096) return 'reference';
  if (!rt.report.isCpu) return 'tiled';
  if (d.m <= 2) return 'rows';
  return rt.report.features.includes('subgroups') && d.m >= 16 && d.k >= 32 ? 'subgroup' : 'blocked';
}

/**
 * Workgroup shapes. tiled, tiledVec4: 16 x 16 threads, 64 x 64 blocks, the usual GPU choice. blocked: 64
 * threads with as few rows as cover M (8 x 8 threads from M > 32): on SwiftShader M = 32, K = 2048,
 * N = 1000 ran at 1.17 GFLOP per CPU-second with 4 x 16 threads and 0.59 with 8 x 8, whose
 * 64-row blocks are half padding; 256^3 and 512^3 run at ~1.0 with 8 x 8.
 */
function chooseTile(variant: MatmulVariant, d: Dims): Tile {
  if (variant === 'tiled' || variant === 'tiledVec4') return { wgM: 16, wgN: 16, tk: 16 };
  if (variant === 'rows') return { wgM: Math.min(4, d.m), wgN: 64 }; // all of M (<= 4) per thread
  // subgroup: one row of threads; as few (a multiple of 4, up to 64) as cover N with the fewest
  // column blocks, so that a narrow C idles few lanes (conv2d's subgroupPlan does the same).
  if (variant === 'subgroup') {
    const perThread = PER_THREAD.subgroup.cols;
    const blocks = Math.ceil(d.n / (perThread * 64));
    return { wgM: 1, wgN: Math.min(64, 4 * Math.ceil(Math.ceil(d.n / (perThread * blocks)) / 4)) };
  }
  let wgM = 1;
  while (wgM < 8 && wgM * 8 < d.m) wgM *= 2;
  return { wgM, wgN: 64 / wgM };
}

export const kernels = Object.values(K);
