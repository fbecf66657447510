// `graft main-job` (npm start): transfer learning on the Fashion-MNIST subset shipped in
// data/fashion-mnist. darknet-tiny with its ImageNet weights, trained three ways (feature
// extraction: the head alone; partial: from a cut, the part below computed once; staged: the head,
// then everything), against the same network trained from scratch with the same epochs, data,
// optimizer and early stopping, in one table; a k-fold cross-validation of the head on the frozen
// features; zero-shot recognition of two held-out classes from attribute descriptions, an ensemble
// of the partial and scratch networks, and what freezing saves on a ResNet step. Prints the
// per-epoch tables and writes the report (table, curves, confusion heat map, misclassified images,
// index.html) to --out.
//
// Every epoch writes a checkpoint to <out>/checkpoints/; a finished run also writes <run>.done.json.
// --resume continues an interrupted run from its checkpoint (early stopping's state is rebuilt from
// the checkpoint's history) and reuses finished runs, so the result matches an uninterrupted run.
import fs from 'node:fs';
import path from 'node:path';
import { type Gpu, graft } from '../graph/gpu.ts';
import type { Module } from '../graph/module.ts';
import { GraftError } from '../core/index.ts';
import { DARKNET_PREPROCESSING, type DarknetTiny, darknetTiny } from '../models/darknet.ts';
import { withHead } from '../models/heads.ts';
import { BatchNorm2d } from '../models/layers.ts';
import { type GpuPreprocessing, fromModelPreprocessing } from '../data/augment.ts';
import { type Callback, type History, checkpoint, earlyStopping } from '../train/callbacks.ts';
import { loadCheckpoint, saveCheckpoint } from '../train/checkpoint.ts';
import { type Comparison, type RunConfig, type RunOutcome, compare, comparisonMarkdown } from '../report/compare.ts';
import { type Dataset, subset } from '../data/data.ts';
import { evaluateEnsemble } from '../train/ensemble.ts';
import { extractFeatures, headCut, tailFrom } from '../train/features.ts';
import { FASHION_MNIST_CLASSES, fashionMnist } from '../data/idx.ts';
import { confusionMatrix, formatConfusion, perClassAccuracy } from '../report/metrics.ts';
import { formatHistory } from '../report/progress.ts';
import { formatFreezingCost, freezingCost } from '../report/freezing-cost.ts';
import { type RecipeData, type RecipeResult, featureExtraction, fullFineTune, partialFineTune, stagedFineTune } from '../train/recipes.ts';
import { writeReport } from '../report/report.ts';
import { renderSvgs } from '../testing/browser.ts';
import { FASHION_ATTRIBUTE_NAMES, FASHION_UNSEEN, type ZeroShotResult, featureMatrix, zeroShot } from '../train/zero-shot.ts';
import { type CommandSpec, UsageError, nonNegativeInt, positiveInt, positiveNumber, runCommand } from './command.ts';
import { type Io, loadBackbone, processIo, progress, resolveWeights, stepBar } from './shared.ts';
import { type HeadCrossValidation, confusionFigure, crossValidateHead, crossValidationMarkdown, misclassifiedFigure } from './main-job-sections.ts';

export interface MainJobOptions {
  weights?: string;
  data: string;
  out: string;
  epochs: number;
  /** Items per class taken from the training file, and from the test file for validation. */
  trainPerClass: number;
  valPerClass: number;
  /** Input size: the 28x28 images are resized to size x size and read as RGB. */
  size: number;
  batchSize: number;
  lr: number;
  cut: string;
  /** Early stopping on val_loss after this many epochs without improvement (0: off). */
  patience: number;
  seed: number;
  resume: boolean;
  png: boolean;
  freezingCost: boolean;
  zeroShot: boolean;
  /** The recipe comparison (feature extraction, partial, staged) beside the scratch run. */
  recipes: boolean;
  /** k of the k-fold cross-validation of the head on the cached features (0: off). */
  folds: number;
  offline: boolean;
  quiet: boolean;
  /** End after this many epochs of training in this process (an interruption, for --resume). */
  stopAfter?: number;
}

