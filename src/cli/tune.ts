// `graft tune --model resnet50 [--image 224] [--batch 1] [--train]`: run a model's forward (and with
// --train a backward step) with every conv/matmul shape it meets recorded, measure each shape's
// kernel variants on this adapter, write the tuning cache and print what was measured and chosen.
import { backward } from '../graph/autograd.ts';
import { graft } from '../graph/gpu.ts';
import { noGrad, scope } from '../graph/tensor.ts';
import { type Measured, tuningLocation } from '../kernels/tune/index.ts';
import { ARCHS, createModel } from '../models/index.ts';
import { type CommandSpec, UsageError, nonNegativeInt, oneOf, positiveInt, runCommand } from './command.ts';
import { type Io, processIo, stepBar } from './shared.ts';

export const TUNE: CommandSpec = {
  name: 'tune',
  summary: "Measure the kernel variants of every conv/matmul shape a model meets on this adapter and cache the fastest correct one (the device then uses it). Random weights: only the shapes matter.",
  positionals: '',
  options: {
    model: { type: 'string', short: 'm', value: '<arch>', default: 'resnet50', description: `the architecture (${ARCHS.join(', ')})` },
    image: { type: 'string', value: '<pixels>', default: '224', description: 'input height and width' },
    batch: { type: 'string', value: '<n>', default: '1', description: 'images per forward' },
    train: { type: 'boolean', description: 'also a training step (the backward passes: input and weight gradients)' },
    reps: { type: 'string', value: '<n>', default: '5', description: 'timed runs per variant (the median is kept)' },
    warmups: { type: 'string', value: '<n>', default: '2', description: 'untimed runs per variant first' },
    wall: { type: 'boolean', description: 'time with the wall clock even where the device has timestamp queries' },
    cache: { type: 'string', value: '<folder>', description: 'the folder that holds tuning/ (default: $GRAFT_CACHE, else ~/.cache/graft)' },
    swiftshader: { type: 'boolean', description: "use Dawn's SwiftShader CPU adapter even when a GPU is present" },
    json: { type: 'boolean', description: 'print JSON instead of the table' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress bar' },
  },
  notes: 'example: graft tune --model resnet50 --image 224 --batch 1 --train',
};

const ms = (t: number) => (t >= 100 ? t.toFixed(0) : t >= 10 ? t.toFixed(1) : t.toFixed(2));

/** One line per measured shape: family, shape, each valid variant's median time, the choice. */
export function formatTable(rows: readonly Measured[]): string[] {
  const cells = rows.map((r) => [
    r.family,
    r.key,
    r.error ? `could not measure: ${r.error}` : [...Object.entries(r.choice.times ?? {}).map(([v, t]) => `${v} ${ms(t)} ms`), ...Object.keys(r.choice.rejected ?? {}).map((v) => `${v} WRONG`)].join(', '),
    r.choice.variant || '(default)',
  ]);
  const head = ['kernel', 'shape', `candidates (median${rows[0]?.choice.timer ? `, ${rows[0].choice.timer} timer` : ''})`, 'chosen'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i]))).join('  ');
  return [line(head), ...cells.map(line)];
}

export function tuneCommand(argv: string[], io: Io = processIo): Promise<number> {
  return runCommand(TUNE, argv, async ({ values, flags }) => {
    const arch = oneOf(values.model, 'model', ARCHS)!;
    const image = positiveInt(values.image, 'image');
    const batch = positiveInt(values.batch, 'batch');
    const reps = positiveInt(values.reps, 'reps');
    const warmups = nonNegativeInt(values.warmups, 'warmups');
    if (values.cache === '') throw new UsageError("option '--cache' needs a value");
    const gpu = await graft({ forceSwiftShader: flags.swiftshader, tune: 'cached', tuneCache: values.cache });
    try {
      const net = createModel(arch, { gpu, init: 'zeros', seed: 1 });
      const bar = stepBar('measuring', flags.quiet || flags.json);
      const work = async () => {
        await scope(async () => {
          const x = gpu.randn([batch, 3, image, image], { seed: 1 });
          const y = noGrad(() => net.eval().forward(x));
          await gpu.rt.read(y.buffer, 4);
          if (flags.train) {
            const yt = net.train().forward(x);
            backward(yt, gpu.full(yt.shape, 1));
            await gpu.sync();
          }
        });
      };
      const rows = await gpu.tune({ work, reps, warmups, timer: flags.wall ? 'wall' : 'auto', onShape: (s, i, n) => bar.update(i, n, `${i}/${n} ${s.family}`) });
      bar.end();
      net.dispose();
      const where = tuningLocation(gpu.rt);
      const a = gpu.adapter;
      if (flags.json) {
        io.out(JSON.stringify({ adapter: a, model: arch, image, batch, train: flags.train, cache: where, shapes: rows }, null, 1) + '\n');
        return 0;
      }
      const name = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || '(no adapter info)';
      io.out([`adapter: ${name}${a.isCpu ? '  [CPU]' : ''}`, `${arch}, ${image}x${image}, batch ${batch}${flags.train ? ', forward + training step' : ', forward'}: ${rows.length} shapes measured`, ...formatTable(rows), `cache: ${where}`, ''].join('\n'));
      return 0;
    } finally {
      gpu.destroy();
    }
  }, io);
}
