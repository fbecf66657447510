// Loading and reading state dicts by torchvision name. Every weight format (safetensors, .pth, Keras
// HDF5, TF.js LayersModel) is converted to HostTensors first and then goes through loadStateDict,
// so missing / unexpected / mis-shaped keys are reported the same way for all of them.
import type { Module } from '../graph/module.ts';
import type { Tensor } from '../graph/tensor.ts';
import { GraftError, shapeStr, type HostTensor, numel, sameShape } from '../core/index.ts';

export type { HostTensor };

export interface LoadReport {
  missing: string[];
  unexpected: string[];
  /** `name: expected [..], got [..]` */
  mismatched: string[];
  loaded: number;
}

export interface LoadOptions {
  /** Throw when any key is missing, unexpected or mis-shaped (default). false: load what fits and report. */
  strict?: boolean;
  /** Where the weights came from, for error messages. */
  source?: string;
}

/**
 * Copy host tensors into a module's parameters and buffers by dotted name. Scalars of shape [] and [1]
 * are interchangeable (num_batches_tracked). Nothing is written unless the check passes in strict mode.
 */
export function loadStateDict(module: Module, entries: Map<string, HostTensor>, options: LoadOptions = {}): LoadReport {
  const strict = options.strict ?? true;
  const targets = module.stateDict();
  const report: LoadReport = { missing: [], unexpected: [], mismatched: [], loaded: 0 };
  const writes: [Tensor, HostTensor][] = [];
  for (const [name, target] of targets) {
    const src = entries.get(name);
    if (!src) {
      report.missing.push(name);
      continue;
    }
    const scalarish = numel(target.shape) === 1 && numel(src.shape) === 1;
    if (!sameShape(target.shape, src.shape) && !scalarish) {
      report.mismatched.push(`${name}: expected ${shapeStr(target.shape)}, got ${shapeStr(src.shape)}`);
      continue;
    }
    if (src.data.length !== numel(target.shape)) {
      report.mismatched.push(`${name}: ${src.data.length} values for shape ${shapeStr(target.shape)}`);
      continue;
    }
    writes.push([target, src]);
  }
  for (const name of entries.keys()) if (!targets.has(name)) report.unexpected.push(name);
  const problems = report.missing.length + report.unexpected.length + report.mismatched.length;
  if (strict && problems) throw new GraftError(describeProblems(report, options.source));
  for (const [target, src] of writes) {
    const data = target.dtype === 'i32' ? Int32Array.from(src.data) : src.data instanceof Float32Array ? src.data : Float32Array.from(src.data);
    target.rt.write(target.buffer, data);
  }
  report.loaded = writes.length;
  return report;
}

export function describeProblems(report: LoadReport, source?: string): string {
  const lines = [`state dict${source ? ` from ${source}` : ''} does not match the model:`];
  if (report.missing.length) lines.push(`  missing (${report.missing.length}): ${report.missing.join(', ')}`);
  if (report.unexpected.length) lines.push(`  unexpected (${report.unexpected.length}): ${report.unexpected.join(', ')}`);
  if (report.mismatched.length) lines.push(`  mis-shaped (${report.mismatched.length}): ${report.mismatched.join('; ')}`);
  lines.push('  (pass { strict: false } to load what matches and get this report instead)');
  return lines.join('\n');
}

/** Read every parameter and buffer back to the host, by dotted name (for saving). */
export async function readStateDict(module: Module): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of module.stateDict()) {
    const data = await t.data();
    out.set(name, { shape: [...t.shape], dtype: t.dtype, data });
  }
  return out;
}
