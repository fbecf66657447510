// Training: optimizers, schedules, losses, data, augmentation, the training loop, callbacks,
// checkpoints and metrics. (Node-only: image-folder.ts, imported on its own.)
export { Optimizer, SGD, Adam, sgd, adam, adamw, sgdStep, matchesName } from './optim.ts';
export type { ParamGroup, ParamMatch, OptimizerOptions, SgdOptions, AdamOptions, OptimizerState, ParameterSource } from './optim.ts';
export { constant, stepDecay, multiStep, cosine, warmup, product } from './schedule.ts';
export type { Schedule } from './schedule.ts';
export { crossEntropy, penalty, penalizedParameters, withPenalty } from './losses.ts';
export type { Loss, CrossEntropyOptions, PenaltyOptions } from './losses.ts';
export { ArrayDataset, LoaderDataset, Subset, DataLoader, arrayDataset, loaderDataset, subset, classCounts, trainValSplit, kFold, uploadBatch, mixSeed, shuffleInPlace } from './data.ts';
export type { Dataset, ItemShape, HostBatch, DataLoaderOptions, ArrayDatasetOptions, LoaderDatasetOptions, SplitOptions } from './data.ts';
export { parseIdx, readIdx, idxDataset, fashionMnist, FASHION_MNIST_CLASSES, FASHION_MNIST_DEBIAN_DIR } from './idx.ts';
export type { IdxArray } from './idx.ts';
export { imageDataset, imageToChw, colorChannels } from './images.ts';
export type { ImageDatasetOptions } from './images.ts';
export { Augmentation, augmentation, preprocessOnGpu, fromModelPreprocessing } from './augment.ts';
export type { AugmentOptions, GpuPreprocessing } from './augment.ts';
export { fit, evaluate, TrainingError } from './fit.ts';
export type { FitOptions, EvaluateOptions, Evaluation } from './fit.ts';
export { earlyStopping, checkpoint, lrSchedule, metricValue } from './callbacks.ts';
export type { Callback, EpochLog, History, TrainState, BatchLog, Monitor, EarlyStopping, EarlyStoppingOptions, CheckpointOptions } from './callbacks.ts';
export { loadCheckpoint, saveCheckpoint, checkpointBytes } from './checkpoint.ts';
export type { TrainingCheckpoint, CheckpointTarget } from './checkpoint.ts';
export { accuracy, argmaxRows, confusionMatrix, perClassAccuracy, formatConfusion } from './metrics.ts';
export { progressBar, formatEpoch, formatHistory } from './progress.ts';
// Fine-tuning recipes, cached features, comparison, ensembles and zero-shot. (Node-only: report.ts.)
export { featureExtraction, fullFineTune, partialFineTune, stagedFineTune, hybridFineTune, runPhases, runRecipe, freezeBatchNorms, freezingCost, formatFreezingCost, RECIPES } from './recipes.ts';
export type { RecipeData, RecipeOptions, RecipeResult, Phase, PhaseResult, RecipeName, FreezingCost } from './recipes.ts';
export { modelStages, cutIndex, headCut, trainFrom, extractFeatures, prefixOf, tailFrom, ModelTail } from './features.ts';
export type { Stage, Staged, FeatureSet, FeatureOptions } from './features.ts';
export { compare, comparisonMarkdown, comparisonRow, bestEpoch, crossValidate, meanStd } from './compare.ts';
export type { Comparison, ComparisonRow, RunConfig, RunOutcome, CompareOptions, CrossValidation } from './compare.ts';
export { predictProbabilities, averageProbabilities, evaluateEnsemble } from './ensemble.ts';
export type { EnsembleMember, EnsembleResult } from './ensemble.ts';
export { zeroShot, trainAttributeHead, predictAttributes, nearestByCosine, featureMatrix, FASHION_ATTRIBUTES, FASHION_ATTRIBUTE_NAMES, FASHION_UNSEEN } from './zero-shot.ts';
export type { ZeroShotResult, FeatureMatrix, AttributeHead } from './zero-shot.ts';
