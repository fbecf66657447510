// Data descriptors and small helpers shared by every kernel module: what a kernel reads and writes,
// output allocation, argument checks, and how a flat problem is cut into workgroups and bindings.
import { type DType, GraftError, numel, shapeError } from '../../core/index.ts';
import type { BufferBinding } from './dispatch.ts';
import type { CompiledKernel } from './pipelines.ts';

/** What these helpers need of the runtime (index.ts's Runtime has it). */
interface Allocator {
  alloc(bytes: number): GPUBuffer;
  readonly limits: Record<string, number>;
}

/** What a kernel reads and writes: a buffer and the logical shape of its contents. */
export interface GpuData {
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** A new output of `shape`, allocated from the runtime's pool. */
export function output(rt: Allocator, shape: readonly number[], dtype: DType = 'f32'): GpuData {
  return { buffer: rt.alloc(Math.max(4, numel(shape) * 4)), shape: [...shape], dtype };
}

export function expectRank(op: string, what: string, t: GpuData, rank: number, hint: string): void {
  if (t.shape.length !== rank) shapeError(op, what, `rank ${rank} ${hint}`, t.shape);
}

export function expectDtype(op: string, what: string, t: GpuData, dtype: DType): void {
  if (t.dtype !== dtype) throw new GraftError(`${op}: ${what} expected dtype ${dtype}, got ${t.dtype}`);
}

/** Split a flat workgroup count over x and y when it exceeds the per-dimension limit. */
export function grid1d(rt: Allocator, groups: number): [number, number] {
  const max = rt.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= max) return [groups, 1];
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y];
}

/** Invocations per workgroup, from the shader's @workgroup_size. */
export function threadsPerWorkgroup(kernel: CompiledKernel): number {
  const [x, y, z] = kernel.workgroupSize;
  return x * y * z;
}

/** A module-scope constant of the kernel's WGSL (after specialisation); throws if it has none. */
export function shaderConstant(kernel: CompiledKernel, name: string): number {
  const v = kernel.constants[name];
  if (v === undefined) throw new GraftError(`kernel ${kernel.key}: the shader declares no constant '${name}' with a literal value`);
  return v;
}

/** vec4s one workgroup covers in the flat kernels whose invocations each handle VPT vec4s. */
export function vec4sPerWorkgroup(kernel: CompiledKernel): number {
  return threadsPerWorkgroup(kernel) * shaderConstant(kernel, 'VPT');
}

/**
 * Run `body` over elements [0, n) of same-length flat tensors in ranges that each fit one storage
 * binding (VGG16's 411 MB classifier weight and its gradient/optimizer state exceed 128 MiB
 * adapters). Ranges start at 256-byte-aligned offsets (64 floats x 4) and cover whole vec4s; a
 * tensor within the limit is one range bound whole.
 */
export function inBindingRanges(rt: Allocator, n: number, body: (count: number, bind: (x: GpuData) => BufferBinding) => void): void {
  const limit = rt.limits.maxStorageBufferBindingSize;
  const chunk = n * 4 > limit ? Math.floor(limit / 256) * 64 : Math.max(n, 1);
  for (let first = 0; first < Math.max(n, 1); first += chunk) {
    const count = Math.min(chunk, n - first);
    body(count, (x) => (chunk >= n ? x.buffer : { buffer: x.buffer, offset: first * 4, size: Math.min(Math.ceil(count / 4) * 16, x.buffer.size - first * 4) }));
  }
}
