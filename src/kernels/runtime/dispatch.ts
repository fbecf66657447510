// Dispatch: uniform slots, bind groups, encoding many dispatches per compute pass, batched
// submits, queue writes and copies in order, readback, and waiting on Dawn without spinning.
import { GraftError } from '../../core/index.ts';
import type { AdapterReport } from '../../device/device.ts';
import { BindGroupCache, type StorageEntry } from './bind-groups.ts';
import { StagingPool } from './buffers.ts';
import type { DeviceErrors } from './device-errors.ts';
import type { CompiledKernel } from './pipelines.ts';
import { DispatchProfiler, type KernelTime } from './profiler.ts';
import { uniformWords } from './uniforms.ts';

/** A whole buffer, or a byte range of one (offset a multiple of minStorageBufferOffsetAlignment). */
export type BufferBinding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

export interface DispatchArgs {
  /** Values for the `var<uniform>` struct, by field name. vecN fields take arrays. */
  params?: Record<string, number | number[]>;
  /** Buffers (or byte ranges of buffers) by WGSL variable name. */
  buffers: Record<string, BufferBinding>;
  /** Workgroup counts. */
  workgroups: [number, number?, number?];
}

const UNIFORM_ALIGN = 256;
const MAX_BATCH = 128;

interface Recorded {
  kernel: CompiledKernel;
  entries: StorageEntry[];
  /** Byte offset of its uniforms in the batch's uniform buffer; -1 without uniforms. */
  offset: number;
  wg: [number, number, number];
}

/**
 * Records dispatches and copies into one command encoder and submits them in batches. Dispatches
 * are kept as descriptors until they are encoded, so that the uniforms of a batch go to the GPU in
 * one write: every dispatch's uniforms sit at their own 256-byte slot of one uniform buffer, bound
 * with a dynamic offset, so bind groups are cached (bind-groups.ts) instead of made per dispatch.
 */
export class CommandRecorder {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  /** The pipeline last set on `pass`. */
  private passPipeline: GPUComputePipeline | null = null;
  private batched = 0;
  private pending: Recorded[] = [];
  private counters: Record<string, number> = {};
  /** While gpu.profile runs: every dispatch in its own timestamped pass. */
  private profiler: DispatchProfiler | null = null;
  /** Submits so far (tests and benchmarks: uploads should not cause them). */
  submits = 0;
  readonly bindGroups: BindGroupCache;
  readonly staging: StagingPool;

  // Uniforms of everything recorded since the last submit: staged on the CPU, written to the GPU
  // buffer up to `used` when encoded (a submit's slots are never reused before it is submitted).
  private uniformStaging = new ArrayBuffer(64 * 1024);
  private words = uniformWords(this.uniformStaging);
  private used = 0;
  private written = 0;
  private uniformBuffer: GPUBuffer | null = null;
  /** Uniform buffers replaced by a larger one: destroyed after the submit that last used them. */
  private retired: GPUBuffer[] = [];

  /**
   * Buffers allocated and not bound by any command since: queue writes into them need not wait
   * for (flush) the commands recorded so far, since none of those commands touches them.
   */
  private untouched = new Set<GPUBuffer>();

  constructor(
    private readonly device: GPUDevice,
    private readonly report: AdapterReport,
    private readonly errors: DeviceErrors,
    /** Called after every submit (released buffers may then be reused). */
    private readonly afterSubmit: () => void,
  ) {
    this.bindGroups = new BindGroupCache(device);
    this.staging = new StagingPool(device);
  }

  /** Commands recorded and not yet submitted. */
  get recording(): boolean {
    return this.encoder !== null || this.pending.length > 0;
  }

  /** A freshly allocated buffer: no recorded command uses it yet. */
  allocated(buf: GPUBuffer): void {
    this.untouched.add(buf);
  }

  released(buf: GPUBuffer): void {
    this.untouched.delete(buf);
  }

