// The GPU runtime: buffer pool, pipeline cache, uniform packing from reflected WGSL, batched
// command submission, async readback, dispatch counters and memory stats.
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { type DType, GraftError, numel, shapeError } from '../../core/index.ts';
import type { AdapterReport } from '../../device/device.ts';

/** A shader file and the entry point one kernel uses. */
export interface KernelSource {
  /** Kernel name: counted in stats, shown in errors, part of the pipeline cache key. */
  name: string;
  /** WGSL text (imported with `?raw`). */
  wgsl: string;
  /** Entry point; defaults to `main`. */
  entry?: string;
  /** Device features the shader needs (e.g. 'subgroups'); absent on the device -> not compiled. */
  requires?: readonly string[];
}

/** Template constants: each replaces the value of a module-scope `const NAME` in the WGSL. */
export type KernelConstants = Record<string, number | boolean>;

interface UniformField {
  name: string;
  offset: number;
  type: string; // 'u32' | 'i32' | 'f32'
  count: number; // 1 for scalars, N for vecN
}

export interface CompiledKernel {
  key: string;
  name: string;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  /** Storage/uniform bindings by variable name. */
  bindings: { name: string; binding: number; kind: 'uniform' | 'read' | 'read_write' }[];
  uniform: { binding: number; size: number; fields: UniformField[] } | null;
  workgroupSize: [number, number, number];
}

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

const UNIFORM_ALIGN = 256;
const MAX_BATCH = 128;

/** Replace the initializers of `const NAME[: T] = ...;` for the given names; unknown names throw. */
export function specialize(kernel: KernelSource, constants: KernelConstants): string {
  let text = kernel.wgsl;
  for (const [name, value] of Object.entries(constants)) {
    const re = new RegExp(`(const\\s+${name}\\s*(:\\s*(\\w+))?\\s*=\\s*)[^;]+;`);
    const m = re.exec(text);
    if (!m) throw new Error(`graft: kernel ${kernel.name} has no template constant '${name}'`);
    const ty = m[3];
    let literal: string;
    if (typeof value === 'boolean') literal = String(value);
    else if (ty === 'u32') literal = `${value >>> 0}u`;
    else if (ty === 'i32') literal = `${value | 0}i`;
    else if (ty === 'f32') literal = `${Number.isInteger(value) ? value.toFixed(1) : value}f`;
    else literal = String(value);
    text = text.replace(re, `$1${literal};`);
  }
  return text;
}

/** Pipeline cache key: kernel name, entry and every template constant, sorted. */
export function kernelKey(kernel: KernelSource, constants: KernelConstants): string {
  const parts = Object.keys(constants).sort().map((k) => `${k}=${constants[k]}`);
  return `${kernel.name}:${kernel.entry ?? 'main'}${parts.length ? '[' + parts.join(',') + ']' : ''}`;
}

function sizeClass(bytes: number): number {
  // Power-of-two classes up to 1 MiB, then 1/8 steps within each power of two: at most 12.5% slack.
  const b = Math.max(bytes, 16);
  if (b <= 1 << 20) return 1 << Math.ceil(Math.log2(b));
  const p = 1 << (Math.floor(Math.log2(b)) - 3);
  return Math.ceil(b / p) * p;
}

export class Runtime {
  readonly device: GPUDevice;
  readonly report: AdapterReport;
  readonly id: number;
  private static nextId = 1;

  private pipelines = new Map<string, CompiledKernel>();
  private free = new Map<number, GPUBuffer[]>();
  private pendingFree: GPUBuffer[] = [];
  private live = new Map<GPUBuffer, number>();
  private liveBytes = 0;
  private pooledBytes = 0;
  private pooledCount = 0;
  private counters: Record<string, number> = {};

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private batched = 0;
  private uniformStaging = new Uint8Array(64 * 1024);
  private uniformUsed = 0;
  private uniformBuffer: GPUBuffer | null = null;
  private uniformPool: GPUBuffer[] = [];
  private pendingUniformBuffers: GPUBuffer[] = [];
  private pendingBindGroups: { group: GPUBindGroupDescriptor; offset: number; kernel: CompiledKernel; wg: [number, number, number] }[] = [];

