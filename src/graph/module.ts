// Module: a tree of layers with torchvision-style dotted names (`layer1.0.conv1.weight`),
// parameters (with a per-parameter `trainable` flag) kept apart from buffers (BN running stats),
// freeze/unfreeze by name prefix, and train()/eval() modes.
import { GraftError, shapeStr } from '../core/index.ts';
import { Tensor, keep } from './tensor.ts';

/** A learnable tensor. It requires a gradient exactly when it is trainable. */
export class Parameter extends Tensor {
  get trainable(): boolean {
    return this.requiresGrad;
  }
  set trainable(on: boolean) {
    this.requiresGrad = on;
    if (!on) {
      this.grad?.dispose();
      this.grad = null;
    }
  }
}

/** Wrap a tensor's buffer as a Parameter (the tensor object is consumed) and keep it out of scopes. */
export function parameter(t: Tensor, trainable = true): Parameter {
  const p = new Parameter(t.rt, { buffer: t.buffer, shape: t.shape, dtype: t.dtype });
  keep(p);
  // Hand the buffer over without releasing it: drop t from scope tracking and detach it.
  keep(t);
  (t as unknown as { _buffer: GPUBuffer | null })._buffer = null;
  p.trainable = trainable;
  return p;
}

const matches = (name: string, prefix: string) => prefix === '' || name === prefix || name.startsWith(prefix + '.');

export abstract class Module {
  training = true;
  private readonly _params = new Map<string, Parameter>();
  private readonly _buffers = new Map<string, Tensor>();
  private readonly _children = new Map<string, Module>();

  /** The forward pass. */
  abstract forward(...inputs: Tensor[]): Tensor;

  protected addParameter(name: string, t: Tensor, trainable = true): Parameter {
    const p = t instanceof Parameter ? t : parameter(t, trainable);
    p.name = name;
    this._params.set(name, p);
    return p;
  }

  protected addBuffer(name: string, t: Tensor): Tensor {
    keep(t);
    t.name = name;
    this._buffers.set(name, t);
    return t;
  }

  /** Replace a buffer's tensor (e.g. updated running statistics); the old one is disposed. */
  protected setBuffer(name: string, t: Tensor): void {
    const old = this._buffers.get(name);
    if (!old) throw new GraftError(`${this.constructor.name}: no buffer '${name}'`);
    if (old.shape.join() !== t.shape.join()) throw new GraftError(`${this.constructor.name}.${name}: expected ${shapeStr(old.shape)}, got ${shapeStr(t.shape)}`);
    keep(t);
    t.name = name;
    this._buffers.set(name, t);
    if (old !== t) old.dispose();
  }

  protected buffer(name: string): Tensor {
    const t = this._buffers.get(name);
    if (!t) throw new GraftError(`${this.constructor.name}: no buffer '${name}'`);
    return t;
  }

  protected addModule<M extends Module>(name: string, m: M): M {
    this._children.set(name, m);
    return m;
  }

  children(): [string, Module][] {
    return [...this._children];
  }

  /** [dotted name, module] for this module ('' ) and every descendant. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, c] of this._children) out.push(...c.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  namedParameters(prefix = ''): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [n, p] of this._params) out.push([prefix ? `${prefix}.${n}` : n, p]);
    for (const [n, c] of this._children) out.push(...c.namedParameters(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, b] of this._buffers) out.push([prefix ? `${prefix}.${n}` : n, b]);
    for (const [n, c] of this._children) out.push(...c.namedBuffers(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Parameters that currently train: what an optimizer should see. */
  trainableParameters(): Parameter[] {
    return this.parameters().filter((p) => p.trainable);
  }

  /** Parameters and buffers by dotted name, as in a torchvision state dict. */
  stateDict(): Map<string, Tensor> {
    return new Map<string, Tensor>([...this.namedParameters(), ...this.namedBuffers()]);
  }

  private setTrainable(prefix: string, on: boolean): this {
    const hits = this.namedParameters().filter(([n]) => matches(n, prefix));
    if (prefix && !hits.length) {
      throw new GraftError(`${on ? 'unfreeze' : 'freeze'}('${prefix}'): no parameter is named '${prefix}' or starts with '${prefix}.'`);
    }
    for (const [, p] of hits) p.trainable = on;
    return this;
  }

  /** Stop training the parameters named `prefix` or under it (all when no prefix). */
  freeze(prefix = ''): this {
    return this.setTrainable(prefix, false);
  }

  unfreeze(prefix = ''): this {
    return this.setTrainable(prefix, true);
  }

  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Dispose every parameter, gradient and buffer. */
  dispose(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.dispose();
    }
    for (const [, b] of this.namedBuffers()) b.dispose();
  }
}