// Chosen by measurement on a 2-core machine without a GPU (SwiftShader): at 32x32 one epoch of the
// scratch run over 1000 images takes ~30-45 s, at 48x48 about twice that; darknet-tiny at 224x224
// would take hours.
export const MAIN_JOB_DEFAULTS: MainJobOptions = {
  data: 'data/fashion-mnist', out: 'graft-report', epochs: 6, trainPerClass: 100, valPerClass: 50, size: 32, batchSize: 32, lr: 1e-3,
  cut: 'features.14', patience: 2, seed: 1, resume: false, png: true, freezingCost: true, zeroShot: true, recipes: true, folds: 5, offline: false, quiet: false,
};

/**
 * BatchNorm momentum for both runs: torch's 0.1 instead of the Keras file's 0.01 (0.99 in Keras
 * terms). With 0.01 the running statistics of a network whose weights are changing lag far behind:
 * measured here, the scratch network's validation accuracy stayed at 10% (one class) for 6 epochs.
 * Frozen BatchNorms are unaffected (they never update).
 */
const BN_MOMENTUM = 0.1;

function setBatchNormMomentum(net: Module, momentum: number): void {
  // BatchNorm2d.momentum is read-only to callers; it is a training hyperparameter, not a weight.
  for (const [, m] of net.namedModules()) if (m instanceof BatchNorm2d) m.momentum = momentum;
}

/** The first `perClass` items of each class, in file order. */
function balanced(ds: Dataset, perClass: number, name: string): Dataset {
  const seen = new Array<number>(ds.numClasses).fill(0);
  const picked: number[] = [];
  for (let i = 0; i < ds.length; i++) if (seen[ds.label(i)]++ < perClass) picked.push(i);
  const short = seen.findIndex((n) => n < perClass);
  if (short >= 0) throw new GraftError(`${ds.name}: class ${short} has only ${seen[short]} items, ${perClass} per class were asked for`);
  return subset(ds, picked, name);
}

/** earlyStopping that, when fit resumes, first replays the history so far (its patience counter and best value continue). */
function resumableEarlyStopping(patience: number): Callback {
  const inner = earlyStopping({ monitor: 'val_loss', patience });
  return {
    onTrainBegin(s) {
      inner.onTrainBegin!(s);
      const shadow = { ...s, stop: false };
      for (const log of s.history.epochs) inner.onEpochEnd!(log, shadow);
    },
    onEpochEnd: (log, s) => inner.onEpochEnd!(log, s),
    onTrainEnd: (s) => inner.onTrainEnd!(s),
    dispose: () => inner.dispose!(),
  };
}

/** A callback that ends the process's work after `n` epochs, as an interruption would. */
function stopAfter(n: number): Callback {
  let done = 0;
  return {
    onEpochEnd(log) {
      if (++done >= n) throw new GraftError(`interrupted after epoch ${log.epoch + 1} (--stop-after ${n}); the checkpoint is saved: run again with --resume to continue`);
    },
  };
}

interface RunSetup {
  /** The run's name in the table and the curves, and its checkpoint's file name. */
  id: string;
  /** What the run is, under the table. */
  description: string;
  model: DarknetTiny;
  /** The stage the trained part starts at ('' for everything). */
  from: string;
  train(split: RecipeData, extra: { callbacks: Callback[]; resumeFrom?: string }): Promise<RecipeResult>;
  /** Several phases (staged): trained parts differ from phase to phase, so the checkpoint is written once, at the end, and an interrupted run starts again. */
  multiPhase?: boolean;
}

