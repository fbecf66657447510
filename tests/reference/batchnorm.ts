// Float64 CPU references for batch normalisation over x: [N, C, H, W] (torch.nn.BatchNorm2d).

export type Shape4 = readonly [number, number, number, number];

/** Per-channel mean and biased variance over N, H, W (two passes). */
export function channelMoments(x: Float64Array, [n, c, h, w]: Shape4): { mean: Float64Array; varBiased: Float64Array } {
  const hw = h * w;
  const m = n * hw;
  const mean = new Float64Array(c);
  const varBiased = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let b = 0; b < n; b++) for (let k = 0; k < hw; k++) s += x[(b * c + ch) * hw + k];
    const mu = s / m;
    let s2 = 0;
    for (let b = 0; b < n; b++) for (let k = 0; k < hw; k++) s2 += (x[(b * c + ch) * hw + k] - mu) ** 2;
    mean[ch] = mu;
    varBiased[ch] = s2 / m;
  }
  return { mean, varBiased };
}

/** y = (x - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c]. */
export function normalize(x: Float64Array, [n, c, h, w]: Shape4, mean: ArrayLike<number>, variance: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, eps: number): Float64Array {
  const hw = h * w;
  return x.map((v, i) => {
    const ch = Math.floor(i / hw) % c;
    return ((v - mean[ch]) / Math.sqrt(variance[ch] + eps)) * gamma[ch] + beta[ch];
  });
}

export function batchNormTrain(x: Float64Array, shape: Shape4, gamma: ArrayLike<number>, beta: ArrayLike<number>, eps: number): Float64Array {
  const { mean, varBiased } = channelMoments(x, shape);
  return normalize(x, shape, mean, varBiased, gamma, beta, eps);
}

export function batchNormEval(x: Float64Array, shape: Shape4, gamma: ArrayLike<number>, beta: ArrayLike<number>, runningMean: ArrayLike<number>, runningVar: ArrayLike<number>, eps: number): Float64Array {
  return normalize(x, shape, runningMean, runningVar, gamma, beta, eps);
}

/** torch's running-stat update after one training step: momentum blend, unbiased variance. */
export function updateRunning(runningMean: Float64Array, runningVar: Float64Array, x: Float64Array, shape: Shape4, momentum: number): { runningMean: Float64Array; runningVar: Float64Array } {
  const { mean, varBiased } = channelMoments(x, shape);
  const m = shape[0] * shape[2] * shape[3];
  return {
    runningMean: runningMean.map((r, c) => (1 - momentum) * r + momentum * mean[c]),
    runningVar: runningVar.map((r, c) => (1 - momentum) * r + momentum * varBiased[c] * (m / (m - 1))),
  };
}

/**
 * Analytic training-mode gradients (the textbook formula, for shapes too large for finite
 * differences): dx = gamma*invstd/m * (m*dy - sum dy - xhat * sum dy*xhat).
 */
export function batchNormTrainBackward(x: Float64Array, shape: Shape4, gamma: ArrayLike<number>, dy: Float64Array, eps: number): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const [n, c, h, w] = shape;
  const hw = h * w;
  const m = n * hw;
  const { mean, varBiased } = channelMoments(x, shape);
  const invstd = varBiased.map((v) => 1 / Math.sqrt(v + eps));
  const dgamma = new Float64Array(c);
  const dbeta = new Float64Array(c);
  x.forEach((v, i) => {
    const ch = Math.floor(i / hw) % c;
    dbeta[ch] += dy[i];
    dgamma[ch] += dy[i] * (v - mean[ch]) * invstd[ch];
  });
  const dx = x.map((v, i) => {
    const ch = Math.floor(i / hw) % c;
    const xhat = (v - mean[ch]) * invstd[ch];
    return ((gamma[ch] * invstd[ch]) / m) * (m * dy[i] - dbeta[ch] - xhat * dgamma[ch]);
  });
  return { dx, dgamma, dbeta };
}
