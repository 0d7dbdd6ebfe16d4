/**
 * The Node entry (export condition `node`, and the default): the browser-safe index (optimizers, schedules,
 * batches, the training loop, distillation losses, config checks) plus what reads and writes files: observers
 * that log or checkpoint, teacher caches and shards, and the config-file runners (trainBridge, runTrainConfig).
 */
export * from './index.js';
export { progressObserver, jsonlObserver, gcObserver, checkpointObserver, saveTrainState, loadTrainState } from './observers.js';
export { cacheFingerprint, writeTeacherCache, cacheBatchPlan, teacherStatesOf, assembleTeacherCache, openTeacherCache, withTeacherStates, TeacherCacheError, type CacheFingerprint, type TeacherCache, type TeacherWeightStream, type WriteCacheOptions, type ComputeStatesOptions } from './teacher-cache.js';
export { shardName, shardRows, shardIsWhole, writeTeacherShard, checkTeacherShards, mergeTeacherShards, type ShardManifest, type WriteShardOptions } from './teacher-shards.js';
export { trainBridge } from './run/bridge.js';
export { openTeacher, relocationFields, teacherFingerprint, type Teacher } from './run/teacher.js';
export { loadSplit, runSettings, type RunSettings } from './run/prelude.js';
export { dataReport, optimizerFor, plannedSteps, runTrainConfig, startState, stepPlan, trainWithConfig, type RunOptions, type RunResult } from './run/lm.js';
export { readTrainConfig } from './config/read.js';
