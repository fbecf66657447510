// Bind groups, cached: one per (pipeline, uniform buffer, exact buffers and byte ranges). A bind
// group binds buffers, not their contents, so a pooled buffer reused by another tensor keeps its
// bind groups valid; the uniform binding takes a dynamic offset, so per-dispatch uniforms do not
// make a new group. A destroyed buffer takes its bind groups with it (forget).
import type { CompiledKernel } from './pipelines.ts';

/** One storage binding as recorded: the buffer and its byte range (size -1: to the end). */
export interface StorageEntry {
  binding: number;
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

/** Past this many groups the cache starts over (a bound, not a tuning knob). */
const MAX_GROUPS = 8192;

export class BindGroupCache {
  private groups = new Map<string, GPUBindGroup>();
  /** Keys of the groups that bind each buffer, to drop them when it is destroyed. */
  private byBuffer = new Map<GPUBuffer, Set<string>>();
  private ids = new WeakMap<GPUBuffer, number>();
  private nextId = 1;
  /** Groups created and reused (for tests and benchmarks). */
  created = 0;
  reused = 0;

  constructor(private readonly device: GPUDevice) {}

  private id(buf: GPUBuffer): number {
    let id = this.ids.get(buf);
    if (id === undefined) this.ids.set(buf, (id = this.nextId++));
    return id;
  }

  /** The bind group of `kernel` over these storage ranges and the uniform buffer (if it has one). */
  get(kernel: CompiledKernel, entries: readonly StorageEntry[], uniform: GPUBuffer | null): GPUBindGroup {
    let key = kernel.key;
    if (uniform) key += `|u${this.id(uniform)}`;
    for (const e of entries) key += `|${e.binding}:${this.id(e.buffer)}:${e.offset}:${e.size}`;
    const hit = this.groups.get(key);
    if (hit) {
      this.reused++;
      return hit;
    }
    if (this.groups.size >= MAX_GROUPS) this.clear();
    const gpuEntries: GPUBindGroupEntry[] = entries.map((e) => ({ binding: e.binding, resource: e.size < 0 ? { buffer: e.buffer, offset: e.offset } : { buffer: e.buffer, offset: e.offset, size: e.size } }));
    if (uniform) gpuEntries.push({ binding: kernel.uniform!.binding, resource: { buffer: uniform, offset: 0, size: kernel.uniform!.size } });
    const group = this.device.createBindGroup({ layout: kernel.layout, entries: gpuEntries });
    this.groups.set(key, group);
    for (const e of entries) this.index(e.buffer, key);
    if (uniform) this.index(uniform, key);
    this.created++;
    return group;
  }

  private index(buf: GPUBuffer, key: string): void {
    const keys = this.byBuffer.get(buf);
    if (keys) keys.add(key);
    else this.byBuffer.set(buf, new Set([key]));
  }

  /** Drop every group that binds `buf` (call before destroying it). */
  forget(buf: GPUBuffer): void {
    const keys = this.byBuffer.get(buf);
    if (!keys) return;
    for (const k of keys) this.groups.delete(k);
    this.byBuffer.delete(buf);
  }

  clear(): void {
    this.groups.clear();
    this.byBuffer.clear();
  }

  get size(): number {
    return this.groups.size;
  }
}
