// The GPU runtime, split by concern: buffers.ts (the pool), pipelines.ts (specialisation,
// reflection, the pipeline cache), dispatch.ts (uniforms, bind groups, batched submits, readback),
// device-errors.ts (asynchronous errors). This facade ties them to one device and exports what
// kernel modules use.
import type { AdapterReport } from '../../device/device.ts';
import { BufferPool } from './buffers.ts';
import { DeviceErrors } from './device-errors.ts';
import { CommandRecorder, type DispatchArgs } from './dispatch.ts';
import type { KernelTime } from './profiler.ts';
import { type CompiledKernel, type KernelConstants, type KernelSource, PipelineCache } from './pipelines.ts';
import { Tuner } from './tune.ts';

export { sizeClass } from './buffers.ts';
export { type BufferBinding, type DispatchArgs } from './dispatch.ts';
export { type KernelTime } from './profiler.ts';
export { type CompiledKernel, type KernelConstants, type KernelSource, type UniformField, kernelKey, literalConstants, specialize } from './pipelines.ts';
export { TUNE_POLICIES, type TuneChoice, type TunePolicy, type TuneShape, Tuner } from './tune.ts';
export { waitForDawn } from './dispatch.ts';
export { type GpuData, expectDtype, expectRank, grid1d, inBindingRanges, output, shaderConstant, threadsPerWorkgroup, vec4sPerWorkgroup } from './data.ts';

export interface MemoryStats {
  /** Buffers currently owned by tensors (not counting the free pool). */
  liveBuffers: number;
  liveBytes: number;
  /** Buffers kept in the pool for reuse. */
  pooledBuffers: number;
  pooledBytes: number;
  /** Dispatch counts per kernel name since the last resetCounters(). */
  dispatches: Record<string, number>;
}

export class Runtime {
  readonly device: GPUDevice;
  readonly report: AdapterReport;
  readonly id: number;
  /** Measured kernel variants per shape (policy, choices, shapes waiting to be measured). */
  readonly tuner = new Tuner();
  private static nextId = 1;

  private readonly errors: DeviceErrors;
  private readonly buffers: BufferPool;
  private readonly pipelines: PipelineCache;
  private readonly commands: CommandRecorder;

  constructor(device: GPUDevice, report: AdapterReport) {
    this.device = device;
    this.report = report;
    this.id = Runtime.nextId++;
    this.errors = new DeviceErrors(device);
    this.pipelines = new PipelineCache(device, this.errors);
    this.commands = new CommandRecorder(device, report, this.errors, () => this.buffers.afterSubmit());
    this.buffers = new BufferPool(device, report.limits.maxBufferSize, this.errors, (buf) => this.commands.bindGroups.forget(buf));
  }

  get limits(): Record<string, number> {
    return this.report.limits;
  }

  /** Set when the device is lost; every later call throws it. */
  get lostReason(): string | null {
    return this.errors.lostReason;
  }

  checkAlive(): void {
    this.errors.checkAlive();
  }

  /** Throw asynchronous device errors, if any (called at every sync point); compile errors first. */
  throwAsyncErrors(): Promise<void> {
    return this.errors.throwPending();
  }

  // ---- buffers --------------------------------------------------------------------------------

  /** A storage buffer of at least `bytes` bytes from the pool. Its contents are undefined. */
  alloc(bytes: number): GPUBuffer {
    this.checkAlive();
    const buf = this.buffers.alloc(bytes);
    this.commands.allocated(buf);
    return buf;
  }

  /** Return a buffer to the pool. Reuse waits until the commands recorded so far are submitted. */
  release(buf: GPUBuffer): void {
    this.buffers.release(buf, this.commands.recording);
    this.commands.released(buf);
  }

  /** Destroy every pooled buffer, storage and readback staging (live ones are untouched). */
  trimPool(): void {
    this.flush();
    this.buffers.trim();
    this.commands.trim();
  }

  write(buf: GPUBuffer, data: ArrayBufferView, offsetBytes = 0): void {
    this.checkAlive();
    this.commands.write(buf, data, offsetBytes);
  }

  /** Copy `bytes` from src to dst (recorded in the current batch). */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    this.checkAlive();
    this.commands.copy(src, dst, bytes, srcOffset, dstOffset);
  }

  /**
   * Read `bytes` from a buffer back to the CPU. The only async operation. Under the tuning policy
   * 'auto', shapes met for the first time are measured after the read (once per shape).
   */
  async read(buf: GPUBuffer, bytes: number, offsetBytes = 0): Promise<ArrayBuffer> {
    this.checkAlive();
    const out = await this.commands.read(buf, bytes, offsetBytes);
    if (this.tuner.wantsMeasure) await this.tuner.measure!();
    return out;
  }

  // ---- kernels --------------------------------------------------------------------------------

  /** Features a kernel requires that this device lacks. */
  missingFeatures(source: KernelSource): string[] {
    return this.pipelines.missingFeatures(source);
  }

  /** The compiled pipeline for a kernel and its template constants (cached). */
  kernel(source: KernelSource, constants?: KernelConstants): CompiledKernel {
    return this.pipelines.kernel(source, constants);
  }

  /** Compile a kernel and wait for the compiler's verdict (for doctor and tests). */
  compileCheck(source: KernelSource, constants: KernelConstants = {}): Promise<string | null> {
    return this.pipelines.compileCheck(source, constants);
  }

  /** Record one dispatch. Uniforms are packed by field name from the reflected struct layout. */
  dispatch(kernel: CompiledKernel, args: DispatchArgs): void {
    this.checkAlive();
    this.commands.dispatch(kernel, args);
  }

  /** Submit everything recorded so far. */
  flush(): void {
    this.commands.flush();
  }

  /** Wait until the GPU has finished all submitted work. */
  sync(): Promise<void> {
    return this.commands.sync();
  }

  // ---- stats ----------------------------------------------------------------------------------

  /** Whether startProfile() runs (until stopProfile()). */
  get profiling(): boolean {
    return this.commands.profiling;
  }

  /** Time every dispatch from here on (timestamp queries); stopProfile() returns the totals. */
  startProfile(): void {
    this.commands.startProfile();
  }

  /** Wait for the GPU; GPU time per kernel since startProfile(), slowest first. */
  stopProfile(): Promise<KernelTime[]> {
    return this.commands.stopProfile();
  }

  resetCounters(): void {
    this.commands.resetCounters();
  }

  stats(): MemoryStats {
    return { ...this.buffers.stats(), dispatches: this.commands.dispatchCounts() };
  }

  /** Bind groups created and reused so far, and how many the cache holds (tests, benchmarks). */
  bindGroupStats(): { created: number; reused: number; cached: number } {
    const c = this.commands.bindGroups;
    return { created: c.created, reused: c.reused, cached: c.size };
  }

  /** Command buffers submitted so far (tests, benchmarks). */
  get submits(): number {
    return this.commands.submits;
  }

  /** Readback staging buffers kept for reuse (tests). */
  get pooledStagingBuffers(): number {
    return this.commands.staging.pooled;
  }

  destroy(): void {
    this.flush();
    this.buffers.destroy();
    this.commands.destroy();
    this.device.destroy();
  }
}
