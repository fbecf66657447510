// Ensembles: averaged probabilities against a float64 softmax of each member's own logits.
import { describe, expect, it } from 'vitest';
import { noGrad, scope } from '../../src/graph/tensor.ts';
import type { Sequential } from '../../src/models/layers.ts';
import { averageProbabilities, evaluateEnsemble } from '../../src/train/ensemble.ts';
import { fit } from '../../src/train/fit.ts';
import { adam } from '../../src/train/optim.ts';
import { expectClose, read, testGpu } from '../helpers.ts';
import { smallNet } from './features-net.ts';
import { quadrants } from './toy.ts';

function softmax64(logits: Float64Array, classes: number): Float64Array {
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length / classes; i++) {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    const max = Math.max(...row);
    const e = row.map((v) => Math.exp(v - max));
    const sum = e.reduce((a, b) => a + b, 0);
    e.forEach((v, j) => (out[i * classes + j] = v / sum));
  }
  return out;
}

const argmax = (p: Float64Array, classes: number) => Array.from({ length: p.length / classes }, (_, i) => {
  const row = [...p.subarray(i * classes, (i + 1) * classes)];
  return row.indexOf(Math.max(...row));
});

describe('ensembles', () => {
  it('averageProbabilities is the element-wise mean', () => {
    expectClose(averageProbabilities([Float32Array.from([0.2, 0.8]), Float32Array.from([0.6, 0.4])]), [0.4, 0.6], { atol: 1e-7, rtol: 0 }, 'mean');
    expect(() => averageProbabilities([new Float32Array(2), new Float32Array(3)])).toThrow(/member 1 has 3 values, member 0 has 2/);
  });

  it('three nets: ensemble probabilities and accuracies match a float64 reference from their logits', async () => {
    const gpu = await testGpu();
    const train = quadrants(24, 1);
    const test = quadrants(20, 9);
    const nets: Sequential[] = [];
    for (const seed of [1, 2, 3]) {
      const net = smallNet(gpu, seed);
      await fit(net, train, { epochs: 1, batchSize: 8, optimizer: adam({ lr: 0.02 }), seed });
      nets.push(net);
    }
    const r = await evaluateEnsemble(nets.map((model, i) => ({ name: `net ${i}`, model })), test, { batchSize: 7 });
    const x = await test.read([...Array(20).keys()]);
    const labels = Array.from({ length: 20 }, (_, i) => test.label(i));
    const probs: Float64Array[] = [];
    for (const net of nets) {
      net.eval();
      probs.push(softmax64(await scope(async () => read(noGrad(() => net.forward(gpu.tensor(x, [20, 1, 8, 8]))))), 4));
      net.train();
    }
    const mean = probs[0].map((_, i) => (probs[0][i] + probs[1][i] + probs[2][i]) / 3);
    expectClose(r.probabilities, mean, { atol: 1e-5, rtol: 1e-4 }, 'ensemble probabilities');
    const acc = (p: Float64Array) => argmax(p, 4).filter((c, i) => c === labels[i]).length / 20;
    expect(r.accuracy).toBe(acc(mean));
    expect(r.members.map((m) => m.accuracy)).toEqual(probs.map(acc));
    expect(r.gainOverBest).toBeCloseTo(acc(mean) - Math.max(...probs.map(acc)), 12);
    await expect(evaluateEnsemble([{ name: 'other items', model: nets[0], data: quadrants(20, 9, 2) }, { name: 'b', model: nets[1] }], quadrants(20, 8))).rejects.toThrow(/member 'other items' has label 0 for item 2, the ensemble 2: not the same items/);
    for (const n of nets) n.dispose();
  });
});
