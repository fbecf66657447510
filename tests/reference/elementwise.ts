// Float64 CPU references for the elementwise and reduction kernels.

export function addBroadcast(a: Float64Array, b: Float64Array, inner: number): Float64Array {
  const c = b.length;
  return a.map((v, i) => v + b[Math.floor(i / inner) % c]);
}

export function leakyRelu(x: Float64Array, alpha: number): Float64Array {
  return x.map((v) => (v > 0 ? v : alpha * v));
}
