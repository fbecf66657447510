// `graft finetune --model <arch> --weights <dir> --data ./my-images --epochs 5 --recipe staged`:
// fine-tune a pre-trained network on a folder of PNGs per class (data/<class>/<image>.png), with
// a stratified validation split, and write the per-epoch table and learning curves to a report
// folder (what the commands share is in shared.ts).
import path from 'node:path';
import { graft } from '../graph/gpu.ts';
import { type ImageClassifier, ARCHS, createModel, withHead } from '../models/index.ts';
import { encodeModel } from '../models/saved.ts';
import { earlyStopping } from '../train/callbacks.ts';
import { comparisonRow } from '../report/compare.ts';
import { trainValSplit } from '../data/data.ts';
import { imageFolder } from '../data/image-folder.ts';
import { formatHistory } from '../report/progress.ts';
import { RECIPES, runRecipe } from '../train/recipes.ts';
import { writeReport } from '../report/report.ts';
import { renderSvgs } from '../testing/browser.ts';
import { type CommandSpec, type Parsed, UsageError, nonNegativeInt, oneOf, positiveInt, positiveNumber, runCommand } from './command.ts';
import { type Io, defaultCut, loadBackbone, preprocessingAt, processIo, progress, resolveWeights, stepBar } from './shared.ts';

// ---- graft finetune -----------------------------------------------------------------------------

interface FinetuneOptions {
  model: string;
  data: string;
  weights?: string;
  recipe: string;
  epochs: number;
  headEpochs: number;
  batchSize: number;
  lr: number;
  valFraction: number;
  seed: number;
  patience: number;
  size?: number;
  cut?: string;
  out: string;
  save?: string;
  freezeBatchNorm: boolean;
  png: boolean;
  offline: boolean;
  quiet: boolean;
  onError: 'throw' | 'skip';
}

