// Losses: cross-entropy with label smoothing vs a float64 reference; L1/L2 penalties' values and
// gradients vs float64 references and finite differences; a folded weight decay equals an L2 term.
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/graph/autograd.ts';
import type { Gpu } from '../../src/graph/gpu.ts';
import { Module } from '../../src/graph/module.ts';
import { type Tensor, scope } from '../../src/graph/tensor.ts';
import { Conv2d, Linear } from '../../src/models/layers.ts';
import { crossEntropy, penalty, penalizedParameters, withPenalty } from '../../src/train/losses.ts';
import { sgd } from '../../src/train/optim.ts';
import { expectClose, finiteDiff, randArray, read, testGpu } from '../helpers.ts';

class TwoPart extends Module {
  readonly backbone: Conv2d;
  readonly head: Linear;
  constructor(gpu: Gpu) {
    super();
    this.backbone = this.addModule('backbone', new Conv2d(gpu, 2, 3, 3, { seed: 21 }));
    this.head = this.addModule('head', new Linear(gpu, 5, 3, { seed: 22 }));
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** l1 * sum|w| + l2 * sum w^2 in float64. */
const penaltyRef = (w: Float64Array, l1: number, l2: number) => w.reduce((s, v) => s + l1 * Math.abs(v) + l2 * v * v, 0);

describe('weight penalties', () => {
  it('default: conv and linear weights only; value and gradients match float64 and finite differences', async () => {
    const gpu = await testGpu();
    const net = new TwoPart(gpu);
    const [l1, l2] = [0.03, 0.2];
    expect(penalizedParameters(net).map(([n]) => n)).toEqual(['backbone.weight', 'head.weight']);
    const value = await scope(async () => {
      const p = penalty(net, { l1, l2 })!;
      backward(p);
      return p.item();
    });
    let expected = 0;
    for (const p of [net.backbone.weight, net.head.weight]) {
      const w = await read(p);
      expected += penaltyRef(w, l1, l2);
      const analytic = w.map((v) => 2 * l2 * v + l1 * Math.sign(v));
      expectClose(await read(p.grad!), analytic, { atol: 1e-6, rtol: 1e-5 }, `${p.name} grad`);
      // Central differences are exact for the quadratic part and for |w| away from 0.
      const fd = finiteDiff((x) => penaltyRef(x, l1, l2), w, 1e-4);
      w.forEach((v, i) => {
        if (Math.abs(v) > 1e-3) expect(Math.abs(fd[i] - analytic[i])).toBeLessThan(1e-6);
      });
    }
    expect(value).toBeCloseTo(expected, 4);
    expect(net.backbone.bias!.grad).toBeNull();
    expect(net.head.bias!.grad).toBeNull();
    net.dispose();
  });

  it('match chooses parameters by prefix; frozen parameters are skipped', async () => {
    const gpu = await testGpu();
    const net = new TwoPart(gpu);
    expect(penalizedParameters(net, 'head').map(([n]) => n)).toEqual(['head.weight', 'head.bias']);
    net.freeze('head');
    expect(penalizedParameters(net, 'head')).toEqual([]);
    expect(penalty(net, { l2: 1, match: 'head' })).toBeNull();
    expect(() => penalty(net, { l2: -1 })).toThrow(/penalty: l2 must be a finite number >= 0, got -1/);
    net.dispose();
  });

  it('withPenalty adds the penalty to cross-entropy with label smoothing (float64 reference)', async () => {
    const gpu = await testGpu();
    const net = new TwoPart(gpu);
    const [n, c, eps, l2] = [4, 3, 0.1, 0.05];
    const z = randArray(n * c, 5, -2, 2);
    const y = [2, 0, 1, 2];
    const loss = await scope(async () => {
      const f = withPenalty(crossEntropy({ labelSmoothing: eps }), { l2 });
      return (await f(gpu.tensor(z, [n, c]), gpu.tensor(y, [n], 'i32'), net).data())[0];
    });
    let ce = 0;
    for (let i = 0; i < n; i++) {
      const row = z.slice(i * c, i * c + c);
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
      for (let j = 0; j < c; j++) ce -= ((j === y[i] ? 1 - eps : 0) + eps / c) * (row[j] - lse);
    }
    ce /= n;
    const pen = penaltyRef(await read(net.backbone.weight), 0, l2) + penaltyRef(await read(net.head.weight), 0, l2);
    expect(loss).toBeCloseTo(ce + pen, 4);
    expect(() => crossEntropy({ labelSmoothing: 1 })).toThrow(/labelSmoothing must be in \[0, 1\)/);
    net.dispose();
  });

  it("SGD's folded weightDecay = wd gives the same step as an l2 penalty of wd / 2", async () => {
    const gpu = await testGpu();
    const [lr, wd] = [0.5, 0.2];
    const stepWith = async (folded: boolean) => {
      const net = new TwoPart(gpu);
      net.freeze('backbone');
      const x = gpu.tensor(randArray(2 * 5, 9), [2, 5]);
      const labels = gpu.tensor([1, 2], [2], 'i32');
      await scope(async () => {
        const logits = net.head.forward(x);
        const loss = folded ? crossEntropy()(logits, labels, net) : withPenalty(crossEntropy(), { l2: wd / 2, match: 'head' })(logits, labels, net);
        backward(loss);
      });
      sgd({ lr, weightDecay: folded ? wd : 0 }).step(net);
      const out = [await read(net.head.weight), await read(net.head.bias!)];
      x.dispose();
      labels.dispose();
      net.dispose();
      return out;
    };
    const a = await stepWith(true);
    const b = await stepWith(false);
    expectClose(b[0], a[0], { atol: 1e-6, rtol: 1e-5 }, 'weight');
    expectClose(b[1], a[1], { atol: 1e-6, rtol: 1e-5 }, 'bias');
  });
});
