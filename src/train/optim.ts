// Optimizers: SGD (momentum, Nesterov, weight decay), Adam and AdamW with torch.optim's semantics,
// each step one fused dispatch per parameter (graph/inplace.ts -> kernels/optim.ts).
//
// An optimizer is not bound to a parameter list: every step() looks up the model's trainable
// parameters by name, so freeze()/unfreeze() take effect without rebuilding it. State (momentum
// buffers, Adam moments, per-parameter step counts) is created lazily the first time a parameter
// is updated, kept while it is frozen (as torch keeps it for a parameter whose grad is None), and
// dropped once the parameter is disposed. Parameter groups give names matching a prefix (or a
// RegExp / predicate) their own learning rate and weight decay; a schedule scales every group's
// rate through `lrFactor`.
import type { Module, Parameter } from '../graph/module.ts';
import { Tensor, keep } from '../graph/tensor.ts';
import { GraftError, shapeStr } from '../core/index.ts';
import { adamUpdate, emptyLike, sgdUpdate } from '../graph/inplace.ts';
import type { HostTensor } from '../weights/state-dict.ts';

/** A dotted-name prefix (`features` matches `features.0.weight`), a RegExp, or a predicate. */
export type ParamMatch = string | RegExp | ((name: string) => boolean);

export interface ParamGroup {
  match: ParamMatch;
  /** This group's learning rate (default: the optimizer's lr times lrScale). */
  lr?: number;
  /** Multiplies the optimizer's lr when `lr` is not given, e.g. 0.1 for a pre-trained backbone. */
  lrScale?: number;
  weightDecay?: number;
}

export interface OptimizerOptions {
  lr: number;
  weightDecay?: number;
  /** The first group whose `match` accepts a parameter's name sets its hyperparameters. */
  groups?: ParamGroup[];
}

export interface SgdOptions extends OptimizerOptions {
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
}

export interface AdamOptions extends OptimizerOptions {
  betas?: [number, number];
  eps?: number;
}

/** Optimizer state on the host, keyed by parameter name: what checkpoints save. */
export interface OptimizerState {
  kind: string;
  lrFactor: number;
  params: { name: string; step: number; buffers: Record<string, HostTensor> }[];
}

/** What step() walks: a module (its trainable parameters) or [name, parameter] pairs. */
export type ParameterSource = Module | Iterable<readonly [string, Parameter]>;

interface ParamState {
  name: string;
  /** Updates applied to this parameter (Adam's bias-correction step t). */
  step: number;
  buffers: Record<string, Tensor>;
}

export function matchesName(match: ParamMatch, name: string): boolean {
  if (typeof match === 'string') return match === '' || name === match || name.startsWith(match + '.');
  if (match instanceof RegExp) return match.test(name);
  return match(name);
}

function checkRate(kind: string, what: string, v: number, lo: number, hi: number, hiOpen = false): void {
  if (!(typeof v === 'number' && v >= lo && (hiOpen ? v < hi : v <= hi))) throw new GraftError(`${kind}: ${what} must be in [${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${v}`);
}

/** Trainable parameters by name, each once (a parameter shared under two names is updated once, as torch). */
function namedTrainable(source: ParameterSource): [string, Parameter][] {
  const all = 'namedParameters' in source ? source.namedParameters() : [...source].map(([n, p]) => [n, p] as [string, Parameter]);
  const seen = new Set<Parameter>();
  return all.filter(([, p]) => p.trainable && !p.isDisposed && !seen.has(p) && seen.add(p));
}

export abstract class Optimizer {
  abstract readonly kind: string;
  readonly baseLr: number;
  readonly weightDecay: number;
  readonly groups: readonly ParamGroup[];
  /** Multiplies every group's learning rate (set by a schedule; 1 by default). */
  lrFactor = 1;
  private readonly state = new Map<Parameter, ParamState>();

