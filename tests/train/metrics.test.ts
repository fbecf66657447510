// Metrics on hand-worked examples.
import { describe, expect, it } from 'vitest';
import { accuracy, argmaxRows, confusionMatrix, formatConfusion, perClassAccuracy } from '../../src/report/metrics.ts';

describe('metrics', () => {
  it('argmax of rows (first on ties), accuracy', () => {
    expect([...argmaxRows([0.1, 0.7, 0.2, 3, 3, 1, -1, -2, -0.5], 3)]).toEqual([1, 0, 2]);
    expect(accuracy([1, 0, 2, 2], [1, 1, 2, 0])).toBe(0.5);
    expect(() => argmaxRows([1, 2, 3], 2)).toThrow(/3 values are not rows of 2/);
    expect(() => accuracy([1], [1, 2])).toThrow(/1 predictions for 2 labels/);
  });

  it('confusion matrix: rows are true classes; per-class accuracy is the diagonal share (null for an absent class)', () => {
    // true:      0  0  0  1  1  2  2  2  2
    // predicted: 0  1  0  1  1  2  0  2  1
    const m = confusionMatrix([0, 1, 0, 1, 1, 2, 0, 2, 1], [0, 0, 0, 1, 1, 2, 2, 2, 2], 4);
    expect(m).toEqual([
      [2, 1, 0, 0],
      [0, 2, 0, 0],
      [1, 1, 2, 0],
      [0, 0, 0, 0],
    ]);
    expect(perClassAccuracy(m)).toEqual([2 / 3, 1, 0.5, null]);
    expect(formatConfusion(m, ['cat', 'dog', 'fox', 'owl']).split('\n')[3]).toMatch(/^fox +1 +1 +2 +0$/);
    expect(() => confusionMatrix([5], [0], 3)).toThrow(/item 0 has label 0 and prediction 5; both must be in \[0, 3\)/);
  });
});
