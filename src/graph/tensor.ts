// Tensor: a GPU buffer with a shape, the op that made it (for autograd), and explicit disposal.
// Memory rules: every tensor belongs to the innermost open scope; scope() disposes what was
// created inside it except what it returns; keep() takes a tensor out of scope tracking.
import { type DType, GraftError, numel, shapeStr } from '../core/index.ts';
import { type GpuData, type Runtime } from '../kernels/runtime/index.ts';

export type { Runtime };

/** The record of the op that produced a tensor: what its backward rule needs. */
export interface GradNode {
  op: string;
  inputs: Tensor[];
  /** Op attributes and extra tensors saved for backward. */
  saved: Record<string, unknown>;
}

let nextId = 1;
const scopes: Set<Tensor>[] = [];
let gradEnabled = true;

export class Tensor implements GpuData {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly rt: Runtime;
  private _buffer: GPUBuffer | null;
  /** Whether gradients flow to (leaf) or through (non-leaf) this tensor. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf, filled by backward(). */
  grad: Tensor | null = null;
  /** The op that made this tensor; null for leaves. */
  node: GradNode | null = null;
  name = '';

  constructor(rt: Runtime, data: GpuData) {
    this.rt = rt;
    this.shape = Object.freeze([...data.shape]);
    this.dtype = data.dtype;
    this._buffer = data.buffer;
    if (scopes.length) scopes[scopes.length - 1].add(this);
  }

  get size(): number {
    return numel(this.shape);
  }

  get buffer(): GPUBuffer {
    if (!this._buffer) throw new GraftError(`use of a disposed tensor${this.name ? ` '${this.name}'` : ''} of shape ${shapeStr(this.shape)}`);
    return this._buffer;
  }

  get isDisposed(): boolean {
    return this._buffer === null;
  }

  /** Free the GPU buffer now (idempotent). The tensor is unusable afterwards. */
  dispose(): void {
    if (!this._buffer) return;
    this.rt.release(this._buffer);
    this._buffer = null;
    for (const s of scopes) s.delete(this);
  }

  /** Read the values back (the only async step). */
  async data(): Promise<Float32Array | Int32Array> {
    const bytes = await this.rt.read(this.buffer, this.size * 4);
    return this.dtype === 'i32' ? new Int32Array(bytes) : new Float32Array(bytes);
  }

  /** Read a one-element tensor as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new GraftError(`item(): tensor has shape ${shapeStr(this.shape)}, not one element`);
    return (await this.data())[0];
  }

  toString(): string {
    return `Tensor(${shapeStr(this.shape)}, ${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

/** Upload values to a new tensor. */
export function tensor(rt: Runtime, values: ArrayLike<number>, shape: readonly number[], dtype: DType = 'f32'): Tensor {
  const n = numel(shape);
  if (values.length !== n) throw new GraftError(`tensor: ${values.length} values do not fill shape ${shapeStr(shape)} (${n} elements)`);
  for (const d of shape) if (!Number.isInteger(d) || d < 0) throw new GraftError(`tensor: bad shape ${shapeStr(shape)}`);
  const buffer = rt.alloc(Math.max(4, n * 4));
  const array = dtype === 'i32' ? Int32Array.from(values) : Float32Array.from(values);
  if (n > 0) rt.write(buffer, array);
  return new Tensor(rt, { buffer, shape, dtype });
}

/** Run fn; dispose every tensor it created except those in its result. Works with async fn. */
export function scope<T>(fn: () => T): T {
  const own = new Set<Tensor>();
  scopes.push(own);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    closeScope(own, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (r) => {
        closeScope(own, r);
        return r;
      },
      (e) => {
        closeScope(own, undefined);
        throw e;
      },
    ) as T;
  }
  closeScope(own, result);
  return result;
}

function collectTensors(value: unknown, into: Set<Tensor>, depth = 0): void {
  if (depth > 4 || value === null || typeof value !== 'object') return;
  if (value instanceof Tensor) {
    into.add(value);
    return;
  }
  const items = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : Object.values(value);
  for (const v of items) collectTensors(v, into, depth + 1);
}

function closeScope(own: Set<Tensor>, result: unknown): void {
  const i = scopes.lastIndexOf(own);
  if (i !== scopes.length - 1) throw new GraftError('scopes closed out of order (an async scope overlapped another)');
  scopes.pop();
  const keepers = new Set<Tensor>();
  collectTensors(result, keepers);
  const parent = scopes[scopes.length - 1];
  for (const t of own) {
    if (keepers.has(t)) parent?.add(t);
    else t.dispose();
  }
}

/** Take tensors out of scope tracking: they live until disposed by hand. */
export function keep<T extends Tensor | Tensor[]>(t: T): T {
  for (const x of Array.isArray(t) ? t : [t]) for (const s of scopes) s.delete(x);
  return t;
}

/** Run fn without recording ops for autograd. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    const r = fn();
    if (r instanceof Promise) return r.finally(() => (gradEnabled = prev)) as T;
    gradEnabled = prev;
    return r;
  } catch (e) {
    gradEnabled = prev;
    throw e;
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Throw unless every tensor is alive and on the same device as the first. */
export function checkInputs(op: string, tensors: Tensor[]): Runtime {
  const rt = tensors[0].rt;
  for (const t of tensors) {
    if (t.isDisposed) throw new GraftError(`${op}: input ${t.name ? `'${t.name}' ` : ''}of shape ${shapeStr(t.shape)} was disposed`);
    if (t.rt !== rt) throw new GraftError(`${op}: inputs live on two different devices (#${rt.id} and #${t.rt.id})`);
  }
  rt.checkAlive();
  return rt;
}

/** Wrap a kernel result and record the op when a gradient is needed. */
export function record(rt: Runtime, out: GpuData, op: string, inputs: Tensor[], saved: Record<string, unknown> = {}): Tensor {
  const t = new Tensor(rt, out);
  if (gradEnabled && inputs.some((x) => x.requiresGrad)) {
    t.requiresGrad = true;
    t.node = { op, inputs, saved };
  }
  return t;
}
