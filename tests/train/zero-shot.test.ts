// Zero-shot classification from attributes: cosine matching checked by hand, the Fashion-MNIST
// attribute table's sanity, and the whole method on synthetic features that are a known linear
// function of the attributes (so unseen classes are recoverable and chance is the bar to beat).
import { describe, expect, it } from 'vitest';
import { FASHION_MNIST_CLASSES } from '../../src/data/idx.ts';
import { FASHION_ATTRIBUTES, FASHION_ATTRIBUTE_NAMES, FASHION_UNSEEN, type FeatureMatrix, nearestByCosine, zeroShot } from '../../src/train/zero-shot.ts';
import { randArray, testGpu } from '../helpers.ts';

describe('zero-shot', () => {
  it('nearestByCosine picks the most similar class description among the candidates', () => {
    const attributes = [[1, 0], [0, 1], [1, 1]];
    const predicted = [0.9, 0.1, 0.1, 2, 1, 1.1];
    expect([...nearestByCosine(predicted, attributes, [0, 1, 2])]).toEqual([0, 1, 2]);
    // [1, 1.1] against [1, 0]: 1 / 1.487 = 0.672; against [0, 1]: 1.1 / 1.487 = 0.740.
    expect([...nearestByCosine(predicted, attributes, [0, 1])]).toEqual([0, 1, 1]);
    expect(() => nearestByCosine([1, 2, 3], attributes, [0, 1])).toThrow(/3 predicted values are not rows of 2 attributes/);
  });

  it('the Fashion-MNIST descriptions: one distinct row per class; every attribute of an unseen class is shown by some seen class', () => {
    expect(FASHION_ATTRIBUTES).toHaveLength(FASHION_MNIST_CLASSES.length);
    for (const row of FASHION_ATTRIBUTES) {
      expect(row).toHaveLength(FASHION_ATTRIBUTE_NAMES.length);
      for (const v of row) expect(v >= 0 && v <= 1).toBe(true);
    }
    expect(new Set(FASHION_ATTRIBUTES.map((r) => r.join())).size).toBe(10);
    expect(FASHION_UNSEEN.map((c) => FASHION_MNIST_CLASSES[c])).toEqual(['Sandal', 'Shirt']);
    const seen = FASHION_ATTRIBUTES.filter((_, c) => !FASHION_UNSEEN.includes(c));
    for (const c of FASHION_UNSEEN) {
      FASHION_ATTRIBUTES[c].forEach((v, a) => {
        if (v > 0) expect(seen.some((row) => row[a] > 0)).toBe(true);
      });
    }
  });

  it('recognises held-out classes from synthetic features far above chance (ZSL and GZSL reported)', async () => {
    const gpu = await testGpu();
    const dim = 24;
    const a = FASHION_ATTRIBUTE_NAMES.length;
    // features = M * attributes + noise: a fixed random linear "image" of each class's description.
    const m = randArray(dim * a, 11);
    const make = (perClass: number, seed: number): FeatureMatrix => {
      const noise = randArray(perClass * 10 * dim, seed, -0.3, 0.3);
      const values = new Float32Array(perClass * 10 * dim);
      const labels = new Int32Array(perClass * 10);
      for (let i = 0; i < labels.length; i++) {
        const c = i % 10;
        labels[i] = c;
        for (let d = 0; d < dim; d++) {
          let v = noise[i * dim + d];
          for (let k = 0; k < a; k++) v += m[d * a + k] * FASHION_ATTRIBUTES[c][k];
          values[i * dim + d] = v;
        }
      }
      return { values, labels, dim };
    };
    const r = await zeroShot(gpu, make(60, 1), make(50, 2), { epochs: 40, lr: 0.01, seed: 3 });
    expect(r.unseen).toEqual([5, 6]);
    expect(r.seen).toEqual([0, 1, 2, 3, 4, 7, 8, 9]);
    expect(r.zsl.items).toBe(100);
    expect(r.zsl.chance).toBe(0.5);
    expect(r.zsl.accuracy).toBeGreaterThan(0.8);
    expect(r.gzsl.chance).toBe(0.1);
    expect(r.gzsl.seenAccuracy).toBeGreaterThan(0.8);
    for (const v of [r.gzsl.unseenAccuracy, r.gzsl.harmonicMean]) expect(v >= 0 && v <= 1).toBe(true);
    expect(r.trainLoss).toBeLessThan(0.05);
  });

  it('bad requests name the problem', async () => {
    const gpu = await testGpu();
    const f: FeatureMatrix = { values: new Float32Array(20), labels: Int32Array.from([0, 1, 5, 6, 7]), dim: 4 };
    await expect(zeroShot(gpu, f, f, { unseen: [5] })).rejects.toThrow(/hold out at least two classes/);
    await expect(zeroShot(gpu, f, { ...f, dim: 2, values: new Float32Array(10) })).rejects.toThrow(/train features have 4 values, test 2/);
  });
});
