// Learning-rate schedules vs the per-epoch rates of torch.optim.lr_scheduler (fixture), and composition.
import { describe, expect, it } from 'vitest';
import { constant, cosine, multiStep, product, stepDecay, warmup } from '../../src/train/schedule.ts';
import torch from './fixtures/torch.json';

const base = 0.1;
function expectRates(schedule: (e: number) => number, expected: number[], epochs: number): void {
  for (let e = 0; e < epochs; e++) expect(base * schedule(e)).toBeCloseTo(expected[e], 12);
}

describe('schedules vs torch.optim.lr_scheduler', () => {
  it('stepDecay = StepLR(step_size=3, gamma=0.5)', () => expectRates(stepDecay(3, 0.5), torch.schedules['step_3_0.5'], 12));
  it('multiStep = MultiStepLR([2, 5], 0.1)', () => expectRates(multiStep([2, 5], 0.1), torch.schedules['multistep_2_5_0.1'], 12));
  // torch's cosine rises again after T_max; ours holds the minimum, so compare epochs 0..T_max.
  it('cosine = CosineAnnealingLR(T_max=6, eta_min=0.01) up to T_max', () => {
    expectRates(cosine(6, { minFactor: 0.1 }), torch.schedules['cosine_6_min0.01'], 7);
    expect(cosine(6, { minFactor: 0.1 })(9)).toBeCloseTo(0.1, 12);
  });
  it('warmup(3, cosine(5), from 0.25) = SequentialLR(LinearLR(0.25, 3), CosineAnnealingLR(5))', () => {
    expectRates(warmup(3, cosine(5), { from: 0.25 }), torch.schedules['linear0.25x3_then_cosine5'], 9);
  });
});

describe('composition and fractional epochs', () => {
  it('a per-step schedule is the same function at fractional epochs', () => {
    const w = warmup(2, constant(), { from: 0 });
    expect(w(0)).toBe(0);
    expect(w(0.5)).toBeCloseTo(0.25, 12);
    expect(w(1.5)).toBeCloseTo(0.75, 12);
    expect(w(7)).toBe(1);
  });
  it('product multiplies factors', () => {
    const s = product(stepDecay(2, 0.5), constant(0.1));
    expect(s(0)).toBeCloseTo(0.1, 12);
    expect(s(3)).toBeCloseTo(0.05, 12);
  });
  it('bad arguments are named', () => {
    expect(() => stepDecay(0)).toThrow(/stepDecay: stepSize must be a positive number, got 0/);
    expect(() => cosine(Number.NaN)).toThrow(/cosine: epochs/);
    expect(() => warmup(-1)).toThrow(/warmup: epochs/);
  });
});
