// `graft finetune --model <arch> --weights <dir> --data ./my-images --epochs 5 --recipe staged`:
// fine-tune a pre-trained network on a folder of PNGs per class (data/<class>/<image>.png), with
// a stratified validation split, and write the per-epoch table and learning curves to a report
// folder. Also what the training commands share: where weights come from (--weights, the
// GRAFT_WEIGHTS_DIR folder, or darknet-tiny's public URL, downloaded once and cached), loading a
// backbone, and errors as one line.
import fs from 'node:fs';
import path from 'node:path';
import { graft } from '../graph/gpu.ts';
import type { Module } from '../graph/module.ts';
import { GraftError } from '../core/index.ts';
import { type ImageClassifier, ARCHS, createModel, withHead } from '../models/index.ts';
import { loadPretrained } from '../models/pretrained.ts';
import { readStateDict } from '../models/state-dict.ts';
import { encodeSafetensors } from '../models/weights/safetensors.ts';
import { type GpuPreprocessing, fromModelPreprocessing } from '../train/augment.ts';
import { type Callback, earlyStopping } from '../train/callbacks.ts';
import { comparisonRow } from '../train/compare.ts';
import { trainValSplit } from '../train/data.ts';
import { imageFolder } from '../train/image-folder.ts';
import { formatHistory, progressBar } from '../train/progress.ts';
import { RECIPES, runRecipe } from '../train/recipes.ts';
import { writeReport } from '../train/report.ts';
import { parseArgs, progressPrinter } from './args.ts';

// ---- shared by the training commands ------------------------------------------------------------

/** Where ml5.js publishes the same TF.js darknet-tiny (used when no local folder is given). */
export const DARKNET_TINY_URL = 'https://cdn.jsdelivr.net/gh/ml5js/ml5-data-and-models@master/models/darknetclassifier/darknettiny/model.json';

export const WEIGHTS_HOWTO =
  "pass the darknet-tiny weights with --weights <folder holding model.json> (in this repository's environment: --weights ../shared/pretrained/darknet-tiny), " +
  'or set GRAFT_WEIGHTS_DIR to a folder that holds darknet-tiny/ (GRAFT_WEIGHTS_DIR=../shared/pretrained npm start)';

export interface WeightsChoice {
  /** A local weight file or model.json folder, or a URL. */
  source: string;
  how: 'flag' | 'env' | 'url';
}

/** A file, or a folder holding model.json or <arch>/model.json. */
function localWeights(given: string, arch: string, what: string): string {
  if (!fs.existsSync(given)) throw new GraftError(`${what}${given}: no such file or folder`);
  if (!fs.statSync(given).isDirectory()) return given;
  for (const dir of [given, path.join(given, arch)]) if (fs.existsSync(path.join(dir, 'model.json'))) return dir;
  throw new GraftError(`${what}${given}: neither ${path.join(given, 'model.json')} nor ${path.join(given, arch, 'model.json')} exists`);
}

/** --weights, else $GRAFT_WEIGHTS_DIR (or its <arch>/), else for darknet-tiny and not offline the public URL ($GRAFT_WEIGHTS_URL overrides it). */
export function resolveWeights(flag: string | undefined, arch: string, { offline = false, env = process.env }: { offline?: boolean; env?: NodeJS.ProcessEnv } = {}): WeightsChoice {
  if (flag) return { source: localWeights(flag, arch, '--weights '), how: 'flag' };
  if (env.GRAFT_WEIGHTS_DIR) return { source: localWeights(env.GRAFT_WEIGHTS_DIR, arch, 'GRAFT_WEIGHTS_DIR='), how: 'env' };
  if (arch !== 'darknet-tiny') throw new GraftError(`no weights for ${arch}: pass --weights <file or folder>, or set GRAFT_WEIGHTS_DIR to a folder that holds ${arch}/`);
  if (offline || env.GRAFT_OFFLINE === '1') throw new GraftError(`no darknet-tiny weights and offline (${DARKNET_TINY_URL} not tried): ${WEIGHTS_HOWTO}`);
  return { source: env.GRAFT_WEIGHTS_URL ?? DARKNET_TINY_URL, how: 'url' };
}