export const FINETUNE: CommandSpec = {
  name: 'finetune',
  summary: 'Fine-tune a pre-trained network on a folder of images per class (<data>/<class>/*.png|jpg), with a stratified validation split; writes the per-epoch table, curves and report.',
  positionals: '',
  options: {
    model: { type: 'string', short: 'm', value: '<arch>', description: `the architecture (${ARCHS.join(', ')})` },
    data: { type: 'string', short: 'd', value: '<folder>', description: 'a folder of class folders of images' },
    weights: { type: 'string', short: 'w', value: '<file|folder>', description: 'the pre-trained weights (default: $GRAFT_WEIGHTS_DIR/<arch>, or darknet-tiny downloaded)' },
    recipe: { type: 'string', value: `<${RECIPES.join('|')}>`, default: 'staged', description: 'the fine-tuning recipe' },
    epochs: { type: 'string', short: 'e', value: '<n>', default: '5', description: 'epochs (of the last phase)' },
    'head-epochs': { type: 'string', value: '<n>', default: '1', description: 'epochs of the head alone (staged, hybrid)' },
    cut: { type: 'string', value: '<stage>', description: 'where partial/hybrid start training (default: the last stage before the head)' },
    size: { type: 'string', value: '<pixels>', description: "the input size (default: the model's own)" },
    'batch-size': { type: 'string', short: 'b', value: '<n>', default: '16', description: 'images per step' },
    lr: { type: 'string', value: '<rate>', default: '1e-3', description: 'Adam learning rate' },
    'val-fraction': { type: 'string', value: '<0..1>', default: '0.2', description: 'share of each class held out for validation' },
    patience: { type: 'string', value: '<epochs>', default: '0', description: 'early stopping on val_loss after this many epochs without improvement (0: off)' },
    'freeze-bn': { type: 'boolean', description: 'keep BatchNorm statistics frozen while training' },
    seed: { type: 'string', value: '<n>', default: '0', description: 'seed of the split, the head and the shuffling' },
    out: { type: 'string', short: 'o', value: '<folder>', default: path.join('graft-report', 'finetune'), description: 'the report folder' },
    save: { type: 'string', value: '<file.safetensors>', description: 'write the tuned model (weights, classes, architecture, preprocessing) to one safetensors file' },
    'on-error': { type: 'string', value: '<throw|skip>', default: 'throw', description: 'an image that does not decode: stop naming it, or skip it (listed on stderr)' },
    'no-png': { type: 'boolean', description: 'no PNG copies of the curves (they need Chrome)' },
    offline: { type: 'boolean', description: 'never download weights' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress bars' },
  },
};

function finetuneOptions({ values: v, flags }: Parsed): FinetuneOptions {
  if (!v.model || !v.data) throw new UsageError('needs --model and --data');
  const model = oneOf(v.model, 'model', ARCHS)!;
  const recipe = oneOf(v.recipe, 'recipe', RECIPES, 'recipes')!;
  const valFraction = positiveNumber(v['val-fraction'], 'val-fraction');
  if (valFraction >= 1) throw new UsageError(`--val-fraction must be below 1, got ${valFraction}`);
  return {
    model, data: v.data, weights: v.weights, recipe, cut: v.cut, save: v.save,
    epochs: positiveInt(v.epochs, 'epochs'), headEpochs: positiveInt(v['head-epochs'], 'head-epochs'),
    batchSize: positiveInt(v['batch-size'], 'batch-size'), lr: positiveNumber(v.lr, 'lr'), valFraction,
    seed: nonNegativeInt(v.seed, 'seed'), patience: nonNegativeInt(v.patience, 'patience'),
    size: v.size === undefined ? undefined : positiveInt(v.size, 'size'),
    out: v.out!, quiet: flags.quiet, onError: oneOf(v['on-error'], 'on-error', ['throw', 'skip'] as const, 'one of')!,
    freezeBatchNorm: flags['freeze-bn'], png: !flags['no-png'], offline: flags.offline,
  };
}

export function finetune(argv: string[], io: Io = processIo): Promise<number> {
  return runCommand(FINETUNE, argv, (a) => runFinetune(finetuneOptions(a), io), io);
}

async function runFinetune(o: FinetuneOptions, io: Io): Promise<number> {
  let gpu;
  try {
    const { epochs, headEpochs, batchSize, lr, seed, patience, recipe } = o;
    const weights = resolveWeights(o.weights, o.model, { offline: o.offline });
    gpu = await graft();
    const net = createModel(o.model, { gpu, includeTop: false, init: 'zeros' }) as unknown as ImageClassifier;
    const size = o.size ?? net.preprocessing.size[0];
    // Every image resized to the input size on load (Keras's image_size), gray copied to RGB.
    const data = await imageFolder(o.data, { size, channels: 3, onError: o.onError });
    for (const s of data.skipped) io.err(`graft finetune: skipped ${s.error}\n`);
    const split = trainValSplit(data, { valFraction: o.valFraction, stratified: true, seed });
    await loadBackbone(net, weights, !o.quiet);
    withHead(net, { classes: data.numClasses, seed });
    // What the saved model's predictions need: the whole image resized to the training size (no crop).
    net.preprocessing = { ...net.preprocessing, size: [size, size], crop: 'none' };
    const cut = o.cut ?? defaultCut(net);
    io.out(`${o.model} from ${weights.source}: ${recipe} fine-tuning${recipe === 'partial' || recipe === 'hybrid' ? ` from ${cut}` : ''} on ${o.data}\n`);
    io.out(`  ${data.numClasses} classes (${data.classNames!.join(', ')}), ${split.train.length} training / ${split.val.length} validation images, resized to ${size}x${size} on load${data.skipped.length ? `, ${data.skipped.length} undecodable skipped` : ''}\n`);
    const r = await runRecipe(recipe, net, { train: split.train, validation: split.val }, {
      epochs, headEpochs, lr, batchSize, seed, cut,
      preprocess: preprocessingAt(net, size),
      freezeBatchNorm: o.freezeBatchNorm,
      onFeatureProgress: (split) => stepBar(`caching ${split} features`, o.quiet),
      callbacks: [progress(io, o.quiet), ...(patience ? [earlyStopping({ monitor: 'val_loss', patience })] : [])],
      onPhase: ({ index, phase, trainable, cached }) => io.out(`phase ${index + 1}: training from ${phase.from || 'the input'} (${trainable.toLocaleString('en-US')} parameters) for ${phase.epochs} epoch${phase.epochs > 1 ? 's' : ''}${cached ? `, on features computed once in ${cached.seconds.toFixed(1)} s` : ''}\n`),
    });
    r.optimizer.dispose();
    io.out(`\n${formatHistory(r.history)}\n`);
    const out = o.out;
    const name = `${o.model} ${recipe}`;
    const report = await writeReport(out, { rows: [comparisonRow(name, r, r.seconds)], runs: [{ name, history: r.history }], split: { train: split.train.length, validation: split.val.length, name: o.data } }, {
      title: `graft finetune: ${name}`,
      png: o.png,
      renderPng: renderSvgs,
      sections: [{ title: 'Settings', markdown: `- model: ${o.model}, weights: ${weights.source}\n- recipe: ${recipe}${cut ? `, cut: ${cut}` : ''}, epochs: ${epochs}, head epochs: ${headEpochs}, lr: ${lr}, batch size: ${batchSize}\n- input: ${size}x${size}` }],
    });
    io.out(`report: ${path.join(out, 'index.html')}${report.png.rendered ? '' : ` (no PNG curves: ${report.png.reason})`}\n`);
    if (o.save) {
      // One self-describing file: weights, classes, architecture and preprocessing (graft classify --weights reads it back).
      const bytes = await encodeModel(net, data.classNames!);
      const { writeFileAtomic } = await import('../io/node/files.ts');
      await writeFileAtomic(o.save, bytes);
      io.out(`model: ${o.save} (graft classify --weights ${o.save} <image>...)\n`);
    }
    net.dispose();
    return 0;
  } finally {
    gpu?.destroy();
  }
}
