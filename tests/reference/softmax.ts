// Float64 CPU references for softmax, softmax cross-entropy and dropout. x is [rows, C] row-major.

export function softmax(x: Float64Array, c: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let base = 0; base < x.length; base += c) {
    let m = -Infinity;
    for (let j = 0; j < c; j++) m = Math.max(m, x[base + j]);
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.exp(x[base + j] - m);
    for (let j = 0; j < c; j++) out[base + j] = Math.exp(x[base + j] - m) / s;
  }
  return out;
}

/** Per-row loss -sum_j target_j log softmax_j with target = (1 - eps) onehot(label) + eps / C. */
export function crossEntropyRows(x: Float64Array, labels: ArrayLike<number>, c: number, eps: number): Float64Array {
  const n = x.length / c;
  const out = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    const base = r * c;
    let m = -Infinity;
    for (let j = 0; j < c; j++) m = Math.max(m, x[base + j]);
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.exp(x[base + j] - m);
    const lse = m + Math.log(s);
    let loss = 0;
    for (let j = 0; j < c; j++) {
      const target = (j === labels[r] ? 1 - eps : 0) + eps / c;
      loss -= target * (x[base + j] - lse);
    }
    out[r] = loss;
  }
  return out;
}

export type Reduction = 'mean' | 'sum' | 'none';

export function crossEntropy(x: Float64Array, labels: ArrayLike<number>, c: number, eps: number, reduction: Reduction): Float64Array {
  const rows = crossEntropyRows(x, labels, c, eps);
  if (reduction === 'none') return rows;
  const total = rows.reduce((a, b) => a + b, 0);
  return Float64Array.of(reduction === 'mean' ? total / rows.length : total);
}

/** The PCG hash (Jarzynski & Olano 2020) on u32, written with Math.imul. */
function pcg(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> (((state >>> 28) + 4) & 31)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** Dropout keep-mask of element i for a seed: the hash the shader uses, recomputed independently. */
export function dropoutMask(n: number, p: number, seed: number): Uint8Array {
  const threshold = Math.min(Math.floor(p * 4294967296), 4294967295);
  const key = pcg((seed ^ 0x9e3779b9) >>> 0);
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = pcg((pcg(i) ^ key) >>> 0) >= threshold ? 1 : 0;
  return mask;
}

export function dropout(x: Float64Array, mask: Uint8Array, p: number): Float64Array {
  return x.map((v, i) => (mask[i] ? v / (1 - p) : 0));
}