/** An error as one line (GraftError messages may span lines); GRAFT_DEBUG=1 gives the stack instead. */
export function oneLine(e: unknown): string {
  const err = e as Error;
  if (process.env.GRAFT_DEBUG === '1' && err?.stack) return err.stack;
  return String(err?.message ?? e).replace(/^graft: /, '').split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
}

/**
 * Load pre-trained weights into a network built without its classifier (includeTop: false): every
 * parameter and buffer must load (the file's classifier is left out). A failed download says how
 * to pass the weights instead.
 */
export async function loadBackbone(net: Module, choice: WeightsChoice, showProgress = true): Promise<number> {
  let report;
  try {
    report = await loadPretrained(net, choice.source, { strict: false, onProgress: progressPrinter(showProgress) });
  } catch (e) {
    if (choice.how !== 'url') throw e;
    throw new GraftError(`could not download ${choice.source} (${oneLine(e)}): ${WEIGHTS_HOWTO}`);
  }
  const problems = [...report.missing.map((n) => `missing ${n}`), ...report.mismatched];
  if (problems.length) throw new GraftError(`the weights in ${choice.source} do not fit the backbone: ${problems.slice(0, 4).join('; ')}${problems.length > 4 ? `; ... (${problems.length} in all)` : ''}`);
  return report.loaded;
}

/** A model's own preprocessing at another input size (datasets give values in [0, 1]; gray is read for every channel). */
export function preprocessingAt(net: ImageClassifier, size: number): GpuPreprocessing {
  return { ...fromModelPreprocessing(net.preprocessing), size: [size, size] };
}

/** Where partial and hybrid cut by default: the last stage before the head (darknet features.14, ResNet layer4, VGG the last conv block). */
export function defaultCut(net: ImageClassifier): string {
  const inside = net.cutPoints.filter((c) => c.includes('.') || /^layer\d$/.test(c));
  return inside[inside.length - 1] ?? net.cutPoints[0];
}

export function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new GraftError(`--${name} must be a positive integer, got '${value}'`);
  return n;
}

export function nonNegativeInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new GraftError(`--${name} must be an integer >= 0, got '${value}'`);
  return n;
}

export function positiveNumber(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(n > 0 && Number.isFinite(n))) throw new GraftError(`--${name} must be a positive number, got '${value}'`);
  return n;
}

// ---- graft finetune -----------------------------------------------------------------------------

export const FINETUNE_USAGE = `usage: graft finetune --model <arch> --data <folder of class folders> [--weights <file or folder>]
         [--recipe ${RECIPES.join('|')}] [--epochs 5] [--head-epochs 1] [--cut <stage>] [--size <pixels>]
         [--batch-size 16] [--lr 1e-3] [--val-fraction 0.2] [--patience <epochs>] [--freeze-bn] [--seed 0]
         [--out graft-report/finetune] [--save <weights.safetensors>] [--no-png]`;

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = { out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t) };

/** Per-epoch lines to the command's output (with a live bar when that is a terminal). */
export function progress(io: Io): Callback {
  const tty = io.out === processIo.out && !!process.stdout.isTTY;
  return progressBar({ stream: { write: (t: string) => io.out(t), isTTY: tty, columns: process.stdout.columns } });
}

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
      sections: [{ title: 'Settings', markdown: `- model: ${o.model}, weights: ${weights.source}\n- recipe: ${recipe}${cut ? `, cut: ${cut}` : ''}, epochs: ${epochs}, head epochs: ${headEpochs}, lr: ${lr}, batch size: ${batchSize}\n- input: ${size}x${size}` }],
    });
    io.out(`report: ${path.join(out, 'index.html')}${report.png.rendered ? '' : ` (no PNG curves: ${report.png.reason})`}\n`);
    if (o.save) {
      const bytes = encodeSafetensors(await readStateDict(net), { format: 'pt', 'graft.arch': o.model, 'graft.classes': JSON.stringify(data.classNames) });
      const { writeFileAtomic } = await import('../models/weights/node-io.ts');
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
