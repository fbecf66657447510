// Model comparison tables and k-fold cross-validation.
import { describe, expect, it } from 'vitest';
import type { EpochLog, History } from '../../src/train/callbacks.ts';
import { bestEpoch, compare, comparisonMarkdown, crossValidate, meanStd } from '../../src/report/compare.ts';
import { fit } from '../../src/train/fit.ts';
import { adam } from '../../src/train/optim.ts';
import { testGpu } from '../helpers.ts';
import { smallNet } from './features-net.ts';
import { quadrants } from './toy.ts';

const log = (epoch: number, valAccuracy: number): EpochLog => ({ epoch, loss: 1 - valAccuracy, accuracy: valAccuracy, valLoss: 1 - valAccuracy, valAccuracy, lr: 1e-3, seconds: 1 });
const history = (accs: number[], stopReason?: string): History => ({ epochs: accs.map((a, i) => log(i, a)), stopReason });

describe('compare', () => {
  it('runs each configuration on the same split; rows have parameters, time, best validation accuracy and epoch', async () => {
    const split = { train: quadrants(12, 1), validation: quadrants(8, 2) };
    const seen: unknown[] = [];
    const c = await compare(
      [
        { name: 'scratch', run: async (s) => (seen.push(s), { history: history([0.5, 0.7, 0.6]), parameters: 1000, trainableParameters: 1000 }) },
        { name: 'transfer', run: async (s) => (seen.push(s), { history: history([0.8, 0.9, 0.9, 0.85], 'early stopping: val_loss did not improve'), parameters: 1000, trainableParameters: 40, seconds: 2.5, note: 'features computed once' }) },
      ],
      split,
    );
    expect(seen).toEqual([split, split]);
    expect(c.rows.map((r) => [r.name, r.bestValAccuracy, r.bestEpoch, r.finalValAccuracy, r.epochs, r.trainableParameters])).toEqual([
      ['scratch', 0.7, 2, 0.6, 3, 1000],
      ['transfer', 0.9, 2, 0.85, 4, 40],
    ]);
    expect(c.rows[1].seconds).toBe(2.5);
    expect(c.rows[0].seconds).toBeGreaterThanOrEqual(0);
    expect(c.split).toEqual({ train: 12, validation: 8, name: 'quadrants(12)', validationName: 'quadrants(8)' });
    const md = comparisonMarkdown(c).split('\n');
    // Each part named after its own dataset (the main job's validation comes from another file).
    expect(md[0]).toBe('Split: 12 training items (quadrants(12)) and 8 validation items (quadrants(8)).');
    expect(md).toContain('| transfer | 1,000 | 40 | 2.5 s | **90.0%** | 2 | 85.0% | 4 |');
    expect(md).toContain('- transfer: early stopping: val_loss did not improve');
    expect(md).toContain('- transfer: features computed once');
    await expect(compare([{ name: 'a', run: async () => ({ history: history([1]), parameters: 1, trainableParameters: 1 }) }, { name: 'a', run: async () => ({ history: history([1]), parameters: 1, trainableParameters: 1 }) }], split)).rejects.toThrow(/two configurations are named 'a'/);
  });

  it('bestEpoch takes the first of equal best accuracies; meanStd is the sample standard deviation', () => {
    expect(bestEpoch(history([0.2, 0.6, 0.6, 0.5]))).toEqual({ accuracy: 0.6, epoch: 2 });
    expect(bestEpoch({ epochs: [{ epoch: 0, loss: 1, accuracy: 0, lr: 1, seconds: 0 }] }).epoch).toBe(0);
    const { mean, std } = meanStd([0.5, 0.7, 0.9]);
    expect(mean).toBeCloseTo(0.7, 12);
    expect(std).toBeCloseTo(0.2, 12);
  });

  it('crossValidate: k disjoint stratified folds covering the data; mean and spread of the best validation accuracies', async () => {
    const gpu = await testGpu();
    const data = quadrants(24, 4);
    const vals: number[][] = [];
    const bests: number[] = [];
    const cv = await crossValidate(data, 3, async (split, fold) => {
      const val = [...Array(split.validation!.length).keys()].map((i) => (split.validation as unknown as { indices: Int32Array }).indices[i]);
      const train = [...(split.train as unknown as { indices: Int32Array }).indices];
      expect(train.some((i) => val.includes(i))).toBe(false);
      expect(train.length + val.length).toBe(24);
      expect([0, 1, 2, 3].map((c) => val.filter((i) => data.label(i) === c).length)).toEqual([2, 2, 2, 2]);
      vals.push(val);
      const net = smallNet(gpu, fold + 1);
      const h = await fit(net, split.train, { epochs: 2, batchSize: 8, optimizer: adam({ lr: 0.02 }), validation: split.validation, seed: fold });
      bests.push(Math.max(...h.epochs.map((e) => e.valAccuracy!)));
      net.dispose();
      return h;
    });
    expect(new Set(vals.flat()).size).toBe(24);
    expect(cv.folds.map((f) => f.accuracy)).toEqual(bests);
    const mean = (bests[0] + bests[1] + bests[2]) / 3;
    expect(cv.mean).toBeCloseTo(mean, 12);
    expect(cv.std).toBeCloseTo(Math.sqrt(bests.reduce((a, b) => a + (b - mean) ** 2, 0) / 2), 12);
    await expect(crossValidate(data, 2, async () => history([]))).rejects.toThrow(/fold 1 reported no validation accuracy/);
  });
});
