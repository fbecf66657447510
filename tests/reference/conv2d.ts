// Float64 CPU references for conv2d: x [N, Cin, H, W], w [Cout, Cin, kH, kW], y [N, Cout, Ho, Wo].
// Written as the definition (plain loops over every output and every tap), independent of the
// kernels' GEMM formulation.

export interface ConvShape {
  n: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  k: number; // square kernel kH = kW = k
  stride: number;
  pad: number;
}

export function outSize(s: ConvShape): [number, number] {
  return [Math.floor((s.h + 2 * s.pad - s.k) / s.stride) + 1, Math.floor((s.w + 2 * s.pad - s.k) / s.stride) + 1];
}

/** act(conv(x, w) + b); slope null: no activation. */
export function conv2d(s: ConvShape, x: Float64Array, w: Float64Array, b: Float64Array | null, slope: number | null = null): Float64Array {
  const [ho, wo] = outSize(s);
  const y = new Float64Array(s.n * s.cout * ho * wo);
  for (let n = 0; n < s.n; n++)
    for (let co = 0; co < s.cout; co++)
      for (let oy = 0; oy < ho; oy++)
        for (let ox = 0; ox < wo; ox++) {
          let acc = b ? b[co] : 0;
          for (let ci = 0; ci < s.cin; ci++)
            for (let ky = 0; ky < s.k; ky++)
              for (let kx = 0; kx < s.k; kx++) {
                const iy = oy * s.stride - s.pad + ky;
                const ix = ox * s.stride - s.pad + kx;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                acc += x[((n * s.cin + ci) * s.h + iy) * s.w + ix] * w[((co * s.cin + ci) * s.k + ky) * s.k + kx];
              }
          if (slope !== null && acc < 0) acc *= slope;
          y[((n * s.cout + co) * ho + oy) * wo + ox] = acc;
        }
  return y;
}

/**
 * Visit every (output position, input position, weight) triple of the convolution that lies inside
 * the input (padding taps skipped), with flat NCHW / OIHW indices: the loop both backward passes share.
 */
function forEachTap(s: ConvShape, visit: (yi: number, xi: number, wi: number) => void): void {
  const [ho, wo] = outSize(s);
  for (let n = 0; n < s.n; n++)
    for (let co = 0; co < s.cout; co++)
      for (let oy = 0; oy < ho; oy++)
        for (let ox = 0; ox < wo; ox++) {
          const yi = ((n * s.cout + co) * ho + oy) * wo + ox;
          for (let ci = 0; ci < s.cin; ci++)
            for (let ky = 0; ky < s.k; ky++)
              for (let kx = 0; kx < s.k; kx++) {
                const iy = oy * s.stride - s.pad + ky;
                const ix = ox * s.stride - s.pad + kx;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                visit(yi, ((n * s.cin + ci) * s.h + iy) * s.w + ix, ((co * s.cin + ci) * s.k + ky) * s.k + kx);
              }
        }
}

/** dL/dx for upstream gradient g (scatter form: each output spreads g * w over its window). */
export function conv2dBackwardInput(s: ConvShape, g: Float64Array, w: Float64Array): Float64Array {
  const dx = new Float64Array(s.n * s.cin * s.h * s.w);
  forEachTap(s, (yi, xi, wi) => (dx[xi] += g[yi] * w[wi]));
  return dx;
}

/** dL/dw for upstream gradient g. */
export function conv2dBackwardFilter(s: ConvShape, g: Float64Array, x: Float64Array): Float64Array {
  const dw = new Float64Array(s.cout * s.cin * s.k * s.k);
  forEachTap(s, (yi, xi, wi) => (dw[wi] += g[yi] * x[xi]));
  return dw;
}

/** dL/db: g summed over N, Ho, Wo. */
export function conv2dBackwardBias(s: ConvShape, g: Float64Array): Float64Array {
  const [ho, wo] = outSize(s);
  const db = new Float64Array(s.cout);
  for (let n = 0; n < s.n; n++) for (let co = 0; co < s.cout; co++) for (let p = 0; p < ho * wo; p++) db[co] += g[(n * s.cout + co) * ho * wo + p];
  return db;
}
