// `graft convert <input> <out.safetensors> [--arch name] [--no-strict]`: any supported weight file
// (torch .pth, Keras .h5, TF.js model.json, safetensors) to a safetensors file under torchvision names.
// With --arch the result is checked against the architecture's keys first: every missing, unexpected
// or mis-shaped key is listed and nothing is written, unless --no-strict.
import path from 'node:path';
import { GraftError } from '../core/index.ts';
import { ARCHS } from '../models/index.ts';
import { compareShapes, readWeights } from '../weights/pretrained.ts';
import { saveSafetensors } from '../weights/safetensors.ts';
import { type CommandSpec, UsageError, oneOf, runCommand } from './command.ts';
import { archShapes, formatReport } from './inspect.ts';
import { type Io, processIo, progressPrinter } from './shared.ts';

export const CONVERT: CommandSpec = {
  name: 'convert',
  summary: 'Convert a weight file (.pth, Keras .h5, TF.js model.json, .safetensors) to safetensors under torchvision names.',
  positionals: '<input> <out.safetensors>',
  minPositionals: 2,
  maxPositionals: 2,
  options: {
    arch: { type: 'string', value: '<name>', description: `check the tensors against an architecture first (${ARCHS.join(', ')})` },
    'no-strict': { type: 'boolean', description: 'with --arch, write the file even when keys are missing or mis-shaped' },
    quiet: { type: 'boolean', short: 'q', description: 'print nothing but errors' },
  },
};

export function convert(argv: string[], io: Io = processIo): Promise<number> {
  return runCommand(CONVERT, argv, async ({ values, flags, positionals }) => {
    const [input, output] = positionals;
    const archFlag = oneOf(values.arch, 'arch', ARCHS);
    if (!/\.safetensors$/i.test(output)) throw new UsageError(`the output must be a .safetensors file, got '${output}'`);
    const say = (line: string) => flags.quiet || io.out(line + '\n');
    const weights = await readWeights(input, { arch: archFlag, onProgress: progressPrinter(!flags.quiet) });
    const arch = archFlag ?? weights.metadata.arch;
    say(`${input}: ${weights.format}, ${weights.tensors.size} tensors`);
    for (const note of weights.notes) say(`note: ${note}`);
    if (archFlag) {
      const shapes = await archShapes(archFlag);
      const report = compareShapes(shapes, weights.tensors);
      const problems = report.missing.length + report.unexpected.length + report.mismatched.length;
      const lines = formatReport(archFlag, report, shapes.size);
      if (problems && !flags['no-strict']) {
        throw new GraftError(`${input} does not match ${archFlag}; nothing written (--no-strict writes it anyway): ${lines.join('; ')}`);
      }
      lines.forEach(say);
    }
    const metadata: Record<string, string> = { ...weights.metadata, converted_from: path.basename(input) };
    delete metadata.format; // saveSafetensors sets format = pt
    const bytes = await saveSafetensors(weights.tensors, output, { arch, metadata });
    say(`wrote ${output}: ${weights.tensors.size} tensors, ${(bytes.length / 1e6).toFixed(1)} MB${arch ? ` (arch ${arch})` : ''}`);
    return 0;
  }, io);
}
