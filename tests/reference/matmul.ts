// Float64 CPU references for the matmul family, written as plain loops.

export interface MatmulRefOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: Float64Array;
  /** Leaky ReLU slope applied after the bias; null for no activation (ReLU is slope 0). */
  slope?: number | null;
}

/**
 * C[b] = op(A[b]) op(B[b]) (+ bias) (then leaky ReLU). A holds `batchA` matrices of [M, K]
 * ([K, M] when transA), B holds `batchB` of [K, N] ([N, K] when transB); a batch of 1 broadcasts.
 * Returns [max(batchA, batchB), M, N] flattened.
 */
export function matmul(a: Float64Array, b: Float64Array, batchA: number, batchB: number, m: number, k: number, n: number, o: MatmulRefOptions = {}): Float64Array {
  const batch = Math.max(batchA, batchB);
  const c = new Float64Array(batch * m * n);
  for (let z = 0; z < batch; z++) {
    const ao = batchA === 1 ? 0 : z * m * k;
    const bo = batchB === 1 ? 0 : z * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = o.transA ? a[ao + p * m + i] : a[ao + i * k + p];
          const bv = o.transB ? b[bo + j * k + p] : b[bo + p * n + j];
          s += av * bv;
        }
        if (o.bias) s += o.bias[j];
        if (o.slope !== undefined && o.slope !== null && s < 0) s *= o.slope;
        c[(z * m + i) * n + j] = s;
      }
    }
  }
  return c;
}

/** Sum of the [M, N] matrices of a [batch, M, N] array. */
export function sumBatches(c: Float64Array, batch: number): Float64Array {
  const size = c.length / batch;
  const out = new Float64Array(size);
  for (let z = 0; z < batch; z++) for (let i = 0; i < size; i++) out[i] += c[z * size + i];
  return out;
}

/** torch.nn.functional.linear: y = x W^T + b, x [rows, in], W [out, in], b [out]. */
export function linear(x: Float64Array, w: Float64Array, b: Float64Array | null, rows: number, inF: number, outF: number, slope: number | null = null): Float64Array {
  return matmul(x, w, 1, 1, rows, inF, outF, { transB: true, bias: b ?? undefined, slope });
}
