// `graft inspect <file> [--arch name] [--json]`: the tensors of a weight file (name, shape, dtype) and,
// with --arch, which of the architecture's keys are missing, unexpected or mis-shaped.
import { graft } from '../graph/gpu.ts';
import { GraftError, shapeStr } from '../core/index.ts';
import { ARCHS, createModel } from '../models/index.ts';
import { compareShapes, readWeights } from '../weights/pretrained.ts';
import type { LoadReport } from '../weights/state-dict.ts';
import { readSafetensorsHeader } from '../weights/safetensors.ts';
import { type CommandSpec, UsageError, oneOf, positiveInt, runCommand } from './command.ts';
import { type Io, processIo, progressPrinter } from './shared.ts';
import { type ModelSummary, formatSummary } from '../models/summary.ts';

interface Listed {
  format: string;
  tensors: Map<string, { shape: number[]; dtype: string }>;
  metadata: Record<string, string>;
  notes: string[];
}

/**
 * The state-dict key shapes of an architecture. Built as a model (weights zero-filled, no random
 * numbers) and disposed: src/models has no GPU-free shape description yet.
 */
export async function archShapes(arch: string): Promise<Map<string, number[]>> {
  if (!(ARCHS as readonly string[]).includes(arch)) throw new GraftError(`unknown --arch '${arch}' (known: ${ARCHS.join(', ')})`);
  const gpu = await graft();
  try {
    const model = createModel(arch, { gpu, init: 'zeros' });
    const shapes = new Map([...model.stateDict()].map(([k, t]) => [k, [...t.shape]]));
    model.dispose();
    return shapes;
  } finally {
    gpu.destroy();
  }
}

/** An architecture's Keras-style summary at an input size (built with zero weights, disposed). */
export async function archSummary(arch: string, size?: number): Promise<ModelSummary> {
  const gpu = await graft();
  try {
    const model = createModel(arch, { gpu, init: 'zeros' });
    try {
      return await model.summary(size === undefined ? undefined : [size, size]);
    } finally {
      model.dispose();
    }
  } finally {
    gpu.destroy();
  }
}

async function listFile(file: string, showProgress: boolean): Promise<Listed> {
  // safetensors: the header alone says everything (no need to read hundreds of MB).
  if (/\.safetensors$/i.test(file)) {
    const header = await readSafetensorsHeader(file);
    const tensors = new Map([...header.entries].map(([k, e]) => [k, { shape: e.shape, dtype: e.dtype }]));
    return { format: 'safetensors', tensors, metadata: header.metadata, notes: [] };
  }
  const weights = await readWeights(file, { onProgress: progressPrinter(showProgress) });
  const tensors = new Map([...weights.tensors].map(([k, t]) => [k, { shape: t.shape, dtype: weights.fileDtypes.get(k) ?? t.dtype }]));
  return { format: weights.format, tensors, metadata: weights.metadata, notes: weights.notes };
}

export function formatReport(arch: string, report: LoadReport, expected: number): string[] {
  const lines = [`against ${arch} (${expected} keys): ${report.loaded} match`];
  if (report.missing.length) lines.push(`  missing (${report.missing.length}): ${report.missing.join(', ')}`);
  if (report.unexpected.length) lines.push(`  unexpected (${report.unexpected.length}): ${report.unexpected.join(', ')}`);
  if (report.mismatched.length) lines.push(`  mis-shaped (${report.mismatched.length}):\n    ${report.mismatched.join('\n    ')}`);
  if (!report.missing.length && !report.unexpected.length && !report.mismatched.length) lines.push('  every key present with the right shape');
  return lines;
}

export const INSPECT: CommandSpec = {
  name: 'inspect',
  summary: 'The tensors of a weight file (name, shape, dtype); with --arch, which keys are missing, unexpected or mis-shaped. --arch without a file prints the model summary (layers, output shapes, parameters).',
  positionals: '[<file>]',
  maxPositionals: 1,
  options: {
    arch: { type: 'string', value: '<name>', description: `an architecture (${ARCHS.join(', ')})` },
    size: { type: 'string', value: '<pixels>', description: "with --arch and no file: the input size of the summary (default: the model's own)" },
    json: { type: 'boolean', description: 'print JSON (no progress bar)' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress bar' },
  },
};

export function inspect(argv: string[], io: Io = processIo): Promise<number> {
  return runCommand(INSPECT, argv, async ({ values, flags, positionals }) => {
    const arch = oneOf(values.arch, 'arch', ARCHS);
    const json = flags.json;
    if (!positionals.length) {
      if (!arch) throw new UsageError('needs a weight file, or --arch <name> for the model summary');
      const size = values.size === undefined ? undefined : positiveInt(values.size, 'size');
      const s = await archSummary(arch, size);
      io.out(json ? JSON.stringify(s, null, 1) + '\n' : formatSummary(s) + '\n');
      return 0;
    }
    const [file] = positionals;
    const listed = await listFile(file, !json && !flags.quiet);
    let report: LoadReport | null = null;
    let expected = 0;
    if (arch) {
      const shapes = await archShapes(arch);
      expected = shapes.size;
      report = compareShapes(shapes, listed.tensors);
    }
    const problems = report ? report.missing.length + report.unexpected.length + report.mismatched.length : 0;
    if (json) {
      const tensors = [...listed.tensors].map(([name, t]) => ({ name, shape: t.shape, dtype: t.dtype }));
      io.out(JSON.stringify({ file, format: listed.format, metadata: listed.metadata, notes: listed.notes, tensors, ...(report ? { arch, report } : {}) }, null, 1) + '\n');
      return problems ? 1 : 0;
    }
    const count = [...listed.tensors.values()].reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
    const out = [`${file}: ${listed.format}, ${listed.tensors.size} tensors, ${count.toLocaleString('en-US')} values`];
    const meta = Object.entries(listed.metadata);
    if (meta.length) out.push(`metadata: ${meta.map(([k, v]) => `${k}=${v}`).join(', ')}`);
    const width = Math.max(4, ...[...listed.tensors.keys()].map((k) => k.length));
    const shapeWidth = Math.max(5, ...[...listed.tensors.values()].map((t) => shapeStr(t.shape).length));
    out.push(`  ${'name'.padEnd(width)}  ${'shape'.padEnd(shapeWidth)}  dtype`);
    for (const [name, t] of listed.tensors) out.push(`  ${name.padEnd(width)}  ${shapeStr(t.shape).padEnd(shapeWidth)}  ${t.dtype}`);
    for (const note of listed.notes) out.push(`note: ${note}`);
    if (report && arch) out.push(...formatReport(arch, report, expected));
    io.out(out.join('\n') + '\n');
    return problems ? 1 : 0;
  }, io);
}
