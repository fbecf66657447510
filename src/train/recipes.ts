// Fine-tuning recipes over a model with named cut points (features.ts): each is a list of phases,
// a phase trains the stages from its cut on for some epochs, with everything below frozen.
//
//   featureExtraction  [head]                     backbone frozen, its features computed once
//   fullFineTune       [everything]
//   partial(cut)       [from cut]                 e.g. 'layer3', 'features.24'
//   staged             [head] then [everything]   the backbone at backboneLrScale (x0.1) of the rate
//   hybrid(cut)        [head] then [from cut]     staged, but the part below the cut stays frozen
//
// One optimizer serves every phase: a parameter group gives the backbone (everything before the
// head) its lower rate, and the optimizer follows freeze/unfreeze by itself. When a phase freezes
// a part of the model and there is no random augmentation, that part runs ONCE over the data
// (extractFeatures) and only the rest trains, on the cached outputs (`cache`, default true).
// A frozen BatchNorm stays in inference mode (layers.ts), so caching changes no result.
import type { Module } from '../graph/module.ts';
import { GraftError } from '../core/index.ts';
import { BatchNorm2d } from '../models/layers.ts';
import type { Augmentation, GpuPreprocessing } from '../data/augment.ts';
import type { Callback, EpochLog, History } from './callbacks.ts';
import type { Dataset } from '../data/data.ts';
import { type FeatureSet, cutIndex, extractFeatures, headCut, modelStages, parameterNamesFrom, tailFrom, trainFrom } from './features.ts';
import { fit } from './fit.ts';
import type { Loss } from './losses.ts';
import { type Optimizer, type ParamGroup, adam } from './optim.ts';

export interface RecipeData {
  train: Dataset;
  validation?: Dataset;
}

export interface Phase {
  /** The first trained stage ('' for all; see features.ts for the names). */
  from: string;
  epochs: number;
}

export interface RecipeOptions {
  /** Epochs of the (last) phase; staged and hybrid spend headEpochs on the head first. */
  epochs: number;
  /** Head-only epochs before the wider phase of staged / hybrid (default 1). */
  headEpochs?: number;
  /** Learning rate of the default optimizer, Adam (default 1e-3). */
  lr?: number;
  /** The backbone's (every stage before the head) share of the learning rate (default 0.1). */
  backboneLrScale?: number;
  /** Build the optimizer from the recipe's parameter groups (default adam({ lr, groups })). */
  optimizer?: (groups: ParamGroup[]) => Optimizer;
  batchSize?: number;
  seed?: number;
  loss?: Loss;
  /** Applied to raw image batches (the tail on cached features gets none). */
  preprocess?: GpuPreprocessing;
  /** A progress display for each feature-caching pass ('train' / 'validation'): update per batch, then end. */
  onFeatureProgress?: (split: 'train' | 'validation') => { update(done: number, total: number): void; end(): void };
  /** Random augmentation: every phase then runs the whole model (nothing can be cached). */
  augment?: Augmentation;
  /**
   * Keep every BatchNorm in inference mode, its scale and shift frozen, also in the trained part
   * (Keras' advice for fine-tuning: batch statistics of a small new dataset would wreck the
   * pre-trained running statistics). Default false.
   */
  freezeBatchNorm?: boolean;
  /** Compute frozen parts once (default true; ignored with augment). */
  cache?: boolean;
  /** Given to every phase's fit (instances are reused: earlyStopping resets at each phase's start). */
  callbacks?: Callback[];
  /** Continue a single-phase recipe from a checkpoint (fit's resumeFrom). */
  resumeFrom?: string | Uint8Array;
  verbose?: boolean;
  /** Called before each phase (e.g. to print it). */
  onPhase?: (info: { index: number; phase: Phase; trainable: number; cached: FeatureSet | null }) => void | Promise<void>;
}

export interface PhaseResult extends Phase {
  history: History;
  /** Elements of the trainable parameters during the phase. */
  trainable: number;
  /** Seconds spent computing the frozen part's outputs (0 when nothing was cached or they were reused). */
  featureSeconds: number;
  /** The frozen part's outputs the phase trained on, when cached. */
  features: { train: FeatureSet; validation?: FeatureSet } | null;
}

export interface RecipeResult {
  /** Every phase's epochs in one history, numbered on from phase to phase. */
  history: History;
  phases: PhaseResult[];
  /** Elements of all the model's parameters, and of the most that trained at once. */
  parameters: number;
  trainableParameters: number;
  /** Wall time of the whole recipe, feature extraction included. */
  seconds: number;
  optimizer: Optimizer;
}

