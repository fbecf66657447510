// The tolerance check every kernel test relies on must be able to fail: on an element out of
// tolerance, on a length mismatch, and on a non-finite value on either side (a NaN in the expected
// array used to make every comparison false, and so pass).
import { describe, expect, it } from 'vitest';
import { expectClose } from './helpers.ts';

const tol = { atol: 1e-6, rtol: 1e-5 };

describe('expectClose', () => {
  it('passes within atol + rtol |expected| and fails just outside it', () => {
    expect(() => expectClose([1, 2, 3], [1, 2 + 1e-6, 3], tol, 'ok')).not.toThrow();
    expect(() => expectClose([1, 2, 3], [1, 2 + 1e-4, 3], tol, 'far')).toThrow(/far: element 1/);
    expect(() => expectClose([1, 2], [1, 2, 3], tol, 'short')).toThrow(/length 2 != expected 3/);
  });

  it('fails on a NaN or an infinity in the actual array', () => {
    expect(() => expectClose([1, NaN], [1, 2], tol, 'a')).toThrow(/element 1 is NaN/);
    expect(() => expectClose([Infinity, 1], [1, 1], tol, 'a')).toThrow(/element 0 is Infinity/);
  });

  it('fails on a NaN or an infinity in the expected array', () => {
    expect(() => expectClose([1, 2], [1, NaN], tol, 'e')).toThrow(/expected element 1 is NaN/);
    expect(() => expectClose(Float32Array.from([1, 2]), Float64Array.from([-Infinity, 2]), tol, 'e')).toThrow(/expected element 0 is -Infinity/);
  });
});
