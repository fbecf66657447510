// Optimizers vs a float64 CPU implementation of torch.optim's update rules, over several steps with
// weight decay, Nesterov, parameter groups and freeze/unfreeze in the middle of the run; state
// save/restore; state dropped for disposed parameters.
import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/graph/gpu.ts';
import { Module } from '../../src/graph/module.ts';
import { type Tensor, keep } from '../../src/graph/tensor.ts';
import { Conv2d, Linear } from '../../src/models/layers.ts';
import { type Optimizer, adam, adamw, sgd } from '../../src/train/optim.ts';
import { expectClose, randArray, read, testGpu } from '../helpers.ts';
import torch from './fixtures/torch.json';

class TwoPart extends Module {
  readonly backbone: Conv2d;
  readonly head: Linear;
  constructor(gpu: Gpu) {
    super();
    this.backbone = this.addModule('backbone', new Conv2d(gpu, 2, 3, 3, { seed: 5 })); // weight [3, 2, 3, 3], bias [3]
    this.head = this.addModule('head', new Linear(gpu, 5, 3, { seed: 6 })); // weight [3, 5] (15: not a multiple of 4), bias [3]
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}

interface RefHyper {
  kind: 'sgd' | 'adam' | 'adamw';
  lr: number;
  weightDecay: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/** torch.optim's update rules in float64, one parameter at a time, state created on first use. */
class ReferenceOptimizer {
  state = new Map<string, { step: number; buf?: Float64Array; m?: Float64Array; v?: Float64Array }>();
  constructor(readonly h: RefHyper) {}
  update(name: string, p: Float64Array, g: Float64Array, lr: number, wd: number): void {
    const h = this.h;
    let s = this.state.get(name);
    if (!s) this.state.set(name, (s = { step: 0 }));
    s.step++;
    if (h.kind === 'sgd') {
      const mom = h.momentum ?? 0;
      const d = g.map((gi, i) => gi + wd * p[i]);
      let dir: Float64Array = d;
      if (mom !== 0) {
        if (!s.buf) s.buf = Float64Array.from(d);
        else for (let i = 0; i < d.length; i++) s.buf[i] = mom * s.buf[i] + (1 - (h.dampening ?? 0)) * d[i];
        dir = h.nesterov ? d.map((di, i) => di + mom * s!.buf![i]) : s.buf;
      }
      for (let i = 0; i < p.length; i++) p[i] -= lr * dir[i];
      return;
    }
    const [b1, b2, eps] = [h.beta1 ?? 0.9, h.beta2 ?? 0.999, h.eps ?? 1e-8];
    s.m ??= new Float64Array(p.length);
    s.v ??= new Float64Array(p.length);
    if (h.kind === 'adamw') for (let i = 0; i < p.length; i++) p[i] *= 1 - lr * wd;
    const bc1 = 1 - b1 ** s.step;
    const bc2 = 1 - b2 ** s.step;
    for (let i = 0; i < p.length; i++) {
      const gi = h.kind === 'adam' ? g[i] + wd * p[i] : g[i];
      s.m[i] = b1 * s.m[i] + (1 - b1) * gi;
      s.v[i] = b2 * s.v[i] + (1 - b2) * gi * gi;
      p[i] -= (lr / bc1) * (s.m[i] / (Math.sqrt(s.v[i]) / Math.sqrt(bc2) + eps));
    }
  }
}

/** Backbone gets lr x 0.1 and no weight decay on biases: two groups, as in fine-tuning. */
const groups = [
  { match: /\.bias$/, weightDecay: 0, lrScale: 1 },
  { match: 'backbone', lrScale: 0.1 },
];
function refHyper(name: string, lr: number, wd: number): { lr: number; wd: number } {
  if (name.endsWith('.bias')) return { lr, wd: 0 };
  if (name.startsWith('backbone.')) return { lr: lr * 0.1, wd };
  return { lr, wd };
}

/**
 * Run `steps` steps of `opt` on a fresh TwoPart with seeded gradients, freezing the backbone for
 * steps [freezeAt, unfreezeAt), and the same on the reference; compare every parameter.
 */
async function compareRun(opt: Optimizer, h: RefHyper, steps: number, freezeAt = 2, unfreezeAt = 4, tol = { atol: 2e-6, rtol: 2e-5 }): Promise<void> {
  const gpu = await testGpu();
  const net = new TwoPart(gpu);
  const ref = new ReferenceOptimizer(h);
  const values = new Map<string, Float64Array>();
  for (const [n, p] of net.namedParameters()) values.set(n, await read(p));
  for (let step = 0; step < steps; step++) {
    if (step === freezeAt) net.freeze('backbone');
    if (step === unfreezeAt) net.unfreeze('backbone');
    let k = 0;
    for (const [n, p] of net.namedParameters()) {
      k++;
      if (!p.trainable) continue;
      const g = randArray(p.size, 1000 * step + k, -1, 1);
      p.grad = keep(gpu.tensor(g, p.shape));
      const { lr, wd } = refHyper(n, h.lr, h.weightDecay);
      ref.update(n, values.get(n)!, g, lr, wd);
    }
    expect(opt.step(net)).toBe(step >= freezeAt && step < unfreezeAt ? 2 : 4);
    opt.zeroGrad(net);
  }
  for (const [n, p] of net.namedParameters()) expectClose(await read(p), values.get(n)!, tol, `${opt.kind} ${n}`);
  // A step at which the backbone was frozen leaves its step count behind the head's (torch keeps
  // per-parameter state and skips parameters without a gradient).
  const state = await opt.stateDict();
  const stepOf = (n: string) => state.params.find((e) => e.name === n)!.step;
  expect(stepOf('head.weight')).toBe(steps);
  expect(stepOf('backbone.weight')).toBe(steps - (unfreezeAt - freezeAt));
  opt.dispose();
  net.dispose();
}

describe('optimizers vs float64 torch.optim rules', () => {
  it('SGD without momentum, with weight decay and groups', async () => {
    const h: RefHyper = { kind: 'sgd', lr: 0.1, weightDecay: 0.05 };
    await compareRun(sgd({ lr: h.lr, weightDecay: h.weightDecay, groups }), h, 6);
  });

  it('SGD with momentum and dampening', async () => {
    const h: RefHyper = { kind: 'sgd', lr: 0.05, weightDecay: 0.01, momentum: 0.9, dampening: 0.3 };
    await compareRun(sgd({ lr: h.lr, weightDecay: h.weightDecay, momentum: 0.9, dampening: 0.3, groups }), h, 6);
  });

  it('SGD with Nesterov momentum and weight decay', async () => {
    const h: RefHyper = { kind: 'sgd', lr: 0.05, weightDecay: 0.02, momentum: 0.8, nesterov: true };
    await compareRun(sgd({ lr: h.lr, weightDecay: h.weightDecay, momentum: 0.8, nesterov: true, groups }), h, 6);
  });

  it('Adam with L2 weight decay and bias correction', async () => {
    const h: RefHyper = { kind: 'adam', lr: 0.01, weightDecay: 0.1, beta1: 0.8, beta2: 0.99, eps: 1e-6 };
    await compareRun(adam({ lr: h.lr, weightDecay: h.weightDecay, betas: [0.8, 0.99], eps: 1e-6, groups }), h, 7);
  });

  it('AdamW with decoupled weight decay', async () => {
    const h: RefHyper = { kind: 'adamw', lr: 0.02, weightDecay: 0.3 };
    await compareRun(adamw({ lr: h.lr, weightDecay: h.weightDecay, groups }), h, 7, 1, 5);
  });

  it('lrFactor scales every group, and hyperparameters() reports what a name gets', () => {
    const opt = sgd({ lr: 0.1, weightDecay: 0.01, groups: [{ match: 'features', lrScale: 0.1 }, { match: 'fc', lr: 0.5, weightDecay: 0 }] });
    opt.lrFactor = 0.5;
    expect(opt.hyperparameters('features.0.weight').lr).toBeCloseTo(0.005, 12);
    expect(opt.hyperparameters('featuresX.weight').lr).toBeCloseTo(0.05, 12); // a prefix ends at a dot
    expect(opt.hyperparameters('fc.weight')).toEqual({ lr: 0.25, weightDecay: 0 });
    expect(opt.lr).toBeCloseTo(0.05, 12);
  });
});

/** Parameters given by name and values (for the PyTorch fixture). */
class Bag extends Module {
  constructor(gpu: Gpu, values: Record<string, number[]>, shapes: Record<string, number[]>) {
    super();
    for (const [n, v] of Object.entries(values)) this.addParameter(n, gpu.tensor(v, shapes[n]));
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}

describe('optimizers vs PyTorch 1.13 (fixture)', () => {
  const f = torch.optim;
  const make: Record<string, () => Optimizer> = {
    sgd_nesterov: () => sgd({ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.05 }),
    sgd_dampening: () => sgd({ lr: 0.1, momentum: 0.5, dampening: 0.2, weightDecay: 0.01 }),
    adam: () => adam({ lr: 0.05, betas: [0.8, 0.95], eps: 1e-6, weightDecay: 0.1 }),
    adamw: () => adamw({ lr: 0.05, weightDecay: 0.2 }),
  };
  for (const [name, build] of Object.entries(make)) {
    it(`${name}: 4 steps match torch.optim`, async () => {
      const gpu = await testGpu();
      const bag = new Bag(gpu, f.init, f.shapes);
      const opt = build();
      for (const g of f.grads) {
        for (const [n, p] of bag.namedParameters()) p.grad = keep(gpu.tensor((g as Record<string, number[]>)[n], p.shape));
        opt.step(bag);
        opt.zeroGrad(bag);
      }
      const expected = (f.results as Record<string, Record<string, number[]>>)[name];
      for (const [n, p] of bag.namedParameters()) expectClose(await read(p), expected[n], { atol: 2e-6, rtol: 1e-5 }, `${name} ${n}`);
      opt.dispose();
      bag.dispose();
    });
  }
});

describe('optimizer state', () => {
  it('save after 3 steps, load into a fresh optimizer, 3 more steps = 6 uninterrupted steps', async () => {
    const gpu = await testGpu();
    const run = async (split: boolean) => {
      const net = new TwoPart(gpu);
      const make = () => adam({ lr: 0.01, weightDecay: 0.01, groups });
      let opt = make();
      for (let step = 0; step < 6; step++) {
        if (split && step === 3) {
          const saved = await opt.stateDict();
          opt.dispose();
          opt = make();
          opt.loadStateDict(saved, net);
        }
        let k = 0;
        for (const [, p] of net.namedParameters()) p.grad = keep(gpu.tensor(randArray(p.size, 77 * step + k++), p.shape));
        opt.step(net);
        opt.zeroGrad(net);
      }
      const out = await Promise.all(net.parameters().map(read));
      opt.dispose();
      net.dispose();
      return out;
    };
    const whole = await run(false);
    const resumed = await run(true);
    whole.forEach((w, i) => expectClose(resumed[i], w, { atol: 0, rtol: 0 }, `param ${i}`));
  });

  it('a state of another optimizer kind or another model is refused and changes nothing', async () => {
    const gpu = await testGpu();
    const net = new TwoPart(gpu);
    const opt = sgd({ lr: 0.1, momentum: 0.9 });
    for (const p of net.parameters()) p.grad = keep(gpu.zeros(p.shape));
    opt.step(net);
    const saved = await opt.stateDict();
    expect(() => adam({ lr: 0.1 }).loadStateDict(saved, net)).toThrow(/state is for SGD, this optimizer is Adam/);
    const renamed = { ...saved, params: saved.params.map((e) => ({ ...e, name: e.name.replace('head', 'fc') })) };
    const other = sgd({ lr: 0.1, momentum: 0.9 });
    expect(() => other.loadStateDict(renamed, net)).toThrow(/the model has no parameter 'fc.weight'/);
    expect(other.stateSize).toBe(0);
    const short = { ...saved, params: [{ ...saved.params[0], buffers: { momentum_buffer: { shape: [2], dtype: 'f32' as const, data: new Float32Array(2) } } }] };
    expect(() => other.loadStateDict(short, net)).toThrow(/2 values for a parameter of shape \[3, 2, 3, 3\]/);
    opt.zeroGrad(net);
    opt.dispose();
    net.dispose();
  });

  it('state is created lazily, kept while frozen, and dropped when the parameter is disposed', async () => {
    const gpu = await testGpu();
    const net = new TwoPart(gpu);
    const opt = adam({ lr: 0.01 });
    const live0 = gpu.stats().liveBuffers;
    net.freeze('backbone');
    for (const p of net.trainableParameters()) p.grad = keep(gpu.zeros(p.shape));
    opt.step(net);
    expect(opt.stateSize).toBe(2);
    net.unfreeze();
    for (const p of net.parameters()) p.grad ??= keep(gpu.zeros(p.shape));
    opt.step(net);
    expect(opt.stateSize).toBe(4);
    opt.zeroGrad(net);
    net.freeze();
    expect(opt.step(net)).toBe(0);
    expect(opt.stateSize).toBe(4);
    expect(gpu.stats().liveBuffers).toBe(live0 + 8); // two moments per parameter
    net.head.weight.dispose();
    expect(opt.stateSize).toBe(3);
    expect(gpu.stats().liveBuffers).toBe(live0 + 6 - 1);
    opt.dispose();
    net.dispose();
  });

  it('bad hyperparameters get errors naming them', () => {
    expect(() => sgd({ lr: -1 })).toThrow(/SGD: lr must be in \[0, Infinity\], got -1/);
    expect(() => sgd({ lr: 0.1, momentum: 1 })).toThrow(/momentum must be in \[0, 1\)/);
    expect(() => sgd({ lr: 0.1, nesterov: true })).toThrow(/nesterov needs momentum > 0/);
    expect(() => adam({ lr: 0.1, betas: [0.9, 1] })).toThrow(/Adam: betas\[1\] must be in \[0, 1\)/);
    expect(() => adamw({ lr: 0.1, eps: 0 })).toThrow(/AdamW: eps must be > 0/);
    expect(() => adam({ lr: 0.1, groups: [{ match: 'x', lrScale: Number.NaN }] })).toThrow(/groups\[0\].lrScale/);
  });
});