/** Train `model` through phases (see the top of this file). The model keeps what it learned; everything ends trainable as in the last phase. */
export async function runPhases(model: Module, data: RecipeData, phases: Phase[], o: RecipeOptions): Promise<RecipeResult> {
  if (!phases.length) throw new GraftError('recipe: no phases');
  for (const p of phases) if (!(Number.isInteger(p.epochs) && p.epochs >= 1)) throw new GraftError(`recipe: phase from '${p.from}' has ${p.epochs} epochs; each phase needs an integer >= 1`);
  if (o.resumeFrom !== undefined && phases.length > 1) throw new GraftError('recipe: resumeFrom works with single-phase recipes (featureExtraction, fullFineTune, partial)');
  const started = performance.now();
  const stages = modelStages(model);
  const headNames = parameterNamesFrom(stages, cutIndex(stages, headCut(model)));
  const groups: ParamGroup[] = [{ match: (name) => !headNames.has(name), lrScale: o.backboneLrScale ?? 0.1 }];
  const optimizer = o.optimizer ? o.optimizer(groups) : adam({ lr: o.lr ?? 1e-3, groups });
  const cache = (o.cache ?? true) && !o.augment;
  const history: History = { epochs: [] };
  const results: PhaseResult[] = [];
  let trainableMax = 0;
  let lowestTrained = Infinity;
  for (const [index, phase] of phases.entries()) {
    let trainable = trainFrom(model, phase.from);
    if (o.freezeBatchNorm) trainable -= freezeBatchNorms(model);
    trainableMax = Math.max(trainableMax, trainable);
    const k = cutIndex(stages, phase.from);
    let cached: { train: FeatureSet; validation?: FeatureSet } | null = null;
    let featureSeconds = 0;
    if (cache && k > 0) {
      const fo = { cut: stages[k].name, batchSize: Math.max(o.batchSize ?? 32, 64), preprocess: o.preprocess };
      // Reuse an earlier phase's outputs at the same cut unless a phase since trained a stage below it.
      const reuse = lowestTrained >= k ? results.find((r) => r.features && r.features.train.cut === fo.cut)?.features : undefined;
      if (reuse) cached = reuse;
      else {
        const extract = async (split: 'train' | 'validation', d: Dataset) => {
          const bar = o.onFeatureProgress?.(split);
          try {
            return await extractFeatures(model, d, { ...fo, onProgress: bar && ((done, total) => bar.update(done, total)) });
          } finally {
            bar?.end();
          }
        };
        cached = { train: await extract('train', data.train) };
        if (data.validation) cached.validation = await extract('validation', data.validation);
        featureSeconds = cached.train.seconds + (cached.validation?.seconds ?? 0);
      }
    }
    await o.onPhase?.({ index, phase, trainable, cached: cached?.train ?? null });
    const common = { epochs: phase.epochs, optimizer, batchSize: o.batchSize, seed: o.seed, loss: o.loss, callbacks: o.callbacks, verbose: o.verbose, resumeFrom: o.resumeFrom };
    const h = cached
      ? await fit(tailFrom(model, stages[k].name, cached.train.shape), cached.train.dataset, { ...common, validation: cached.validation?.dataset })
      : await fit(model, data.train, { ...common, validation: data.validation, preprocess: o.preprocess, augment: o.augment });
    lowestTrained = Math.min(lowestTrained, k);
    const offset = history.epochs.length;
    history.epochs.push(...h.epochs.map((e): EpochLog => ({ ...e, epoch: e.epoch + offset })));
    if (h.stopReason) history.stopReason = h.stopReason;
    results.push({ ...phase, history: h, trainable, featureSeconds, features: cached });
  }
  let parameters = 0;
  for (const p of model.parameters()) parameters += p.size;
  return { history, phases: results, parameters, trainableParameters: trainableMax, seconds: (performance.now() - started) / 1000, optimizer };
}

/** Freeze every BatchNorm2d's parameters (so it runs on running statistics); returns how many trainable elements that removed. */
export function freezeBatchNorms(model: Module): number {
  let removed = 0;
  for (const [, m] of model.namedModules()) {
    if (!(m instanceof BatchNorm2d)) continue;
    for (const p of m.parameters()) if (p.trainable) (removed += p.size), (p.trainable = false);
  }
  return removed;
}

/** Backbone frozen, its features computed once; only the head trains. */
export function featureExtraction(model: Module, data: RecipeData, o: RecipeOptions): Promise<RecipeResult> {
  return runPhases(model, data, [{ from: headCut(model), epochs: o.epochs }], o);
}

/** Everything trains (the backbone at backboneLrScale of the rate). */
export function fullFineTune(model: Module, data: RecipeData, o: RecipeOptions): Promise<RecipeResult> {
  return runPhases(model, data, [{ from: '', epochs: o.epochs }], o);
}

/** Everything below `cut` frozen (and computed once); the rest trains. */
export function partialFineTune(model: Module, data: RecipeData, o: RecipeOptions & { cut: string }): Promise<RecipeResult> {
  return runPhases(model, data, [{ from: o.cut, epochs: o.epochs }], o);
}

/** The head alone for headEpochs, then everything, the backbone at a lower rate. */
export function stagedFineTune(model: Module, data: RecipeData, o: RecipeOptions): Promise<RecipeResult> {
  return runPhases(model, data, [{ from: headCut(model), epochs: o.headEpochs ?? 1 }, { from: '', epochs: o.epochs }], o);
}

/** Partial + staged: the head alone, then the stages from `cut` on at a lower backbone rate; below the cut stays frozen. */
export function hybridFineTune(model: Module, data: RecipeData, o: RecipeOptions & { cut: string }): Promise<RecipeResult> {
  return runPhases(model, data, [{ from: headCut(model), epochs: o.headEpochs ?? 1 }, { from: o.cut, epochs: o.epochs }], o);
}

export const RECIPES = Object.freeze(['feature-extraction', 'full', 'partial', 'staged', 'hybrid'] as const);
export type RecipeName = (typeof RECIPES)[number];

/** A recipe by name (the CLI's --recipe); partial and hybrid need a cut. */
export async function runRecipe(name: string, model: Module, data: RecipeData, o: RecipeOptions & { cut?: string }): Promise<RecipeResult> {
  const needCut = () => {
    if (!o.cut) throw new GraftError(`recipe '${name}' needs a cut point (e.g. 'features.14', 'layer3')`);
    return { ...o, cut: o.cut };
  };
  switch (name) {
    case 'feature-extraction': return featureExtraction(model, data, o);
    case 'full': return fullFineTune(model, data, o);
    case 'partial': return partialFineTune(model, data, needCut());
    case 'staged': return stagedFineTune(model, data, o);
    case 'hybrid': return hybridFineTune(model, data, needCut());
    default: throw new GraftError(`unknown recipe '${name}' (recipes: ${RECIPES.join(', ')})`);
  }
}
