// `graft finetune --model <arch> --weights <dir> --data ./my-images --epochs 5 --recipe staged`:
// fine-tune a pre-trained network on a folder of PNGs per class (data/<class>/<image>.png), with
// a stratified validation split, and write the per-epoch table and learning curves to a report
// folder (what the commands share is in shared.ts).
import path from 'node:path';
import { graft } from '../graph/gpu.ts';
import { GraftError } from '../core/index.ts';
import { type ImageClassifier, ARCHS, createModel, withHead } from '../models/index.ts';
import { readStateDict } from '../weights/state-dict.ts';
import { encodeSafetensors } from '../weights/safetensors.ts';
import { earlyStopping } from '../train/callbacks.ts';
import { comparisonRow } from '../report/compare.ts';
import { trainValSplit } from '../data/data.ts';
import { imageFolder } from '../data/image-folder.ts';
import { formatHistory } from '../report/progress.ts';
import { RECIPES, runRecipe } from '../train/recipes.ts';
import { writeReport } from '../report/report.ts';
import { renderSvgs } from '../testing/browser.ts';
import { parseArgs } from './args.ts';
import { type Io, defaultCut, loadBackbone, nonNegativeInt, oneLine, positiveInt, positiveNumber, preprocessingAt, processIo, progress, resolveWeights } from './shared.ts';

// ---- graft finetune -----------------------------------------------------------------------------

export const FINETUNE_USAGE = `usage: graft finetune --model <arch> --data <folder of class folders> [--weights <file or folder>]
         [--recipe ${RECIPES.join('|')}] [--epochs 5] [--head-epochs 1] [--cut <stage>] [--size <pixels>]
         [--batch-size 16] [--lr 1e-3] [--val-fraction 0.2] [--patience <epochs>] [--freeze-bn] [--seed 0]
         [--out graft-report/finetune] [--save <weights.safetensors>] [--no-png]`;

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
}

function finetuneOptions(argv: string[]): FinetuneOptions {
  const a = parseArgs(argv, ['model', 'weights', 'data', 'recipe', 'epochs', 'head-epochs', 'cut', 'size', 'batch-size', 'lr', 'val-fraction', 'patience', 'seed', 'out', 'save'], ['freeze-bn', 'no-png', 'offline']);
  const v = a.options;
  if (a.positional.length) throw new GraftError(`unexpected argument '${a.positional[0]}'`);
  if (!v.model || !v.data) throw new GraftError('needs --model and --data');
  if (!(ARCHS as readonly string[]).includes(v.model)) throw new GraftError(`unknown --model '${v.model}' (known: ${ARCHS.join(', ')})`);
  const recipe = v.recipe ?? 'staged';
  if (!(RECIPES as readonly string[]).includes(recipe)) throw new GraftError(`unknown --recipe '${recipe}' (recipes: ${RECIPES.join(', ')})`);
  const valFraction = positiveNumber(v['val-fraction'], 'val-fraction', 0.2);
  if (valFraction >= 1) throw new GraftError(`--val-fraction must be below 1, got ${valFraction}`);
  return {
    model: v.model, data: v.data, weights: v.weights, recipe, cut: v.cut, save: v.save,
    epochs: positiveInt(v.epochs, 'epochs', 5), headEpochs: positiveInt(v['head-epochs'], 'head-epochs', 1),
    batchSize: positiveInt(v['batch-size'], 'batch-size', 16), lr: positiveNumber(v.lr, 'lr', 1e-3), valFraction,
    seed: nonNegativeInt(v.seed, 'seed', 0), patience: nonNegativeInt(v.patience, 'patience', 0),
    size: v.size === undefined ? undefined : positiveInt(v.size, 'size', 1),
    out: v.out ?? path.join('graft-report', 'finetune'),
    freezeBatchNorm: !!a.flags['freeze-bn'], png: !a.flags['no-png'], offline: !!a.flags.offline,
  };
}

export async function finetune(argv: string[], io: Io = processIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(`${FINETUNE_USAGE}\n`);
    return 0;
  }
  let o: FinetuneOptions;
  try {
    o = finetuneOptions(argv);
  } catch (e) {
    io.err(`graft finetune: ${oneLine(e)}\n${FINETUNE_USAGE}\n`);
    return 2;
  }
  let gpu;
  try {
    const { epochs, headEpochs, batchSize, lr, seed, patience, recipe } = o;
    const data = await imageFolder(o.data);
    const split = trainValSplit(data, { valFraction: o.valFraction, stratified: true, seed });
    const weights = resolveWeights(o.weights, o.model, { offline: o.offline });
    gpu = await graft();
    const net = createModel(o.model, { gpu, includeTop: false, init: 'zeros' }) as unknown as ImageClassifier;
    await loadBackbone(net, weights);
    withHead(net, { classes: data.numClasses, seed });
    const size = o.size ?? net.preprocessing.size[0];
    const cut = o.cut ?? defaultCut(net);
    const [c, h, w] = data.itemShape;
    io.out(`${o.model} from ${weights.source}: ${recipe} fine-tuning${recipe === 'partial' || recipe === 'hybrid' ? ` from ${cut}` : ''} on ${o.data}\n`);
    io.out(`  ${data.numClasses} classes (${data.classNames!.join(', ')}), ${split.train.length} training / ${split.val.length} validation images of ${w}x${h}x${c}, resized to ${size}x${size}\n`);
    const r = await runRecipe(recipe, net, { train: split.train, validation: split.val }, {
      epochs, headEpochs, lr, batchSize, seed, cut,
      preprocess: preprocessingAt(net, size),
      freezeBatchNorm: o.freezeBatchNorm,
      callbacks: [progress(io), ...(patience ? [earlyStopping({ monitor: 'val_loss', patience })] : [])],
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
      const bytes = encodeSafetensors(await readStateDict(net), { format: 'pt', 'graft.arch': o.model, 'graft.classes': JSON.stringify(data.classNames) });
      const { writeFileAtomic } = await import('../io/node/files.ts');
      await writeFileAtomic(o.save, bytes);
      io.out(`weights: ${o.save}\n`);
    }
    net.dispose();
    return 0;
  } catch (e) {
    io.err(`graft finetune: ${oneLine(e)}\n`);
    return 1;
  } finally {
    gpu?.destroy();
  }
}
