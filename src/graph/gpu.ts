// Gpu: the handle users get from graft(): a device, its runtime, and tensor factories.
import { type AdapterReport, type DeviceOptions, openDevice } from '../device/device.ts';
import { type DType } from '../core/index.ts';
import { type KernelTime, type MemoryStats, Runtime } from '../kernels/runtime/index.ts';
import { type MeasureOptions, type Measured, openTuning, tune } from '../kernels/tune/index.ts';
import { tuneStore } from '../io/tune-store.ts';

export type { KernelTime, MemoryStats };

/** What gpu.profile() measured. */
export interface Profile<T> {
  /** What the profiled function returned. */
  result: T;
  /** GPU time per kernel, slowest first. */
  kernels: KernelTime[];
  /** Their sum: the GPU time of every dispatch (buffer copies and uploads are not timed). */
  gpuMs: number;
  /** Wall time from the start of the function until the GPU finished its work. */
  wallMs: number;
}
import { fill } from '../kernels/elementwise.ts';
import { Tensor, tensor } from './tensor.ts';
import { mulberry32, normal } from './random.ts';

export class Gpu {
  readonly rt: Runtime;
  constructor(rt: Runtime) {
    this.rt = rt;
  }

  /** Which adapter runs Graft, how it was found, and its limits. */
  get adapter(): AdapterReport {
    return this.rt.report;
  }

  tensor(values: ArrayLike<number>, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    return tensor(this.rt, values, shape, dtype);
  }

  zeros(shape: readonly number[]): Tensor {
    return this.full(shape, 0);
  }

  full(shape: readonly number[], value: number): Tensor {
    return new Tensor(this.rt, fill(this.rt, shape, value));
  }

  /** Seeded normal(0, std) values (generated on the CPU, uploaded once). */
  randn(shape: readonly number[], { seed = 0, std = 1 }: { seed?: number; std?: number } = {}): Tensor {
    const rand = mulberry32(seed);
    const n = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = normal(rand) * std;
    return tensor(this.rt, values, shape);
  }

  /** Live and pooled buffers, bytes, and dispatch counts per kernel. */
  stats(): MemoryStats {
    return this.rt.stats();
  }

  resetCounters(): void {
    this.rt.resetCounters();
  }

  /**
   * Run `fn` and time every dispatch it records on the GPU (timestamp queries; the adapter needs
   * 'timestamp-query'): GPU time per kernel, like tf.profile or torch.profiler. While profiling,
   * each dispatch runs in a compute pass of its own, which adds a little time per dispatch.
   */
  async profile<T>(fn: () => T | Promise<T>): Promise<Profile<T>> {
    this.rt.startProfile();
    const start = performance.now();
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      await this.rt.stopProfile().catch(() => undefined);
      throw e;
    }
    const kernels = await this.rt.stopProfile();
    return { result, kernels, gpuMs: kernels.reduce((a, k) => a + k.ms, 0), wallMs: performance.now() - start };
  }

  /**
   * Measure the kernel variants of every shape met so far that has no cached choice (or, with
   * `work`, of every shape `work` meets), keep the fastest correct one and save the cache.
   */
  tune(opts: MeasureOptions & { work?: () => Promise<void> } = {}): Promise<Measured[]> {
    return tune(this.rt, opts);
  }

  /** Wait for the GPU to finish submitted work; throws asynchronous device errors. */
  sync(): Promise<void> {
    return this.rt.sync();
  }

  destroy(): void {
    this.rt.destroy();
  }
}

/** Open a WebGPU device (navigator.gpu in browsers, Dawn in Node) and return a Graft handle. */
export async function graft(options: DeviceOptions = {}): Promise<Gpu> {
  const { device, report } = await openDevice(options);
  const rt = new Runtime(device, report);
  try {
    await openTuning(rt, options.tune, (name) => tuneStore(name, options.tuneCache));
  } catch (e) {
    rt.destroy();
    throw e;
  }
  return new Gpu(rt);
}
