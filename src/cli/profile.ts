// `graft profile --model resnet18 [--image 224] [--batch 1] [--train] [--runs 3]`: GPU time per
// kernel of a model's eval forward, or with --train of an SGD training step, on this adapter, from
// timestamp queries (gpu.profile). Random weights: only the shapes matter.
import { backward, zeroGrad } from '../graph/autograd.ts';
import { graft } from '../graph/gpu.ts';
import * as ops from '../graph/ops.ts';
import { noGrad, scope } from '../graph/tensor.ts';
import { ARCHS, createModel } from '../models/index.ts';
import { sgdStep } from '../train/optim.ts';
import { type CommandSpec, oneOf, positiveInt, runCommand } from './command.ts';
import { type Io, processIo, stepBar } from './shared.ts';

export const PROFILE: CommandSpec = {
  name: 'profile',
  summary: "GPU time per kernel of a model's eval forward (or, with --train, an SGD training step) on this adapter, from timestamp queries. Random weights: only the shapes matter.",
  positionals: '',
  options: {
    model: { type: 'string', short: 'm', value: '<arch>', default: 'resnet18', description: `the architecture (${ARCHS.join(', ')})` },
    image: { type: 'string', value: '<pixels>', default: '224', description: 'input height and width' },
    batch: { type: 'string', value: '<n>', default: '1', description: 'images per forward' },
    train: { type: 'boolean', description: 'profile a training step (forward, cross-entropy, backward, SGD update; everything trainable)' },
    runs: { type: 'string', value: '<n>', default: '3', description: 'profiled runs after one untimed warm-up run (times are per run)' },
    swiftshader: { type: 'boolean', description: "use Dawn's SwiftShader CPU adapter even when a GPU is present" },
    json: { type: 'boolean', description: 'print JSON instead of the table' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress bar' },
  },
  notes: 'example: graft profile --model resnet50 --image 224 --batch 8 --train',
};

export function profileCommand(argv: string[], io: Io = processIo): Promise<number> {
  return runCommand(PROFILE, argv, async ({ values, flags }) => {
    const arch = oneOf(values.model, 'model', ARCHS)!;
    const image = positiveInt(values.image, 'image');
    const batch = positiveInt(values.batch, 'batch');
    const runs = positiveInt(values.runs, 'runs');
    const gpu = await graft({ forceSwiftShader: flags.swiftshader });
    try {
      const net = createModel(arch, { gpu, seed: 1 });
      const classes = 1000;
      const params = net.trainableParameters();
      const run = () =>
        scope(async () => {
          const x = gpu.randn([batch, 3, image, image], { seed: 1 });
          if (!flags.train) {
            await noGrad(() => net.eval().forward(x)).data();
            return;
          }
          net.train();
          zeroGrad(params);
          const labels = ops.labels(gpu, Array.from({ length: batch }, (_, i) => (i * 7919) % classes), classes);
          const loss = ops.softmaxCrossEntropy(net.forward(x), labels);
          backward(loss);
          sgdStep(params, 0.01);
          await loss.item();
        });
      const bar = stepBar('profiling', flags.quiet || flags.json);
      bar.update(0, runs + 1, 'warm-up (compiles the kernels)');
      await run();
      const p = await gpu.profile(async () => {
        for (let i = 0; i < runs; i++) {
          bar.update(i + 1, runs + 1, `run ${i + 1}/${runs}`);
          await run();
        }
      });
      bar.end();
      net.dispose();
      const kernels = p.kernels.map((k) => ({ name: k.name, dispatches: k.dispatches / runs, ms: k.ms / runs, share: p.gpuMs > 0 ? k.ms / p.gpuMs : 0 }));
      const what = `${arch}, ${image}x${image}, batch ${batch}, ${flags.train ? 'SGD training step' : 'eval forward'}`;
      if (flags.json) {
        io.out(JSON.stringify({ adapter: gpu.adapter, model: arch, image, batch, train: flags.train, runs, gpuMsPerRun: p.gpuMs / runs, wallMsPerRun: p.wallMs / runs, kernels }, null, 1) + '\n');
        return 0;
      }
      const a = gpu.adapter;
      const name = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || '(no adapter info)';
      const rows = kernels.map((k) => [k.name, String(k.dispatches), k.ms.toFixed(1), `${(100 * k.share).toFixed(1)}%`]);
      const head = ['kernel', 'dispatches', 'ms/run', 'share'];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[0]) : c.padStart(widths[i]))).join('  ');
      io.out(
        [
          `adapter: ${name}${a.isCpu ? '  [CPU]' : ''}`,
          `${what}: ${runs} run${runs > 1 ? 's' : ''}, GPU ${(p.gpuMs / runs).toFixed(1)} ms per run (wall ${(p.wallMs / runs).toFixed(1)} ms, profiling included)`,
          line(head),
          ...rows.map(line),
          '',
        ].join('\n'),
      );
      return 0;
    } finally {
      gpu.destroy();
    }
  }, io);
}
