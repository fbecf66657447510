// Dispatch: uniform packing, bind groups, encoding many dispatches per compute pass, batched
// submits, queue writes and copies in order, readback, and waiting on Dawn without spinning.
import { GraftError } from '../../core/index.ts';
import type { AdapterReport } from '../../device/device.ts';
import { sizeClass } from './buffers.ts';
import type { DeviceErrors } from './device-errors.ts';
import type { CompiledKernel } from './pipelines.ts';

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
  group: GPUBindGroupDescriptor;
  offset: number;
  kernel: CompiledKernel;
  wg: [number, number, number];
}

/**
 * Records dispatches and copies into one command encoder and submits them in batches. Dispatches
 * are kept as descriptors until the batch is encoded, so that the uniforms of the whole batch are
 * uploaded with one write.
 */
export class CommandRecorder {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private batched = 0;
  private uniformStaging = new Uint8Array(64 * 1024);
  private uniformUsed = 0;
  private uniformPool: GPUBuffer[] = [];
  private pendingUniformBuffers: GPUBuffer[] = [];
  private pendingDispatches: Recorded[] = [];
  private counters: Record<string, number> = {};

  constructor(
    private readonly device: GPUDevice,
    private readonly report: AdapterReport,
    private readonly errors: DeviceErrors,
    /** Called after every submit (released buffers may then be reused). */
    private readonly afterSubmit: () => void,
  ) {}

  /** Commands recorded and not yet submitted. */
  get recording(): boolean {
    return this.encoder !== null || this.pendingDispatches.length > 0;
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
    let uniformOffset = -1;
    if (kernel.uniform) uniformOffset = this.packUniform(kernel, args.params ?? {});
    const entries: GPUBindGroupEntry[] = [];
    for (const b of kernel.bindings) {
      if (b.kind === 'uniform') continue;
      const given = args.buffers[b.name];
      if (!given) throw new GraftError(`kernel ${kernel.key}: no buffer given for binding '${b.name}'`);
      const range = 'buffer' in given ? given : { buffer: given };
      // A binding over the limit is a validation error that would surface later and vaguely; kernels
      // that handle large tensors bind ranges of them (matmul, elementwise).
      const bytes = range.size ?? range.buffer.size - (range.offset ?? 0);
      if (bytes > limits.maxStorageBufferBindingSize) {
        throw new GraftError(`kernel ${kernel.key}: binding '${b.name}' spans ${bytes} bytes, over this adapter's maxStorageBufferBindingSize (${limits.maxStorageBufferBindingSize}); this op does not split tensors that large`);
      }
      entries.push({ binding: b.binding, resource: range });
    }
    this.pendingDispatches.push({ group: { layout: kernel.layout, entries }, offset: uniformOffset, kernel, wg: [x, y, z] });
    this.count(kernel.name);
    if (++this.batched >= MAX_BATCH) this.flush();
  }

  private packUniform(kernel: CompiledKernel, params: Record<string, number | number[]>): number {
    const u = kernel.uniform!;
    const offset = this.uniformUsed;
    const need = offset + Math.ceil(u.size / UNIFORM_ALIGN) * UNIFORM_ALIGN;
    if (need > this.uniformStaging.byteLength) {
      const grown = new Uint8Array(Math.max(need, this.uniformStaging.byteLength * 2));
      grown.set(this.uniformStaging);
      this.uniformStaging = grown;
    }
    const view = new DataView(this.uniformStaging.buffer, offset, u.size);
    for (let i = 0; i < u.size; i += 4) view.setUint32(i, 0, true);
    const seen = new Set<string>();
    for (const f of u.fields) {
      const v = params[f.name];
      if (v === undefined) throw new GraftError(`kernel ${kernel.key}: missing uniform '${f.name}'`);
      seen.add(f.name);
      const values = typeof v === 'number' ? [v] : v;
      if (values.length !== f.count) throw new GraftError(`kernel ${kernel.key}: uniform '${f.name}' takes ${f.count} value(s), got ${values.length}`);
      values.forEach((val, i) => {
        const at = f.offset + 4 * i;
        if (f.type === 'f32') view.setFloat32(at, val, true);
        else if (f.type === 'i32') view.setInt32(at, val, true);
        else {
          if (val < 0 || !Number.isInteger(val)) throw new GraftError(`kernel ${kernel.key}: uniform '${f.name}' is u32 but got ${val}`);
          view.setUint32(at, val, true);
        }
      });
    }
    for (const k of Object.keys(params)) if (!seen.has(k)) throw new GraftError(`kernel ${kernel.key}: unknown uniform '${k}'`);
    this.uniformUsed = need;
    return offset;
  }