/** One comparison entry: resume or reuse from <out>/checkpoints, print the table, record completion. */
function resumableRun(r: RunSetup, o: MainJobOptions, io: Io, results: Map<string, RecipeResult>): RunConfig {
  const dir = path.join(o.out, 'checkpoints');
  const ckpt = path.join(dir, `${r.id}.safetensors`);
  const doneFile = path.join(dir, `${r.id}.done.json`);
  // The checkpoints hold what trains: the whole network, or the part from the cut (the rest is the pre-trained weights).
  const trainedPart = () => (r.from ? tailFrom(r.model, r.from, []) : r.model);
  return {
    name: r.id,
    async run(split) {
      fs.mkdirSync(dir, { recursive: true });
      if (o.resume && fs.existsSync(doneFile) && fs.existsSync(ckpt)) {
        const done = JSON.parse(fs.readFileSync(doneFile, 'utf8')) as RunOutcome & { history: History };
        await loadCheckpoint(ckpt, trainedPart());
        io.out(`\n== ${r.id} (${r.description}): finished before, reused from ${ckpt}\n${formatHistory(done.history)}\n`);
        return done;
      }
      const resumeFrom = o.resume && fs.existsSync(ckpt) && !r.multiPhase ? ckpt : undefined;
      fs.rmSync(doneFile, { force: true }); // from an earlier job in this folder: no longer true
      if (r.multiPhase) fs.rmSync(ckpt, { force: true });
      io.out(`\n== ${r.id} (${r.description})${resumeFrom ? `, resuming from ${ckpt}` : ''}\n`);
      // Order matters: the checkpoint of an epoch is written before an interruption after it.
      const callbacks = [progress(io, o.quiet), ...(o.patience ? [resumableEarlyStopping(o.patience)] : []), ...(r.multiPhase ? [] : [checkpoint(ckpt)]), ...(o.stopAfter ? [stopAfter(o.stopAfter)] : [])];
      const result = await r.train(split, { callbacks, resumeFrom });
      if (r.multiPhase) await saveCheckpoint(ckpt, r.model, null, { epoch: result.history.epochs.length, history: result.history.epochs, seed: o.seed });
      result.optimizer.dispose();
      results.set(r.id, result);
      const featureSeconds = result.phases.reduce((a, p) => a + p.featureSeconds, 0);
      const outcome: RunOutcome = {
        history: result.history,
        parameters: result.parameters,
        trainableParameters: result.trainableParameters,
        seconds: result.seconds,
        note: `${r.description}${featureSeconds ? `; the frozen part (below ${result.phases.find((p) => p.featureSeconds)!.features!.train.cut}) ran once over the data: ${featureSeconds.toFixed(1)} s of the train time` : ''}`,
      };
      io.out(`${formatHistory(result.history)}\n`);
      fs.writeFileSync(doneFile, JSON.stringify(outcome));
      return outcome;
    },
  };
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

function zeroShotMarkdown(z: ZeroShotResult): string {
  const names = (cs: number[]) => cs.map((c) => FASHION_MNIST_CLASSES[c]).join(', ');
  return [
    `Held out: ${names(z.unseen)} (never seen in training). An attribute head (Linear, mean squared error) learned the ${FASHION_ATTRIBUTE_NAMES.length} attributes of each class`,
    `(src/train/zero-shot.ts: ${FASHION_ATTRIBUTE_NAMES.join(', ')}) from the frozen ImageNet features of the ${z.seen.length} seen classes; an image gets the class whose attribute vector is most similar (cosine) to the predicted one.`,
    '',
    '| task | accuracy | chance |',
    '|---|---:|---:|',
    `| ZSL: unseen images among the ${z.unseen.length} unseen classes | **${pct(z.zsl.accuracy)}** | ${pct(z.zsl.chance)} |`,
    ...z.zsl.perClass.map((p) => `| — ${FASHION_MNIST_CLASSES[p.cls]} (${p.items} images) | ${pct(p.accuracy)} | |`),
    `| GZSL: unseen images among all 10 classes | ${pct(z.gzsl.unseenAccuracy)} | ${pct(z.gzsl.chance)} |`,
    `| GZSL: seen images among all 10 classes | ${pct(z.gzsl.seenAccuracy)} | ${pct(z.gzsl.chance)} |`,
    `| GZSL harmonic mean | ${pct(z.gzsl.harmonicMean)} | |`,
  ].join('\n');
}

export interface MainJobResult {
  comparison: Comparison;
  crossValidation: HeadCrossValidation | null;
  zeroShot: ZeroShotResult | null;
  files: string[];
  seconds: number;
}

/** Run the main job (see the top of this file). `shared`: a device to use and leave open (tests); by default one is opened and closed. */
export async function runMainJob(o: MainJobOptions, io: Io, shared?: Gpu): Promise<MainJobResult> {
  const started = performance.now();
  const weights = resolveWeights(o.weights, 'darknet-tiny', { offline: o.offline });
  const [trainFile, testFile] = await Promise.all([fashionMnist(o.data, 'train'), fashionMnist(o.data, 'test')]);
  const split: RecipeData = { train: balanced(trainFile, o.trainPerClass, 'Fashion-MNIST training file'), validation: balanced(testFile, o.valPerClass, 'Fashion-MNIST test file, used for validation') };
  let own: Gpu | null = null;
  try {
    const gpu = shared ?? (own = await graft());
    const preprocess: GpuPreprocessing = { ...fromModelPreprocessing(DARKNET_PREPROCESSING), size: [o.size, o.size] };
    const imagenet = async () => {
      const net = darknetTiny({ gpu, includeTop: false, init: 'zeros' });
      await loadBackbone(net, weights, !o.quiet);
      withHead(net, { classes: 10, seed: o.seed + 1 });
      setBatchNormMomentum(net, BN_MOMENTUM);
      return net;
    };
    const transfer = await imagenet();
    const extraction = o.recipes ? await imagenet() : null;
    const staged = o.recipes ? await imagenet() : null;
    const scratch = withHead(darknetTiny({ gpu, includeTop: false, seed: o.seed }), { classes: 10, seed: o.seed + 1 });
    setBatchNormMomentum(scratch, BN_MOMENTUM);
    io.out(`Fashion-MNIST (${o.data}): ${split.train.length} training images (from the training file), ${split.validation!.length} validation images (from the test file), 28x28 gray -> ${o.size}x${o.size} RGB\n`);
    io.out(`darknet-tiny ImageNet weights: ${weights.source}; ${o.epochs} epochs, Adam lr ${o.lr}, batch ${o.batchSize}, early stopping on val_loss (patience ${o.patience})\n`);

    const common = { epochs: o.epochs, lr: o.lr, batchSize: o.batchSize, seed: o.seed, preprocess, backboneLrScale: 1, onFeatureProgress: (split: 'train' | 'validation') => stepBar(`caching ${split} features`, o.quiet) };
    const results = new Map<string, RecipeResult>();
    const runs = [
      ...(extraction ? [resumableRun({ id: 'feature-extraction', description: 'ImageNet darknet-tiny frozen, only the new head trained', model: extraction, from: headCut(extraction), train: (s, extra) => featureExtraction(extraction, s, { ...common, ...extra }) }, o, io, results)] : []),
      resumableRun({ id: 'partial', description: `ImageNet darknet-tiny, ${o.cut} onward trained, the rest frozen`, model: transfer, from: o.cut, train: (s, extra) => partialFineTune(transfer, s, { ...common, ...extra, cut: o.cut }) }, o, io, results),
      ...(staged ? [resumableRun({ id: 'staged', description: 'ImageNet darknet-tiny, the new head alone for 1 epoch, then everything', model: staged, from: '', train: (s, extra) => stagedFineTune(staged, s, { ...common, callbacks: extra.callbacks, headEpochs: 1 }), multiPhase: true }, o, io, results)] : []),
      resumableRun({ id: 'scratch', description: 'the same network from a random initialisation, everything trained', model: scratch, from: '', train: (s, extra) => fullFineTune(scratch, s, { ...common, ...extra }) }, o, io, results),
    ];
    const comparison = await compare(runs, split);
    const row = (name: string) => comparison.rows.find((r) => r.name === name)!;
    const [t, s] = [row('partial'), row('scratch')];
    const verdict = t.bestValAccuracy > s.bestValAccuracy
      ? `Transfer beats training from scratch: best validation accuracy ${pct(t.bestValAccuracy)} (partial fine-tuning) vs ${pct(s.bestValAccuracy)} (+${((t.bestValAccuracy - s.bestValAccuracy) * 100).toFixed(1)} points), same data and epoch budget, in ${t.seconds.toFixed(0)} s vs ${s.seconds.toFixed(0)} s.`
      : `Transfer did NOT beat training from scratch this time: best validation accuracy ${pct(t.bestValAccuracy)} (partial fine-tuning) vs ${pct(s.bestValAccuracy)}.`;
    io.out(`\n${comparisonMarkdown(comparison)}\n\n${verdict}\n`);

    const sections = [{ title: 'Verdict', markdown: verdict }];
    if (o.recipes) {
      sections.push({ title: 'Recipes', markdown: 'The table compares the fine-tuning recipes on the same data, epochs, optimizer and early stopping: **feature extraction** (the ImageNet network frozen, a new head trained on its features, computed once), **partial** (the network from `' + o.cut + '` on trained, the part below frozen and computed once), **staged** (the head alone for one epoch, then everything, with the same learning rate), and the **scratch** baseline (the same network from random weights).' });
    }

    let cv: HeadCrossValidation | null = null;
    if (o.folds >= 2) {
      // The frozen ImageNet features of the training images at the head: the feature-extraction run's (computed once), else computed now.
      const cvNet = extraction ?? (await imagenet());
      const feats = results.get('feature-extraction')?.phases[0].features?.train ?? (await extractFeatures(cvNet, split.train, { cut: headCut(cvNet), preprocess }));
      cv = await crossValidateHead(cvNet, feats, { k: o.folds, epochs: o.epochs, lr: o.lr, batchSize: o.batchSize, seed: o.seed, bar: stepBar(`${o.folds}-fold cross-validation`, o.quiet) });
      if (!extraction) cvNet.dispose();
      sections.push({ title: `${o.folds}-fold cross-validation of the head`, markdown: crossValidationMarkdown(cv, o.epochs) });
      io.out(`${o.folds}-fold cross-validation of a new head on the frozen ImageNet features: ${pct(cv.mean)} ± ${(cv.std * 100).toFixed(1)} (${cv.folds.map((f) => pct(f.accuracy)).join(', ')})\n`);
    }

    // The final networks on the validation images: per-class accuracy, and the two as an ensemble.
    const ensemble = await evaluateEnsemble([{ name: 'partial', model: transfer, preprocess }, { name: 'scratch', model: scratch, preprocess }], split.validation!);
    const labels = Int32Array.from({ length: split.validation!.length }, (_, i) => split.validation!.label(i));
    const perClass = ensemble.members.map((m) => perClassAccuracy(confusionMatrix(m.predictions, labels, 10)));
    const matrix = confusionMatrix(ensemble.members[0].predictions, labels, 10);
    const wrong = await misclassifiedFigure(split.validation!, ensemble.members[0].predictions, FASHION_MNIST_CLASSES, 'partial');
    const figures = [confusionFigure(matrix, FASHION_MNIST_CLASSES, 'partial'), wrong];
    sections.push({
      title: 'Final networks on the validation images',
      markdown: [
        '| class | partial | scratch |', '|---|---:|---:|',
        ...FASHION_MNIST_CLASSES.map((c, i) => `| ${c} | ${pct(perClass[0][i] ?? 0)} | ${pct(perClass[1][i] ?? 0)} |`),
        '', `Ensemble (probabilities averaged): ${pct(ensemble.accuracy)}; members ${ensemble.members.map((m) => `${m.name} ${pct(m.accuracy)}`).join(', ')}.`,
        '', 'Confusion matrix of the partial fine-tuned network (rows: true class, columns: predicted; drawn as a heat map in confusion.svg):', '',
        ...formatConfusion(matrix, FASHION_MNIST_CLASSES).split('\n').map((l) => `    ${l}`),
        '', `${wrong.shown} misclassified validation images with their true and predicted class: misclassified.svg.`,
      ].join('\n'),
    });
    io.out(`ensemble of partial and scratch: ${pct(ensemble.accuracy)} (${ensemble.members.map((m) => `${m.name} ${pct(m.accuracy)}`).join(', ')})\n`);

    let zs: ZeroShotResult | null = null;
    if (o.zeroShot) {
      // Features of the frozen ImageNet part only (never trained on the held-out classes).
      const cached = results.get('partial')?.phases[0].features;
      const feats = cached ?? { train: await extractFeatures(transfer, split.train, { cut: o.cut, preprocess }), validation: await extractFeatures(transfer, split.validation!, { cut: o.cut, preprocess }) };
      const bar = stepBar('zero-shot', o.quiet);
      bar.update(0, 1, 'attribute head');
      zs = await zeroShot(gpu, await featureMatrix(feats.train.dataset), await featureMatrix(feats.validation!.dataset), { unseen: FASHION_UNSEEN, seed: o.seed });
      bar.end();
      sections.push({ title: 'Zero-shot: two classes never seen in training', markdown: zeroShotMarkdown(zs) });
      io.out(`zero-shot (${zs.unseen.map((c) => FASHION_MNIST_CLASSES[c]).join(' and ')} held out): ZSL ${pct(zs.zsl.accuracy)} (chance ${pct(zs.zsl.chance)}), GZSL unseen ${pct(zs.gzsl.unseenAccuracy)} / seen ${pct(zs.gzsl.seenAccuracy)} (chance ${pct(zs.gzsl.chance)})\n`);
    }
    if (o.freezingCost) {
      const cost = await freezingCost(gpu, { input: [2, 3, 64, 64], steps: 2 });
      sections.push({ title: 'What freezing saves', markdown: formatFreezingCost(cost) });
      io.out(`${formatFreezingCost(cost).split('\n').pop()}\n`);
    }
    sections.push({ title: 'Settings', markdown: `- data: ${o.data}: ${o.trainPerClass} training images per class from the training file, ${o.valPerClass} validation images per class from the test file, ${o.size}x${o.size}\n- weights: ${weights.source}\n- epochs ${o.epochs}, Adam lr ${o.lr}, batch ${o.batchSize}, seed ${o.seed}, early stopping patience ${o.patience}, BatchNorm momentum ${BN_MOMENTUM}${o.folds >= 2 ? `, ${o.folds}-fold cross-validation` : ''}` });
    const report = await writeReport(o.out, comparison, { title: 'Graft main job: transfer learning on Fashion-MNIST', sections, figures, png: o.png, renderPng: renderSvgs, extra: { crossValidation: cv, zeroShot: zs, ensemble: { accuracy: ensemble.accuracy, members: ensemble.members.map((m) => ({ name: m.name, accuracy: m.accuracy })) }, settings: o } });
    const seconds = (performance.now() - started) / 1000;
    io.out(`report: ${path.join(o.out, 'index.html')}${report.png.rendered ? '' : ` (no PNG curves: ${report.png.reason})`}\ndone in ${seconds.toFixed(0)} s\n`);
    for (const net of [transfer, scratch, extraction, staged]) net?.dispose();
    return { comparison, crossValidation: cv, zeroShot: zs, files: report.files, seconds };
  } finally {
    own?.destroy();
  }
}

const d = MAIN_JOB_DEFAULTS;
export const MAIN_JOB: CommandSpec = {
  name: 'main-job',
  summary: 'The main job (npm start): ImageNet darknet-tiny transfer vs training from scratch on Fashion-MNIST, recipes, cross-validation, zero-shot, ensemble; writes the report to --out.',
  positionals: '',
  options: {
    weights: { type: 'string', short: 'w', value: '<folder>', description: 'darknet-tiny weights (default: $GRAFT_WEIGHTS_DIR/darknet-tiny, else downloaded)' },
    data: { type: 'string', value: '<folder>', default: d.data, description: 'the Fashion-MNIST idx files' },
    out: { type: 'string', short: 'o', value: '<folder>', default: d.out, description: 'the report folder' },
    epochs: { type: 'string', short: 'e', value: '<n>', default: String(d.epochs), description: 'epochs per run' },
    'train-per-class': { type: 'string', value: '<n>', default: String(d.trainPerClass), description: 'training images per class (from the training file)' },
    'val-per-class': { type: 'string', value: '<n>', default: String(d.valPerClass), description: 'validation images per class (from the test file)' },
    size: { type: 'string', value: '<pixels>', default: String(d.size), description: 'input size (28x28 gray resized, read as RGB)' },
    'batch-size': { type: 'string', short: 'b', value: '<n>', default: String(d.batchSize), description: 'images per step' },
    lr: { type: 'string', value: '<rate>', default: String(d.lr), description: 'Adam learning rate' },
    cut: { type: 'string', value: '<stage>', default: d.cut, description: 'where the transfer run starts training' },
    patience: { type: 'string', value: '<epochs>', default: String(d.patience), description: 'early stopping on val_loss (0: off)' },
    folds: { type: 'string', value: '<k>', default: String(d.folds), description: 'k of the cross-validation of the head (0: off)' },
    seed: { type: 'string', value: '<n>', default: String(d.seed), description: 'seed of initialisation and shuffling' },
    resume: { type: 'boolean', description: 'continue an interrupted run from its checkpoints' },
    'stop-after': { type: 'string', value: '<epochs>', description: 'stop after this many epochs (to try --resume)' },
    'no-png': { type: 'boolean', description: 'no PNG copies of the curves (they need Chrome)' },
    'no-zero-shot': { type: 'boolean', description: 'skip the zero-shot section' },
    'no-recipes': { type: 'boolean', description: 'skip the recipe comparison' },
    'no-freezing-cost': { type: 'boolean', description: 'skip the freezing-cost measurement' },
    offline: { type: 'boolean', description: 'never download weights' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress bars' },
  },
};

export function mainJob(argv: string[], io: Io = processIo): Promise<number> {
  return runCommand(MAIN_JOB, argv, async ({ values: v, flags }) => {
    const o: MainJobOptions = {
      weights: v.weights, data: v.data!, out: v.out!, cut: v.cut!,
      epochs: positiveInt(v.epochs, 'epochs'), trainPerClass: positiveInt(v['train-per-class'], 'train-per-class'),
      valPerClass: positiveInt(v['val-per-class'], 'val-per-class'), size: positiveInt(v.size, 'size'),
      batchSize: positiveInt(v['batch-size'], 'batch-size'), lr: positiveNumber(v.lr, 'lr'),
      patience: nonNegativeInt(v.patience, 'patience'), seed: nonNegativeInt(v.seed, 'seed'), folds: nonNegativeInt(v.folds, 'folds'),
      stopAfter: v['stop-after'] === undefined ? undefined : positiveInt(v['stop-after'], 'stop-after'),
      resume: flags.resume, png: !flags['no-png'], zeroShot: !flags['no-zero-shot'], recipes: !flags['no-recipes'], freezingCost: !flags['no-freezing-cost'], offline: flags.offline, quiet: flags.quiet,
    };
    if (o.folds === 1) throw new UsageError('--folds must be 0 (off) or at least 2');
    await runMainJob(o, io);
    return 0;
  }, io);
}
