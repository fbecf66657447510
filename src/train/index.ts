// Training: optimizers, schedules, losses, the training loop, callbacks, checkpoints, fine-tuning
// recipes, cached features, ensembles and zero-shot.
export { Optimizer, SGD, Adam, sgd, adam, adamw, sgdStep, matchesName } from './optim.ts';
export type { ParamGroup, ParamMatch, OptimizerOptions, SgdOptions, AdamOptions, OptimizerState, ParameterSource } from './optim.ts';
export { constant, stepDecay, multiStep, cosine, warmup, product } from './schedule.ts';
export type { Schedule } from './schedule.ts';
export { crossEntropy, penalty, penalizedParameters, withPenalty } from './losses.ts';
export type { Loss, CrossEntropyOptions, PenaltyOptions } from './losses.ts';
export { fit, evaluate, TrainingError } from './fit.ts';
export type { FitOptions, EvaluateOptions, Evaluation } from './fit.ts';
export { earlyStopping, checkpoint, lrSchedule, metricValue } from './callbacks.ts';
export type { Callback, EpochLog, History, TrainState, BatchLog, Monitor, EarlyStopping, EarlyStoppingOptions, CheckpointOptions } from './callbacks.ts';
export { loadCheckpoint, saveCheckpoint, checkpointBytes } from './checkpoint.ts';
export type { TrainingCheckpoint, CheckpointTarget } from './checkpoint.ts';
export { featureExtraction, fullFineTune, partialFineTune, stagedFineTune, hybridFineTune, runPhases, runRecipe, freezeBatchNorms, RECIPES } from './recipes.ts';
export type { RecipeData, RecipeOptions, RecipeResult, Phase, PhaseResult, RecipeName } from './recipes.ts';
export { modelStages, cutIndex, headCut, trainFrom, extractFeatures, prefixOf, tailFrom, ModelTail } from './features.ts';
export type { Stage, Staged, FeatureSet, FeatureOptions } from './features.ts';
export { predictProbabilities, averageProbabilities, evaluateEnsemble } from './ensemble.ts';
export type { EnsembleMember, EnsembleResult } from './ensemble.ts';
export { zeroShot, trainAttributeHead, predictAttributes, nearestByCosine, featureMatrix, FASHION_ATTRIBUTES, FASHION_ATTRIBUTE_NAMES, FASHION_UNSEEN } from './zero-shot.ts';
export type { ZeroShotResult, FeatureMatrix, AttributeHead } from './zero-shot.ts';