  /** Record one dispatch. Uniforms are packed by field name from the reflected struct layout. */
  dispatch(kernel: CompiledKernel, args: DispatchArgs): void {
    const limits = this.report.limits;
    const [x, y = 1, z = 1] = args.workgroups;
    const maxWg = limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg) {
      throw new GraftError(`kernel ${kernel.key}: dispatch of ${x}x${y}x${z} workgroups exceeds the limit ${maxWg} per dimension`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    const entries: StorageEntry[] = [];
    for (const b of kernel.bindings) {
      if (b.kind === 'uniform') continue;
      const given = args.buffers[b.name];
      if (!given) throw new GraftError(`kernel ${kernel.key}: no buffer given for binding '${b.name}'`);
      const buffer = 'buffer' in given ? given.buffer : given;
      const offset = 'buffer' in given ? (given.offset ?? 0) : 0;
      const size = 'buffer' in given ? (given.size ?? -1) : -1;
      // A binding over the limit is a validation error that would surface later and vaguely; kernels
      // that handle large tensors bind ranges of them (matmul, elementwise).
      const bytes = size >= 0 ? size : buffer.size - offset;
      if (bytes > limits.maxStorageBufferBindingSize) {
        throw new GraftError(`kernel ${kernel.key}: binding '${b.name}' spans ${bytes} bytes, over this adapter's maxStorageBufferBindingSize (${limits.maxStorageBufferBindingSize}); this op does not split tensors that large`);
      }
      entries.push({ binding: b.binding, buffer, offset, size });
    }
    const offset = kernel.uniform ? this.packUniform(kernel, args.params ?? {}) : -1;
    if (this.untouched.size) for (const e of entries) this.untouched.delete(e.buffer);
    this.pending.push({ kernel, entries, offset, wg: [x, y, z] });
    this.count(kernel.name);
    if (++this.batched >= MAX_BATCH) this.flush();
  }

  private packUniform(kernel: CompiledKernel, params: Record<string, number | number[]>): number {
    const u = kernel.uniform!;
    const offset = this.used;
    const need = offset + Math.ceil(u.size / UNIFORM_ALIGN) * UNIFORM_ALIGN;
    if (need > this.uniformStaging.byteLength) {
      const grown = new ArrayBuffer(Math.max(need, this.uniformStaging.byteLength * 2));
      new Uint8Array(grown).set(new Uint8Array(this.uniformStaging));
      this.uniformStaging = grown;
      this.words = uniformWords(grown);
    }
    u.write(params, this.words, offset / 4);
    this.used = need;
    return offset;
  }

  write(buf: GPUBuffer, data: ArrayBufferView, offsetBytes = 0): void {
    // Keep queue order: a write reaches the GPU before commands recorded earlier but submitted
    // later, so it waits for them unless none of them touches this buffer.
    if (this.recording && !this.untouched.has(buf)) this.flush();
    this.device.queue.writeBuffer(buf, offsetBytes, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Copy `bytes` from src to dst (recorded in the current batch). */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    this.endPass();
    this.untouched.delete(src);
    this.untouched.delete(dst);
    this.ensureEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.count('copy');
  }

  /** Read `bytes` from a buffer back to the CPU. The only async operation. */
  async read(buf: GPUBuffer, bytes: number, offsetBytes = 0): Promise<ArrayBuffer> {
    const span = Math.max(4, Math.ceil(bytes / 4) * 4);
    const staging = this.staging.take(span);
    this.endPass();
    this.untouched.delete(buf);
    this.ensureEncoder().copyBufferToBuffer(buf, offsetBytes, staging, 0, span);
    this.flush();
    try {
      await waitForDawn(this.report, staging.mapAsync(GPUMapMode.READ, 0, span));
    } catch (e) {
      staging.destroy();
      await this.errors.throwPending();
      throw new GraftError(`readback failed: ${(e as Error).message}`);
    }
    const out = staging.getMappedRange(0, span).slice(0, bytes);
    staging.unmap();
    this.staging.give(staging);
    await this.errors.throwPending();
    return out;
  }

  private ensureEncoder(): GPUCommandEncoder {
    this.encodePending();
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  private endPass(): void {
    this.encodePending();
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** The GPU uniform buffer, large enough for every slot staged since the last submit. */
  private uniformTarget(): GPUBuffer {
    if (!this.uniformBuffer || this.uniformBuffer.size < this.used) {
      if (this.uniformBuffer) {
        // Slots written to the old buffer stay there for the commands already encoded.
        this.retired.push(this.uniformBuffer);
        this.bindGroups.forget(this.uniformBuffer);
      }
      this.uniformBuffer = this.device.createBuffer({ size: this.uniformStaging.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      this.written = 0;
    }
    return this.uniformBuffer;
  }

  /** Turn recorded dispatches into commands; the new uniform slots go to the GPU in one write. */
  private encodePending(): void {
    if (!this.pending.length) return;
    let ubuf: GPUBuffer | null = null;
    if (this.used > 0) {
      ubuf = this.uniformTarget();
      if (this.used > this.written) {
        this.device.queue.writeBuffer(ubuf, this.written, this.uniformStaging, this.written, this.used - this.written);
        this.written = this.used;
      }
    }
    this.encoder ??= this.device.createCommandEncoder();
    if (this.profiler) return this.encodeProfiled(this.encoder, this.profiler, ubuf);
    if (!this.pass) {
      this.pass = this.encoder.beginComputePass();
      this.passPipeline = null;
    }
    const pass = this.pass;
    for (const d of this.pending) {
      // Each native call costs microseconds: a run of one kernel sets its pipeline once.
      if (d.kernel.pipeline !== this.passPipeline) pass.setPipeline((this.passPipeline = d.kernel.pipeline));
      if (d.offset >= 0) pass.setBindGroup(0, this.bindGroups.get(d.kernel, d.entries, ubuf), [d.offset]);
      else pass.setBindGroup(0, this.bindGroups.get(d.kernel, d.entries, null));
      pass.dispatchWorkgroups(d.wg[0], d.wg[1], d.wg[2]);
    }
    this.pending = [];
  }

  /** Profiling: each dispatch in a pass of its own, whose start and end write timestamps. */
  private encodeProfiled(encoder: GPUCommandEncoder, profiler: DispatchProfiler, ubuf: GPUBuffer | null): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    for (const d of this.pending) {
      const pass = encoder.beginComputePass({ timestampWrites: profiler.next(d.kernel.name) });
      pass.setPipeline(d.kernel.pipeline);
      if (d.offset >= 0) pass.setBindGroup(0, this.bindGroups.get(d.kernel, d.entries, ubuf), [d.offset]);
      else pass.setBindGroup(0, this.bindGroups.get(d.kernel, d.entries, null));
      pass.dispatchWorkgroups(d.wg[0], d.wg[1], d.wg[2]);
      pass.end();
    }
    this.pending = [];
  }

  /** Whether a profile is running. */
  get profiling(): boolean {
    return this.profiler !== null;
  }

  /** Start timing every dispatch (gpu.profile); the work recorded so far is submitted untimed. */
  startProfile(): void {
    if (this.profiler) throw new GraftError('gpu.profile: a profile is already running (profiles do not nest)');
    this.flush();
    this.profiler = new DispatchProfiler(this.device, MAX_BATCH);
  }

  /** Stop timing: wait for the GPU and return GPU time per kernel, slowest first. */
  async stopProfile(): Promise<KernelTime[]> {
    const profiler = this.profiler;
    if (!profiler) throw new GraftError('gpu.profile: no profile is running');
    try {
      await this.sync();
    } finally {
      this.profiler = null;
    }
    return profiler.finish((p) => waitForDawn(this.report, p));
  }

  /** Submit everything recorded so far. */
  flush(): void {
    this.encodePending();
    if (!this.encoder) return;
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    const afterProfiledSubmit = this.profiler?.beforeSubmit(this.encoder) ?? null;
    this.device.queue.submit([this.encoder.finish()]);
    afterProfiledSubmit?.();
    this.submits++;
    this.encoder = null;
    this.batched = 0;
    // Submitted: later queue writes are ordered after these commands, so buffers and uniform
    // slots can be reused.
    this.used = 0;
    this.written = 0;
    for (const b of this.retired) b.destroy();
    this.retired = [];
    this.afterSubmit();
  }

  /** Wait until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    this.flush();
    await waitForDawn(this.report, this.device.queue.onSubmittedWorkDone());
    await this.errors.throwPending();
  }

  private count(name: string): void {
    this.counters[name] = (this.counters[name] ?? 0) + 1;
  }

  /** Dispatch (and copy) counts per kernel name since the last resetCounters(). */
  dispatchCounts(): Record<string, number> {
    return { ...this.counters };
  }

  resetCounters(): void {
    this.counters = {};
  }

  /** Destroy pooled staging buffers (trimPool). */
  trim(): void {
    this.staging.trim();
  }

  destroy(): void {
    this.staging.trim();
    this.bindGroups.clear();
    this.uniformBuffer?.destroy();
    this.uniformBuffer = null;
  }
}

/**
 * Await a Dawn promise without spinning a CPU core. Dawn's Node binding polls for completed GPU
 * work by re-posting itself with setImmediate, which keeps the main thread busy for the whole wait;
 * on SwiftShader that core is taken from the GPU work itself (measured: 5 chained convs 350-410 ms
 * spinning, 225-230 ms polling each millisecond). While we wait, setImmediate becomes a 1 ms timer.
 * (Polling freely for the first 0.3 or 1 ms of each wait did not make a tiny op's readback faster
 * on 2 loaded cores: bench/op-cost.ts.) Set GRAFT_DAWN_SPIN=1 to keep Dawn's own behaviour.
 */
export async function waitForDawn<T>(report: AdapterReport, p: Promise<T>): Promise<T> {
  if (report.runtime !== 'dawn' || (typeof process !== 'undefined' && process.env?.GRAFT_DAWN_SPIN === '1')) return p;
  const g = globalThis as unknown as { setImmediate: ImmediateFn };
  if (dawnWaits++ === 0) {
    savedSetImmediate = g.setImmediate;
    g.setImmediate = (fn, ...args) => setTimeout(fn, 1, ...args);
  }
  try {
    return await p;
  } finally {
    if (--dawnWaits === 0) g.setImmediate = savedSetImmediate!;
  }
}
type ImmediateFn = (fn: (...a: unknown[]) => void, ...args: unknown[]) => unknown;
let dawnWaits = 0;
let savedSetImmediate: ImmediateFn | null = null;
