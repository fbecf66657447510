// `graft convert <input> <out.safetensors> [--arch name] [--no-strict]`: any supported weight file
// (torch .pth, Keras .h5, TF.js model.json, safetensors) to a safetensors file under torchvision names.
// With --arch the result is checked against the architecture's keys first: every missing, unexpected
// or mis-shaped key is listed and nothing is written, unless --no-strict.
import path from 'node:path';
import { GraftError } from '../core/index.ts';
import { compareShapes, readWeights } from '../weights/pretrained.ts';
import { saveSafetensors } from '../weights/safetensors.ts';
import { parseArgs, progressPrinter } from './args.ts';
import { archShapes, formatReport } from './inspect.ts';

export async function convert(argv: string[]): Promise<number> {
  try {
    const args = parseArgs(argv, ['arch'], ['no-strict', 'quiet']);
    if (args.positional.length !== 2) {
      process.stderr.write('usage: graft convert <input (.pth | .h5 | model.json | .safetensors)> <out.safetensors> [--arch name] [--no-strict]\n');
      return 2;
    }
    const [input, output] = args.positional;
    if (!/\.safetensors$/i.test(output)) throw new GraftError(`the output must be a .safetensors file, got '${output}'`);
    const say = (line: string) => args.flags.quiet || process.stdout.write(line + '\n');
    const weights = await readWeights(input, { arch: args.options.arch, onProgress: progressPrinter(!args.flags.quiet) });
    const arch = args.options.arch ?? weights.metadata.arch;
    say(`${input}: ${weights.format}, ${weights.tensors.size} tensors`);
    for (const note of weights.notes) say(`note: ${note}`);
    if (args.options.arch) {
      const shapes = await archShapes(args.options.arch);
      const report = compareShapes(shapes, weights.tensors);
      const problems = report.missing.length + report.unexpected.length + report.mismatched.length;
      const lines = formatReport(args.options.arch, report, shapes.size);
      if (problems && !args.flags['no-strict']) {
        throw new GraftError(`${input} does not match ${args.options.arch}; nothing written (--no-strict writes it anyway):\n${lines.join('\n')}`);
      }
      lines.forEach(say);
    }
    const metadata: Record<string, string> = { ...weights.metadata, converted_from: path.basename(input) };
    delete metadata.format; // saveSafetensors sets format = pt
    const bytes = await saveSafetensors(weights.tensors, output, { arch, metadata });
    say(`wrote ${output}: ${weights.tensors.size} tensors, ${(bytes.length / 1e6).toFixed(1)} MB${arch ? ` (arch ${arch})` : ''}`);
    return 0;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 1;
  }
}