  constructor(kind: string, o: OptimizerOptions) {
    checkRate(kind, 'lr', o.lr, 0, Infinity);
    checkRate(kind, 'weightDecay', o.weightDecay ?? 0, 0, Infinity);
    this.baseLr = o.lr;
    this.weightDecay = o.weightDecay ?? 0;
    this.groups = (o.groups ?? []).map((g, i) => {
      if (g.lr !== undefined) checkRate(kind, `groups[${i}].lr`, g.lr, 0, Infinity);
      if (g.lrScale !== undefined) checkRate(kind, `groups[${i}].lrScale`, g.lrScale, 0, Infinity);
      if (g.weightDecay !== undefined) checkRate(kind, `groups[${i}].weightDecay`, g.weightDecay, 0, Infinity);
      return { ...g };
    });
  }

  /** The learning rate and weight decay a parameter of this name gets now. */
  hyperparameters(name: string): { lr: number; weightDecay: number } {
    const g = this.groups.find((x) => matchesName(x.match, name));
    const lr = g?.lr ?? this.baseLr * (g?.lrScale ?? 1);
    return { lr: lr * this.lrFactor, weightDecay: g?.weightDecay ?? this.weightDecay };
  }

  /** The default group's current learning rate. */
  get lr(): number {
    return this.baseLr * this.lrFactor;
  }

  /** Update every trainable parameter that has a gradient; returns how many were updated. */
  step(source: ParameterSource): number {
    this.dropDisposed();
    let updated = 0;
    for (const [name, p] of namedTrainable(source)) {
      if (!p.grad) continue;
      let s = this.state.get(p);
      if (!s) this.state.set(p, (s = { name, step: 0, buffers: this.allocState(p) }));
      s.step++;
      this.update(p, p.grad, s.buffers, s.step, this.hyperparameters(name));
      updated++;
    }
    return updated;
  }

  /** Dispose the gradients of every parameter of the source (trainable or not). */
  zeroGrad(source: ParameterSource): void {
    const all = 'namedParameters' in source ? source.namedParameters() : [...source];
    for (const [, p] of all) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** How many parameters hold state. */
  get stateSize(): number {
    this.dropDisposed();
    return this.state.size;
  }

  /** Read the state back to the host, by parameter name. */
  async stateDict(): Promise<OptimizerState> {
    this.dropDisposed();
    const params: OptimizerState['params'] = [];
    for (const [p, s] of this.state) {
      const buffers: Record<string, HostTensor> = {};
      for (const [k, t] of Object.entries(s.buffers)) buffers[k] = { shape: [...p.shape], dtype: 'f32', data: (await t.data()).slice(0, p.size) as Float32Array };
      params.push({ name: s.name, step: s.step, buffers });
    }
    return { kind: this.kind, lrFactor: this.lrFactor, params };
  }

  /**
   * Replace the state with a saved one, matching parameters of `model` by name. Everything is
   * checked first: on an error nothing changes.
   */
  loadStateDict(saved: OptimizerState, model: ParameterSource): void {
    if (saved.kind !== this.kind) throw new GraftError(`optimizer state is for ${saved.kind}, this optimizer is ${this.kind}`);
    const byName = new Map('namedParameters' in model ? model.namedParameters() : [...model]);
    const expected = this.stateNames();
    for (const e of saved.params) {
      const p = byName.get(e.name);
      if (!p) throw new GraftError(`${this.kind} state: the model has no parameter '${e.name}'`);
      const keys = Object.keys(e.buffers).sort();
      if (keys.join() !== [...expected].sort().join()) throw new GraftError(`${this.kind} state of '${e.name}': expected buffers [${expected.join(', ')}], got [${keys.join(', ')}]`);
      for (const [k, h] of Object.entries(e.buffers)) {
        if (h.data.length !== p.size) throw new GraftError(`${this.kind} state '${e.name}.${k}': ${h.data.length} values for a parameter of shape ${shapeStr(p.shape)}`);
      }
      if (!(Number.isInteger(e.step) && e.step >= 1)) throw new GraftError(`${this.kind} state of '${e.name}': bad step count ${e.step}`);
    }
    this.clear();
    for (const e of saved.params) {
      const p = byName.get(e.name)!;
      const buffers = this.allocState(p);
      for (const [k, h] of Object.entries(e.buffers)) p.rt.write(buffers[k].buffer, Float32Array.from(h.data));
      this.state.set(p, { name: e.name, step: e.step, buffers });
    }
    this.lrFactor = saved.lrFactor;
  }

  /** Free every state buffer. */
  clear(): void {
    for (const s of this.state.values()) for (const t of Object.values(s.buffers)) t.dispose();
    this.state.clear();
  }

  dispose(): void {
    this.clear();
  }

  private dropDisposed(): void {
    for (const [p, s] of this.state) {
      if (!p.isDisposed) continue;
      for (const t of Object.values(s.buffers)) t.dispose();
      this.state.delete(p);
    }
  }

  private allocState(p: Parameter): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const k of this.stateNames()) {
      out[k] = keep(emptyLike(p));
      out[k].name = `${p.name}.${k}`;
    }
    return out;
  }

  /** The names of the per-parameter state buffers (torch's names). */
  protected abstract stateNames(): string[];
  protected abstract update(p: Parameter, grad: Tensor, state: Record<string, Tensor>, step: number, hp: { lr: number; weightDecay: number }): void;
}

