// Float64 CPU references for pooling over x: [N, C, H, W] (torch.nn.MaxPool2d, AdaptiveAvgPool2d).

export type Shape4 = readonly [number, number, number, number];
type Pair = readonly [number, number];

/** Max pooling with -inf padding; argmax[o] = iy*W + ix of the first maximum in row-major order. */
export function maxPool2d(x: Float64Array, [n, c, h, w]: Shape4, [kh, kw]: Pair, [sh, sw]: Pair, [ph, pw]: Pair): { y: Float64Array; argmax: Int32Array; outShape: Shape4 } {
  const oh = Math.floor((h + 2 * ph - kh) / sh) + 1;
  const ow = Math.floor((w + 2 * pw - kw) / sw) + 1;
  const y = new Float64Array(n * c * oh * ow);
  const argmax = new Int32Array(y.length);
  for (let p = 0; p < n * c; p++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let best = -Infinity;
        let arg = -1;
        for (let ky = 0; ky < kh; ky++) {
          for (let kx = 0; kx < kw; kx++) {
            const iy = oy * sh - ph + ky;
            const ix = ox * sw - pw + kx;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            const v = x[(p * h + iy) * w + ix];
            if (arg < 0 || v > best) {
              best = v;
              arg = iy * w + ix;
            }
          }
        }
        const o = (p * oh + oy) * ow + ox;
        y[o] = best;
        argmax[o] = arg;
      }
    }
  }
  return { y, argmax, outShape: [n, c, oh, ow] };
}

/** dx: each dy goes to its window's (first) maximum. */
export function maxPool2dBackward(dy: Float64Array, argmax: Int32Array, [n, c, h, w]: Shape4, outShape: Shape4): Float64Array {
  const dx = new Float64Array(n * c * h * w);
  const per = outShape[2] * outShape[3];
  for (let o = 0; o < dy.length; o++) dx[Math.floor(o / per) * h * w + argmax[o]] += dy[o];
  return dx;
}

/** Adaptive average pooling: bin oy covers rows floor(oy*H/OH) .. ceil((oy+1)*H/OH) - 1. */
export function adaptiveAvgPool2d(x: Float64Array, [n, c, h, w]: Shape4, [oh, ow]: Pair): { y: Float64Array; outShape: Shape4 } {
  const y = new Float64Array(n * c * oh * ow);
  for (let p = 0; p < n * c; p++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = Math.floor((oy * h) / oh);
      const y1 = Math.ceil(((oy + 1) * h) / oh);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = Math.floor((ox * w) / ow);
        const x1 = Math.ceil(((ox + 1) * w) / ow);
        let s = 0;
        for (let iy = y0; iy < y1; iy++) for (let ix = x0; ix < x1; ix++) s += x[(p * h + iy) * w + ix];
        y[(p * oh + oy) * ow + ox] = s / ((y1 - y0) * (x1 - x0));
      }
    }
  }
  return { y, outShape: [n, c, oh, ow] };
}
