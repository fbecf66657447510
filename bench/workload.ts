// What a workload is, and the two ways an instance of it runs: Graft ops in a scope, or
// TensorFlow.js ops in a tidy. Every run ends with the outputs read back to the CPU: the harness
// times exactly that, so the readback is inside the timed region for every contender.
import type * as TfCore from '@tensorflow/tfjs-core';
import type { Gpu } from '../src/graph/gpu.ts';
import { type Tensor, scope } from '../src/graph/tensor.ts';

export type Tf = typeof TfCore;
export type TfTensor = TfCore.Tensor;
export type Outputs = ArrayLike<number>[];
export type TfBackend = 'webgpu' | 'wasm' | 'cpu';

/** One contender's prepared case: inputs uploaded, ready to run repeatedly. */
export interface Instance {
  /** One run, readback included; the outputs in this contender's own layout. */
  run(): Promise<Outputs>;
  /** The outputs in the common layout (NCHW activations, torch weight layout); untimed. */
  common?(outs: Outputs): Outputs;
  /** Free everything the instance holds. */
  dispose(): void;
}

/** A contender that cannot run the workload, and why (shown in the table). */
export interface Unavailable {
  unavailable: string;
  /** An untimed way to get this contender's outputs anyway, for the correctness check. */
  reference?: Instance;
}

export type Prepared = Instance | Unavailable;

export const isUnavailable = (p: Prepared): p is Unavailable => 'unavailable' in p;

export type Family = 'conv2d' | 'matmul' | 'batchnorm' | 'softmax' | 'model' | 'train';

export interface Workload {
  /** Stable, filterable id: `conv2d.fwd/56x56x64-64-k3s1`. */
  id: string;
  family: Family;
  /** Shown in tables: what runs, on which shape. */
  title: string;
  /** Floating-point operations of one run (2 per multiply-add), where well defined. */
  flops?: number;
  /** Largest allowed |Graft - tfjs| / max |tfjs| over every output. */
  tolerance: number;
  /** What the outputs are (for the report), e.g. 'y' or 'loss, dlogits'. */
  outputs: string;
  graft(gpu: Gpu): Prepared | Promise<Prepared>;
  tfjs(tf: Tf, backend: TfBackend): Prepared | Promise<Prepared>;
  /**
   * Model inference rows only: the input ONNX Runtime Web feeds the ONNX file exported for this
   * workload (bench/onnx.ts) as `x`, NCHW; its one output `y` is compared in Graft's layout.
   */
  onnx?: { input(): Float32Array; shape: number[] };
  /** Drop cached host data once every contender has run. */
  release?(): void;
}

/** Memoise a host-data builder so that every contender gets the very same arrays. */
export function lazy<T>(make: () => T): { get(): T; release(): void } {
  let value: T | null = null;
  return {
    get: () => (value ??= make()),
    release: () => {
      value = null;
    },
  };
}

/**
 * A Graft instance: `fn` records ops inside a scope (so every intermediate is freed) and returns
 * the tensors to read back. `inputs` (and anything in `owned`) are disposed with the instance.
 */
export function graftInstance(inputs: Tensor[], fn: () => Tensor[] | Promise<Tensor[]>, extra: Partial<Instance> = {}): Instance {
  return {
    run: () =>
      scope(async () => {
        const outs = await fn();
        return Promise.all(outs.map((t) => t.data()));
      }),
    dispose: () => {
      for (const t of inputs) {
        t.grad?.dispose();
        t.grad = null;
        t.dispose();
      }
    },
    ...extra,
  };
}

/** A TensorFlow.js instance: `fn` runs in a tidy and returns the tensors to read back. */
export function tfInstance(tf: Tf, inputs: TfTensor[], fn: () => TfTensor[], extra: Partial<Instance> = {}): Instance {
  return {
    run: async () => {
      const outs = tf.tidy(fn);
      try {
        return await Promise.all(outs.map((t) => t.data()));
      } finally {
        tf.dispose(outs);
      }
    },
    dispose: () => tf.dispose(inputs),
    ...extra,
  };
}

/** Whether tfjs has a kernel for this backend; a workload that needs a missing one is n/a. */
export function missingKernels(tf: Tf, backend: string, names: string[]): Unavailable | null {
  const missing = names.filter((k) => !tf.getKernel(k, backend));
  return missing.length ? { unavailable: `tfjs-backend-${backend} has no ${missing.join(', ')} kernel` } : null;
}