export class SGD extends Optimizer {
  readonly kind = 'SGD';
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  constructor(o: SgdOptions) {
    super('SGD', o);
    this.momentum = o.momentum ?? 0;
    this.dampening = o.dampening ?? 0;
    this.nesterov = o.nesterov ?? false;
    checkRate('SGD', 'momentum', this.momentum, 0, 1, true);
    checkRate('SGD', 'dampening', this.dampening, 0, 1);
    if (this.nesterov && (this.momentum === 0 || this.dampening !== 0)) throw new GraftError('SGD: nesterov needs momentum > 0 and dampening 0 (as torch)');
  }
  protected stateNames(): string[] {
    return this.momentum !== 0 ? ['momentum_buffer'] : [];
  }
  protected update(p: Parameter, grad: Tensor, state: Record<string, Tensor>, step: number, hp: { lr: number; weightDecay: number }): void {
    sgdUpdate(p, grad, state.momentum_buffer ?? null, { ...hp, momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov, first: step === 1 });
  }
}

export class Adam extends Optimizer {
  readonly kind: string;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  constructor(o: AdamOptions, readonly decoupled = false) {
    const kind = decoupled ? 'AdamW' : 'Adam';
    super(kind, o);
    this.kind = kind;
    [this.beta1, this.beta2] = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
    checkRate(kind, 'betas[0]', this.beta1, 0, 1, true);
    checkRate(kind, 'betas[1]', this.beta2, 0, 1, true);
    if (!(this.eps > 0)) throw new GraftError(`${kind}: eps must be > 0, got ${this.eps}`);
  }
  protected stateNames(): string[] {
    return ['exp_avg', 'exp_avg_sq'];
  }
  protected update(p: Parameter, grad: Tensor, state: Record<string, Tensor>, step: number, hp: { lr: number; weightDecay: number }): void {
    adamUpdate(p, grad, state.exp_avg, state.exp_avg_sq, { ...hp, decoupled: this.decoupled, beta1: this.beta1, beta2: this.beta2, eps: this.eps, step });
  }
}

/** torch.optim.SGD(lr, momentum=0, dampening=0, weight_decay=0, nesterov=False). */
export function sgd(options: SgdOptions): SGD {
  return new SGD(options);
}

/** torch.optim.Adam(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0): L2 added to the gradient. */
export function adam(options: AdamOptions): Adam {
  return new Adam(options, false);
}

/** torch.optim.AdamW: decoupled weight decay (torch's default weight_decay is 0.01). */
export function adamw(options: AdamOptions): Adam {
  return new Adam({ weightDecay: 0.01, ...options }, true);
}

/** One stateless plain-SGD step: p -= lr * (grad + weightDecay * p) for each trainable parameter with a gradient. */
export function sgdStep(params: Iterable<Parameter>, lr: number, weightDecay = 0): void {
  for (const p of params) {
    if (!p.trainable || !p.grad) continue;
    sgdUpdate(p, p.grad, null, { lr, weightDecay, momentum: 0, dampening: 0, nesterov: false, first: true });
  }
}
