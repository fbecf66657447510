// Fused optimizer updates (shaders/optim.wgsl): one dispatch per parameter per step, updating the
// parameter and its optimizer state in place.
import wgsl from '../../shaders/optim.wgsl?raw';
import { GraftError, numel, shapeStr } from '../core/index.ts';
import { type BufferBinding, type CompiledKernel, type GpuData, type Runtime, grid1d, inBindingRanges, vec4sPerWorkgroup } from './runtime/index.ts';

const K = {
  sgdPlain: { name: 'optim.sgd_plain', wgsl, entry: 'sgd_plain' },
  sgdMomentum: { name: 'optim.sgd_momentum', wgsl, entry: 'sgd_momentum' },
  adam: { name: 'optim.adam_step', wgsl, entry: 'adam_step' },
};

function check(op: string, param: GpuData, others: [string, GpuData][]): number {
  const n = numel(param.shape);
  for (const [what, t] of others) {
    if (numel(t.shape) !== n) throw new GraftError(`${op}: ${what} has shape ${shapeStr(t.shape)}, the parameter ${shapeStr(param.shape)}`);
    if (t.buffer === param.buffer) throw new GraftError(`${op}: ${what} aliases the parameter`);
  }
  return Math.ceil(n / 4);
}

const workgroups = (rt: Runtime, kernel: CompiledKernel, n4: number) => grid1d(rt, Math.max(1, Math.ceil(n4 / vec4sPerWorkgroup(kernel))));

export interface SgdStepArgs {
  lr: number;
  weightDecay: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  /** The step that creates the momentum buffer (it starts as a copy of the update direction). */
  first: boolean;
}

/** torch.optim.SGD's update of one parameter; `momentumBuffer` is required when momentum > 0. */
export function sgdStep(rt: Runtime, param: GpuData, grad: GpuData, momentumBuffer: GpuData | null, a: SgdStepArgs): void {
  const withMomentum = a.momentum !== 0;
  if (withMomentum && !momentumBuffer) throw new GraftError('sgdStep: momentum > 0 needs a momentum buffer');
  check('sgdStep', param, withMomentum ? [['grad', grad], ['momentum buffer', momentumBuffer!]] : [['grad', grad]]);
  inBindingRanges(rt, numel(param.shape), (count, bind) => {
    const n4 = Math.ceil(count / 4);
    const params = { n4, lr: a.lr, weight_decay: a.weightDecay, momentum: a.momentum, dampening: a.dampening, nesterov: a.nesterov ? 1 : 0, first: a.first ? 1 : 0 };
    const buffers: Record<string, BufferBinding> = { param: bind(param), grad: bind(grad) };
    if (withMomentum) buffers.momentum_buffer = bind(momentumBuffer!);
    const kernel = rt.kernel(withMomentum ? K.sgdMomentum : K.sgdPlain);
    rt.dispatch(kernel, { params, buffers, workgroups: workgroups(rt, kernel, n4) });
  });
}

export interface AdamStepArgs {
  lr: number;
  weightDecay: number;
  /** AdamW: decay the parameter by lr * weightDecay instead of adding weightDecay * param to the gradient. */
  decoupled: boolean;
  beta1: number;
  beta2: number;
  eps: number;
  /** This parameter's step count, counting this step (1 on the first). */
  step: number;
}

/** torch.optim.Adam / AdamW's update of one parameter, with bias correction. */
export function adamStep(rt: Runtime, param: GpuData, grad: GpuData, expAvg: GpuData, expAvgSq: GpuData, a: AdamStepArgs): void {
  check('adamStep', param, [['grad', grad], ['exp_avg', expAvg], ['exp_avg_sq', expAvgSq]]);
  if (!(a.step >= 1 && Number.isInteger(a.step))) throw new GraftError(`adamStep: step must be an integer >= 1, got ${a.step}`);
  // Bias corrections in float64 on the CPU, as torch computes them in Python floats.
  const biasCorrection1 = 1 - Math.pow(a.beta1, a.step);
  const biasCorrection2 = 1 - Math.pow(a.beta2, a.step);
  const shared = {
    weight_decay: a.decoupled ? 0 : a.weightDecay,
    decay_factor: a.decoupled ? 1 - a.lr * a.weightDecay : 1,
    beta1: a.beta1,
    beta2: a.beta2,
    eps: a.eps,
    step_size: a.lr / biasCorrection1,
    bias_correction2_sqrt: Math.sqrt(biasCorrection2),
    first: a.step === 1 ? 1 : 0,
  };
  inBindingRanges(rt, numel(param.shape), (count, bind) => {
    const n4 = Math.ceil(count / 4);
    const kernel = rt.kernel(K.adam);
    rt.dispatch(kernel, {
      params: { n4, ...shared },
      buffers: { param: bind(param), grad: bind(grad), exp_avg: bind(expAvg), exp_avg_sq: bind(expAvgSq) },
      workgroups: workgroups(rt, kernel, n4),
    });
  });
}

export const kernels = Object.values(K);