  /** Set when the device is lost; every later call throws it. */
  lostReason: string | null = null;
  /** Errors raised asynchronously by the device (validation, out-of-memory, shader compile). */
  private asyncErrors: string[] = [];
  /** Compile verdicts not yet in: awaited at every sync point so their message comes first. */
  private pendingChecks = new Set<Promise<void>>();

  constructor(device: GPUDevice, report: AdapterReport) {
    this.device = device;
    this.report = report;
    this.id = Runtime.nextId++;
    device.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message}`;
    });
    device.addEventListener?.('uncapturederror', (ev: Event) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      this.asyncErrors.push(`${err.constructor?.name ?? 'GPUError'}: ${err.message}`);
    });
  }

  get limits(): Record<string, number> {
    return this.report.limits;
  }

  // ---- errors ---------------------------------------------------------------------------------

  checkAlive(): void {
    if (this.lostReason !== null) throw new GraftError(`the GPU device was lost (${this.lostReason}); create a new one with graft()`);
  }

  private compileErrors: string[] = [];

  /** Throw asynchronous device errors, if any (called at every sync point); compile errors first. */
  async throwAsyncErrors(): Promise<void> {
    if (this.pendingChecks.size) await Promise.all(this.pendingChecks);
    this.checkAlive();
    if (this.compileErrors.length) {
      const errs = this.compileErrors.splice(0);
      this.asyncErrors.length = 0; // the follow-on 'invalid pipeline' errors say nothing more
      throw new GraftError(errs.join(' | '));
    }
    if (this.asyncErrors.length) {
      const errs = this.asyncErrors.splice(0);
      throw new GraftError(`the GPU reported ${errs.length} error(s): ${errs.join(' | ')}`);
    }
  }

  // ---- buffers --------------------------------------------------------------------------------

  /** A storage buffer of at least `bytes` bytes from the pool. Its contents are undefined. */
  alloc(bytes: number): GPUBuffer {
    this.checkAlive();
    const maxBuffer = this.limits.maxBufferSize;
    if (bytes > maxBuffer) {
      throw new GraftError(`out of memory: a buffer of ${bytes} bytes exceeds this adapter's maxBufferSize (${maxBuffer})`);
    }
    // Every buffer is a multiple of 16 bytes, so kernels may read and write whole vec4s.
    let size = sizeClass(bytes);
    if (size > maxBuffer) size = Math.ceil(bytes / 16) * 16;
    const list = this.free.get(size);
    let buf = list?.pop();
    if (buf) {
      this.pooledBytes -= size;
      this.pooledCount--;
    } else {
      this.device.pushErrorScope('out-of-memory');
      buf = this.device.createBuffer({
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      const liveBytes = this.liveBytes;
      const check = this.device.popErrorScope().then((err) => {
        if (err) this.compileErrors.push(`out of memory: allocating ${size} bytes failed with ${liveBytes} bytes live in ${this.live.size} buffers (${err.message}); dispose tensors or use scope()`);
      });
      this.pendingChecks.add(check);
      check.finally(() => this.pendingChecks.delete(check));
    }
    this.live.set(buf, size);
    this.liveBytes += size;
    return buf;
  }

  /** Return a buffer to the pool. Reuse waits until the commands recorded so far are submitted. */
  release(buf: GPUBuffer): void {
    const size = this.live.get(buf);
    if (size === undefined) throw new GraftError('release of a buffer that is not live (double dispose?)');
    this.live.delete(buf);
    this.liveBytes -= size;
    if (this.encoder || this.pendingBindGroups.length) this.pendingFree.push(buf);
    else this.toPool(buf);
  }

  private toPool(buf: GPUBuffer): void {
    const size = buf.size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buf);
    this.pooledBytes += size;
    this.pooledCount++;
  }

  /** Destroy every pooled buffer (live ones are untouched). */
  trimPool(): void {
    this.flush();
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.pooledBytes = 0;
    this.pooledCount = 0;
  }

  write(buf: GPUBuffer, data: ArrayBufferView, offsetBytes = 0): void {
    this.checkAlive();
    // Keep queue order: commands recorded before this write must run before it.
    if (this.encoder || this.pendingBindGroups.length) this.flush();
    this.device.queue.writeBuffer(buf, offsetBytes, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Copy `bytes` from src to dst (recorded in the current batch). */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    this.checkAlive();
    this.endPass();
    this.ensureEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.count('copy');
  }

  /**
   * Await a Dawn promise without spinning a CPU core. Dawn's Node binding polls for completed GPU
   * work by re-posting itself with setImmediate, which keeps the main thread busy for the whole wait;
   * on SwiftShader that core is taken from the GPU work itself (measured: 5 chained convs 350-410 ms
   * spinning, 225-230 ms polling each millisecond). While we wait, setImmediate becomes a 1 ms timer.
   * Set GRAFT_DAWN_SPIN=1 to keep Dawn's own behaviour.
   */
  private async wait<T>(p: Promise<T>): Promise<T> {
    if (this.report.runtime !== 'dawn' || (typeof process !== 'undefined' && process.env?.GRAFT_DAWN_SPIN === '1')) return p;
    const g = globalThis as unknown as { setImmediate: (fn: (...a: unknown[]) => void, ...args: unknown[]) => unknown };
    if (Runtime.waiting++ === 0) {
      Runtime.savedSetImmediate = g.setImmediate;
      g.setImmediate = (fn, ...args) => setTimeout(fn, 1, ...args);
    }
    try {
      return await p;
    } finally {
      if (--Runtime.waiting === 0) g.setImmediate = Runtime.savedSetImmediate!;
    }
  }
  private static waiting = 0;
  private static savedSetImmediate: ((fn: (...a: unknown[]) => void, ...args: unknown[]) => unknown) | null = null;

  /** Read `bytes` from a buffer back to the CPU. The only async operation. */
  async read(buf: GPUBuffer, bytes: number, offsetBytes = 0): Promise<ArrayBuffer> {
    this.checkAlive();
    const staging = this.device.createBuffer({ size: Math.max(4, Math.ceil(bytes / 4) * 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.endPass();
    this.ensureEncoder().copyBufferToBuffer(buf, offsetBytes, staging, 0, staging.size);
    this.flush();
    try {
      await this.wait(staging.mapAsync(GPUMapMode.READ));
    } catch (e) {
      staging.destroy();
      await this.throwAsyncErrors();
      throw new GraftError(`readback failed: ${(e as Error).message}`);
    }
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    await this.throwAsyncErrors();
    return out;
  }

  // ---- kernels --------------------------------------------------------------------------------

  /** Features a kernel requires that this device lacks. */
  missingFeatures(source: KernelSource): string[] {
    return (source.requires ?? []).filter((f) => !this.device.features.has(f));
  }

  /** The compiled pipeline for a kernel and its template constants (cached). */
  kernel(source: KernelSource, constants: KernelConstants = {}): CompiledKernel {
    const key = kernelKey(source, constants);
    const hit = this.pipelines.get(key);
    if (hit) return hit;
    this.checkAlive();
    const missing = this.missingFeatures(source);
    if (missing.length) throw new GraftError(`kernel ${key} needs device features this adapter lacks: ${missing.join(', ')}`);
    const code = specialize(source, constants);
    const entry = source.entry ?? 'main';
    let reflect: WgslReflect;
    try {
      reflect = new WgslReflect(code);
    } catch (e) {
      throw new GraftError(`kernel ${key}: WGSL does not parse: ${(e as Error).message}`);
    }
    const fn = reflect.entry.compute.find((f) => f.name === entry);
    if (!fn) throw new GraftError(`kernel ${key}: no @compute entry point '${entry}'`);
    const used = new Set(fn.resources.map((r) => r.name));
    const bindings: CompiledKernel['bindings'] = [];
    let uniform: CompiledKernel['uniform'] = null;
    for (const u of reflect.uniforms) {
      if (!used.has(u.name)) continue;
      const fields: UniformField[] = (u.type as { members?: { name: string; offset: number; type: { name: string; format?: { name: string } } }[] }).members!.map((m) => {
        const vec = /^vec([234])/.exec(m.type.name);
        return { name: m.name, offset: m.offset, type: vec ? m.type.format!.name : m.type.name, count: vec ? Number(vec[1]) : 1 };
      });
      uniform = { binding: u.binding, size: u.size, fields };
      bindings.push({ name: u.name, binding: u.binding, kind: 'uniform' });
    }
    for (const s of reflect.storage) {
      if (!used.has(s.name)) continue;
      bindings.push({ name: s.name, binding: s.binding, kind: String(s.access) === 'read_write' ? 'read_write' : 'read' });
    }
    bindings.sort((a, b) => a.binding - b.binding);
    const layout = this.device.createBindGroupLayout({
      label: key,
      entries: bindings.map((b) => ({
        binding: b.binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: b.kind === 'uniform' ? 'uniform' : b.kind === 'read' ? 'read-only-storage' : 'storage' },
      })),
    });
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ label: key, code });
    const pipeline = this.device.createComputePipeline({
      label: key,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: entry },
    });
    const check = this.device.popErrorScope().then(async (err) => {
      if (!err) return;
      const info = await module.getCompilationInfo();
      const msgs = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
      this.compileErrors.push(`kernel ${key} failed to compile: ${msgs.length ? msgs.join('; ') : err.message}`);
    });
    this.pendingChecks.add(check);
    check.finally(() => this.pendingChecks.delete(check));
    const wg = fn.workgroupSize ?? [1, 1, 1];
    const compiled: CompiledKernel = { key, name: source.name, pipeline, layout, bindings, uniform, workgroupSize: [wg[0] ?? 1, wg[1] ?? 1, wg[2] ?? 1] };
    this.pipelines.set(key, compiled);
    return compiled;
  }

  /** Compile a kernel and wait for the compiler's verdict (for doctor and tests). */
  async compileCheck(source: KernelSource, constants: KernelConstants = {}): Promise<string | null> {
    const missing = this.missingFeatures(source);
    if (missing.length) throw new GraftError(`kernel ${source.name} needs device features ${missing.join(', ')}`);
    const code = specialize(source, constants);
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ label: source.name, code });
    await this.device.popErrorScope();
    const info = await module.getCompilationInfo();
    const errs = info.messages.filter((m) => m.type === 'error');
    if (errs.length) return errs.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ');
    this.device.pushErrorScope('validation');
    this.kernel(source, constants);
    const err = await this.device.popErrorScope();
    return err ? err.message : null;
  }

  /** Record one dispatch. Uniforms are packed by field name from the reflected struct layout. */
  dispatch(kernel: CompiledKernel, args: DispatchArgs): void {
    this.checkAlive();
    const [x, y = 1, z = 1] = args.workgroups;
    const maxWg = this.limits.maxComputeWorkgroupsPerDimension;
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
      if (bytes > this.limits.maxStorageBufferBindingSize) {
        throw new GraftError(`kernel ${kernel.key}: binding '${b.name}' spans ${bytes} bytes, over this adapter's maxStorageBufferBindingSize (${this.limits.maxStorageBufferBindingSize}); this op does not split tensors that large`);
      }
      entries.push({ binding: b.binding, resource: range });
    }
    this.pendingBindGroups.push({ group: { layout: kernel.layout, entries }, offset: uniformOffset, kernel, wg: [x, y, z] });
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
    if (!this.pendingBindGroups.length) return;
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
    for (const d of this.pendingBindGroups) {
      const entries = d.group.entries as GPUBindGroupEntry[];
      if (d.offset >= 0) entries.push({ binding: d.kernel.uniform!.binding, resource: { buffer: ubuf!, offset: d.offset, size: d.kernel.uniform!.size } });
      this.pass.setPipeline(d.kernel.pipeline);
      this.pass.setBindGroup(0, this.device.createBindGroup(d.group));
      this.pass.dispatchWorkgroups(d.wg[0], d.wg[1], d.wg[2]);
    }
    this.pendingBindGroups = [];
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
    for (const b of this.pendingFree) this.toPool(b);
    this.pendingFree = [];
    this.uniformPool.push(...this.pendingUniformBuffers);
    this.pendingUniformBuffers = [];
  }

  /** Wait until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    this.flush();
    await this.wait(this.device.queue.onSubmittedWorkDone());
    await this.throwAsyncErrors();
  }

  // ---- stats ----------------------------------------------------------------------------------

  private count(name: string): void {
    this.counters[name] = (this.counters[name] ?? 0) + 1;
  }

  resetCounters(): void {
    this.counters = {};
  }

  stats(): MemoryStats {
    return {
      liveBuffers: this.live.size,
      liveBytes: this.liveBytes,
      pooledBuffers: this.pooledCount + this.pendingFree.length,
      pooledBytes: this.pooledBytes + this.pendingFree.reduce((s, b) => s + b.size, 0),
      dispatches: { ...this.counters },
    };
  }

  destroy(): void {
    this.flush();
    this.trimPool();
    for (const b of this.live.keys()) b.destroy();
    this.live.clear();
    this.device.destroy();
  }
}

// ---- data descriptors shared by every kernel module --------------------------------------------

/** What a kernel reads and writes: a buffer and the logical shape of its contents. */
export interface GpuData {
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** A new output of `shape`, allocated from the runtime's pool. */
export function output(rt: Runtime, shape: readonly number[], dtype: DType = 'f32'): GpuData {
  return { buffer: rt.alloc(Math.max(4, numel(shape) * 4)), shape: [...shape], dtype };
}

export function expectRank(op: string, what: string, t: GpuData, rank: number, hint: string): void {
  if (t.shape.length !== rank) shapeError(op, what, `rank ${rank} ${hint}`, t.shape);
}

export function expectDtype(op: string, what: string, t: GpuData, dtype: DType): void {
  if (t.dtype !== dtype) throw new GraftError(`${op}: ${what} expected dtype ${dtype}, got ${t.dtype}`);
}

/** Split a flat workgroup count over x and y when it exceeds the per-dimension limit. */
export function grid1d(rt: Runtime, groups: number): [number, number] {
  const max = rt.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= max) return [groups, 1];
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y];
}

/**
 * Run `body` over elements [0, n) of same-length flat tensors in ranges that each fit one storage
 * binding (VGG16's 411 MB classifier weight and its gradient/optimizer state exceed 128 MiB
 * adapters). Ranges start at 256-byte-aligned offsets (64 floats x 4) and cover whole vec4s; a
 * tensor within the limit is one range bound whole.
 */
export function inBindingRanges(rt: Runtime, n: number, body: (count: number, bind: (x: GpuData) => BufferBinding) => void): void {
  const limit = rt.limits.maxStorageBufferBindingSize;
  const chunk = n * 4 > limit ? Math.floor(limit / 256) * 64 : Math.max(n, 1);
  for (let first = 0; first < Math.max(n, 1); first += chunk) {
    const count = Math.min(chunk, n - first);
    body(count, (x) => (chunk >= n ? x.buffer : { buffer: x.buffer, offset: first * 4, size: Math.min(Math.ceil(count / 4) * 16, x.buffer.size - first * 4) }));
  }
}
