/**
 * @llm-modules/trainer — pure optimizers, schedules, clipping and gradient accumulation over parameter trees;
 * the train loop, data pipeline, teacher-state cache, and config-driven runs of both modes: `runTrainConfig`
 * (a causal LM, or a bridge) and `trainBridge` (frozen teacher → bridge → student, from code).
 */
export { adamw, type AdamWOptions, type AdamWState } from './optim/adamw.js';
export { sgd, type SgdOptions } from './optim/sgd.js';
export { clipByGlobalNorm, globalNorm } from './optim/clip.js';
export { accumulate, scaleTree } from './optim/accumulate.js';
export type { Optimizer, ParamGroup, LearningRate } from './optim/types.js';
export { constant, warmupCosine, warmupLinear, type Schedule } from './schedules.js';
export { formatExample, type Example, type FormatOptions, type PromptFormat } from './data/format.js';
export { splitExamples, permutation, type Split, type SplitOptions } from './data/split.js';
export { bucketedBatches, collate, IGNORE_INDEX, type Batch, type BatchOptions } from './data/batches.js';
export { train, initialState, evaluateLoss, type TrainEvent, type TrainOptions, type TrainState, type Observer } from './loop.js';
export { checkTrainConfig, trainConfigSchema, TrainConfigError, type TrainConfig } from './config/validate.js';
export { checkBridgeSpec, checkModels, checkResumeParams, checkTokenIds, headVocabSize } from './run/bridge-checks.js';
export { cacheOrder } from './run/cache-order.js';
export { closest } from './config/closest.js';
export { chunkedDistillationLoss, distillationLoss, distillationSum, type KdOptions } from './distill.js';
