// GPU time per dispatch from timestamp queries (the 'timestamp-query' feature), summed per kernel:
// what `gpu.profile()` reports. While it is on, the recorder gives every dispatch its own compute
// pass whose start and end write a timestamp; each submit resolves its timestamps into a buffer
// that is read back without blocking, and stop() waits for those reads.
import { GraftError } from '../../core/index.ts';

/** One kernel's share of a profiled run. */
export interface KernelTime {
  /** Kernel name, e.g. 'conv2d.subgroup.forward'. */
  name: string;
  dispatches: number;
  /** Summed GPU time of its dispatches. */
  ms: number;
}

export class DispatchProfiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  /** Kernel names of the dispatches recorded since the last submit, in query order. */
  private names: string[] = [];
  private reads: Promise<void>[] = [];
  private totals = new Map<string, { dispatches: number; ns: number }>();
  private failure: string | null = null;

  constructor(
    private readonly device: GPUDevice,
    /** Most dispatches in one submit (the recorder's batch). */
    private readonly capacity: number,
  ) {
    if (!device.features.has('timestamp-query')) {
      throw new GraftError("gpu.profile needs the adapter feature 'timestamp-query', which this device lacks (in Chrome it may need --enable-dawn-features=allow_unsafe_apis)");
    }
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * capacity });
    this.resolveBuffer = device.createBuffer({ size: 16 * capacity, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  }

  /** Timestamp writes for the pass of the next dispatch, named `name`. */
  next(name: string): GPUComputePassTimestampWrites {
    const i = this.names.length;
    if (i >= this.capacity) throw new GraftError(`gpu.profile: more than ${this.capacity} dispatches in one submit`);
    this.names.push(name);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Before a submit: resolve this batch's timestamps and copy them to a buffer to read after it. */
  beforeSubmit(encoder: GPUCommandEncoder): (() => void) | null {
    const n = this.names.length;
    if (!n) return null;
    const names = this.names;
    this.names = [];
    const staging = this.device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, staging, 0, 16 * n);
    // Started after the submit (mapping a buffer that a pending submit writes is an error).
    return () => {
      this.reads.push(
        staging.mapAsync(GPUMapMode.READ).then(
          () => {
            const t = new BigUint64Array(staging.getMappedRange());
            names.forEach((name, i) => {
              const entry = this.totals.get(name) ?? { dispatches: 0, ns: 0 };
              entry.dispatches++;
              // A timestamp pair out of order (a device that reset its counter) counts as 0.
              entry.ns += t[2 * i + 1] > t[2 * i] ? Number(t[2 * i + 1] - t[2 * i]) : 0;
              this.totals.set(name, entry);
            });
            staging.destroy();
          },
          (e: Error) => {
            this.failure ??= e.message;
            staging.destroy();
          },
        ),
      );
    };
  }

  /** Wait for every read (after the last submit) and return the kernels, slowest first. */
  async finish(wait: (p: Promise<unknown>) => Promise<unknown>): Promise<KernelTime[]> {
    await wait(Promise.all(this.reads));
    this.querySet.destroy();
    this.resolveBuffer.destroy();
    if (this.failure) throw new GraftError(`gpu.profile: reading the timestamps failed: ${this.failure}`);
    return [...this.totals].map(([name, e]) => ({ name, dispatches: e.dispatches, ms: e.ns / 1e6 })).sort((a, b) => b.ms - a.ms);
  }
}