  write(buf: GPUBuffer, data: ArrayBufferView, offsetBytes = 0): void {
    // Keep queue order: commands recorded before this write must run before it.
    if (this.recording) this.flush();
    this.device.queue.writeBuffer(buf, offsetBytes, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Copy `bytes` from src to dst (recorded in the current batch). */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    this.endPass();
    this.ensureEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.count('copy');
  }

  /** Read `bytes` from a buffer back to the CPU. The only async operation. */
  async read(buf: GPUBuffer, bytes: number, offsetBytes = 0): Promise<ArrayBuffer> {
    const staging = this.device.createBuffer({ size: Math.max(4, Math.ceil(bytes / 4) * 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.endPass();
    this.ensureEncoder().copyBufferToBuffer(buf, offsetBytes, staging, 0, staging.size);
    this.flush();
    try {
      await waitForDawn(this.report, staging.mapAsync(GPUMapMode.READ));
    } catch (e) {
      staging.destroy();
      await this.errors.throwPending();
      throw new GraftError(`readback failed: ${(e as Error).message}`);
    }
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
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

  /** Turn recorded dispatches into commands: uniforms are uploaded once per batch. */
  private encodePending(): void {
    if (!this.pendingDispatches.length) return;
    let ubuf: GPUBuffer | null = null;
    if (this.uniformUsed > 0) {
      const size = sizeClass(this.uniformUsed);
      const idx = this.uniformPool.findIndex((b) => b.size >= this.uniformUsed);
      ubuf = idx >= 0 ? this.uniformPool.splice(idx, 1)[0] : this.device.createBuffer({ size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      this.device.queue.writeBuffer(ubuf, 0, this.uniformStaging.buffer, 0, this.uniformUsed);
      this.pendingUniformBuffers.push(ubuf);
    }
    this.encoder ??= this.device.createCommandEncoder();
    this.pass ??= this.encoder.beginComputePass();
    for (const d of this.pendingDispatches) {
      const entries = d.group.entries as GPUBindGroupEntry[];
      if (d.offset >= 0) entries.push({ binding: d.kernel.uniform!.binding, resource: { buffer: ubuf!, offset: d.offset, size: d.kernel.uniform!.size } });
      this.pass.setPipeline(d.kernel.pipeline);
      this.pass.setBindGroup(0, this.device.createBindGroup(d.group));
      this.pass.dispatchWorkgroups(d.wg[0], d.wg[1], d.wg[2]);
    }
    this.pendingDispatches = [];
    this.uniformUsed = 0;
  }

  /** Submit everything recorded so far. */
  flush(): void {
    this.encodePending();
    if (!this.encoder) return;
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.batched = 0;
    // Submitted: later queue writes are ordered after these commands, so buffers can be reused.
    this.afterSubmit();
    this.uniformPool.push(...this.pendingUniformBuffers);
    this.pendingUniformBuffers = [];
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

  destroy(): void {
    for (const b of [...this.uniformPool, ...this.pendingUniformBuffers]) b.destroy();
    this.uniformPool = [];
    this.pendingUniformBuffers = [];
  }
}

/**
 * Await a Dawn promise without spinning a CPU core. Dawn's Node binding polls for completed GPU
 * work by re-posting itself with setImmediate, which keeps the main thread busy for the whole wait;
 * on SwiftShader that core is taken from the GPU work itself (measured: 5 chained convs 350-410 ms
 * spinning, 225-230 ms polling each millisecond). While we wait, setImmediate becomes a 1 ms timer.
 * Set GRAFT_DAWN_SPIN=1 to keep Dawn's own behaviour.
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
