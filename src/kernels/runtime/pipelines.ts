// Pipelines: specialisation of template constants, cache keys, reflection of bindings, the uniform
// struct and the workgroup size (wgsl_reflect), bind group layouts, and compile errors.
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { GraftError } from '../../core/index.ts';
import type { DeviceErrors } from './device-errors.ts';
import { type UniformField, type UniformWriter, uniformWriter } from './uniforms.ts';

export type { UniformField };

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

export interface CompiledKernel {
  key: string;
  name: string;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  /** Storage/uniform bindings by variable name. */
  bindings: { name: string; binding: number; kind: 'uniform' | 'read' | 'read_write' }[];
  /** The `var<uniform>` struct: bound with a dynamic offset; `write` packs it (uniforms.ts). */
  uniform: { binding: number; size: number; fields: UniformField[]; write: UniformWriter } | null;
  /** From the entry point's @workgroup_size, constants resolved. */
  workgroupSize: [number, number, number];
  /** Module-scope `const`s with a literal value, after specialisation (e.g. values per thread). */
  constants: Readonly<Record<string, number>>;
}

const constDecl = (name: string) => new RegExp(`(const\\s+${name}\\s*(:\\s*(\\w+))?\\s*=\\s*)[^;]+;`);

/** Replace the initializers of `const NAME[: T] = ...;` for the given names; unknown names throw. */
export function specialize(kernel: KernelSource, constants: KernelConstants): string {
  let text = kernel.wgsl;
  for (const [name, value] of Object.entries(constants)) {
    const re = constDecl(name);
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

/** Values of the module-scope `const NAME[: T] = <number literal>;` declarations of `code`. */
export function literalConstants(code: string): Record<string, number> {
  const out: Record<string, number> = {};
  // Only declarations at the start of a line: function-local consts are indented.
  const re = /^const\s+(\w+)\s*(?::\s*\w+)?\s*=\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)[uif]?\s*;/gm;
  for (const m of code.matchAll(re)) out[m[1]] = Number(m[2]);
  return out;
}

type ReflectedMember = { name: string; offset: number; type: { name: string; format?: { name: string } } };

/** Compiles kernels once per (name, entry, constants) and keeps them. */
export class PipelineCache {
  /** By kernelKey, with the source text each was compiled from (a changed text compiles again). */
  private pipelines = new Map<string, { wgsl: string; compiled: CompiledKernel }>();
  /** Kernels compiled without template constants, by source: no key to build on the hot path. A
   * source whose name or text changed since (a probe swapping in a variant) compiles again. */
  private plain = new WeakMap<KernelSource, { name: string; wgsl: string; compiled: CompiledKernel }>();

  constructor(
    private readonly device: GPUDevice,
    private readonly errors: DeviceErrors,
  ) {}

  /** Features a kernel requires that this device lacks. */
  missingFeatures(source: KernelSource): string[] {
    return (source.requires ?? []).filter((f) => !this.device.features.has(f));
  }

  /** The compiled pipeline for a kernel and its template constants (cached). */
  kernel(source: KernelSource, constants?: KernelConstants): CompiledKernel {
    if (!constants) {
      const hit = this.plain.get(source);
      if (hit && hit.wgsl === source.wgsl && hit.name === source.name) return hit.compiled;
      const compiled = this.kernel(source, {});
      this.plain.set(source, { name: source.name, wgsl: source.wgsl, compiled });
      return compiled;
    }
    const key = kernelKey(source, constants);
    const hit = this.pipelines.get(key);
    if (hit && hit.wgsl === source.wgsl) return hit.compiled;
    this.errors.checkAlive();
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
      const fields: UniformField[] = (u.type as { members?: ReflectedMember[] }).members!.map((m) => {
        const vec = /^vec([234])/.exec(m.type.name);
        return { name: m.name, offset: m.offset, type: vec ? m.type.format!.name : m.type.name, count: vec ? Number(vec[1]) : 1 };
      });
      uniform = { binding: u.binding, size: u.size, fields, write: uniformWriter(key, u.size, fields) };
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
        buffer: b.kind === 'uniform' ? { type: 'uniform', hasDynamicOffset: true } : { type: b.kind === 'read' ? 'read-only-storage' : 'storage' },
      })),
    });
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ label: key, code });
    const pipeline = this.device.createComputePipeline({
      label: key,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: entry },
    });
    this.errors.track(
      this.device.popErrorScope().then(async (err) => {
        if (!err) return;
        const info = await module.getCompilationInfo();
        const msgs = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
        this.errors.report(`kernel ${key} failed to compile: ${msgs.length ? msgs.join('; ') : err.message}`);
      }),
    );
    const wg = fn.workgroupSize ?? [1, 1, 1];
    const workgroupSize: [number, number, number] = [wg[0] ?? 1, wg[1] ?? 1, wg[2] ?? 1];
    if (!workgroupSize.every((d) => Number.isInteger(d) && d >= 1)) throw new GraftError(`kernel ${key}: cannot resolve @workgroup_size (got ${JSON.stringify(wg)})`);
    const compiled: CompiledKernel = { key, name: source.name, pipeline, layout, bindings, uniform, workgroupSize, constants: literalConstants(code) };
    this.pipelines.set(key, { wgsl: source.wgsl, compiled });
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
}
