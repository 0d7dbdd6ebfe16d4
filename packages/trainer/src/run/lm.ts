/**
 * Config-driven runs: `runTrainConfig` runs either mode (`mode: "bridge"` through `trainBridge`). `mode: "lm"`:
 * train a causal LM of any registered family from a config (random init) or fine-tune a pretrained folder. The run folder gets the trained model in Hugging Face layout (config.json, model.safetensors,
 * tokenizer files), so `generate`, `eval` and `inspect` load it; plus checkpoint/ and metrics.jsonl.
 */
import { copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadTokenizer, parseConfig, writeFileAtomic, writeSafetensors, loadConfig } from '@llm-modules/loaders';
import { add, mul, prngKey, type Tensor } from '@llm-modules/tensor';
import { causalLMLoss, createModel, loadPretrained, type CausalLM, type Params } from '@llm-modules/transformer';
import type { PyTree } from '@llm-modules/autograd';
import { adamw } from '../optim/adamw.js';
import { sgd } from '../optim/sgd.js';
import { constant, warmupCosine, warmupLinear } from '../schedules.js';
import { bucketedBatches, type Batch } from '../data/batches.js';
import { initialState, train, type Observer, type TrainOptions, type TrainState } from '../loop.js';
import { checkpointObserver, gcObserver, jsonlObserver, loadTrainState } from '../observers.js';
import type { TrainConfig } from '../config/validate.js';
import type { Optimizer } from '../optim/types.js';
import { trainBridge } from './bridge.js';
import { distillationLoss } from '../distill.js';
import { distillingTeacher, kdSettings } from './kd.js';
import { loadSplit, runSettings } from './prelude.js';

export interface RunOptions {
  /** the config file (paths in it are relative to its folder) */
  configFile?: string;
  /** the folder relative config paths start from (default: the config file's folder, else the working folder) */
  baseDir?: string;
  /** run before the run folder's own; a run donates each state to its next step (`TrainOptions.donate`): copy what you keep */
  observers?: Observer[];
  signal?: AbortSignal;
  /** continue from `output/checkpoint` when it exists */
  resume?: boolean;
  /** overrides `training.maxSteps` (e.g. a short trial of a long config) */
  maxSteps?: number;
  /** load and check everything (models, tokenizer, data, shapes), report, and stop before training: nothing is written */
  dryRun?: boolean;
  /** one-line reports before training starts (data counts, parameters) */
  log?: (line: string) => void;
  /** progress of long preparations (loading a teacher): `done` of `total` `unit`s */
  progress?: (label: string, done: number, total: number, unit: 'bytes' | 'rows') => void;
}

export interface RunResult {
  output: string;
  steps: number;
  reason: string;
  trainExamples: number;
  validationExamples: number;
  droppedExamples: number;
  finalValidationLoss: number | null;
  seconds: number;
  /** parameters by part (trainable ones, and a frozen teacher's) */
  parameters?: Record<string, number>;
}

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt', 'special_tokens_map.json', 'added_tokens.json', 'generation_config.json'];

/** The optimizer and learning-rate schedule a config asks for. @example-skip a fragment: `cfg` comes from the caller's code @example `const { opt, lr } = optimizerFor(cfg, 1000)` */
export function optimizerFor(cfg: TrainConfig, totalSteps: number): { opt: Optimizer<unknown>; lr: (s: number) => number } {
  const o = cfg.optimizer ?? {};
  const peak = o.lr ?? 1e-3;
  const s = o.schedule;
  const warmup = s?.warmupSteps ?? 0;
  // a constant schedule still warms up when asked: linear from 0 to peak, then flat
  const lr = !s || (s.kind === 'constant' && warmup === 0) ? constant(peak) : s.kind === 'constant' ? warmupConstant(peak, warmup) : (s.kind === 'cosine' ? warmupCosine : warmupLinear)({ peak, warmupSteps: warmup, totalSteps, minLr: s.minLr ?? 0 });
  const varies = s !== undefined && (s.kind !== 'constant' || warmup > 0);
  const groups = (o.groups ?? []).map((g) => ({ match: g.prefix, lr: g.lr === undefined ? undefined : varies ? (t: number) => (lr(t) * g.lr!) / peak : g.lr, weightDecay: g.weightDecay }));
  const opt = o.name === 'sgd' ? sgd({ lr, momentum: o.momentum ?? 0, weightDecay: o.weightDecay ?? 0, groups }) : adamw({ lr, betas: o.betas, eps: o.eps, weightDecay: o.weightDecay ?? 0.01, groups });
  return { opt: opt as Optimizer<unknown>, lr };
}

/** Linear warm-up from 0 to `peak` over `warmupSteps`, then `peak`. */
const warmupConstant = (peak: number, warmupSteps: number) => (step: number) => (step <= warmupSteps ? (peak * step) / warmupSteps : peak);

/**
 * Epochs and total optimizer steps of a run. `maxSteps` without `epochs` means "train for maxSteps steps" (as many
 * epochs as that takes), not one epoch; with both, whichever ends first.
 * @example `plannedSteps({ maxSteps: 2500 }, 4) // { epochs: 625, totalSteps: 2500 }`
 */
export function plannedSteps(t: { epochs?: number; maxSteps?: number }, perEpoch: number): { epochs: number; totalSteps: number } {
  const epochs = t.epochs ?? (t.maxSteps !== undefined ? Math.max(1, Math.ceil(t.maxSteps / Math.max(1, perEpoch))) : 1);
  return { epochs, totalSteps: Math.min(t.maxSteps ?? Infinity, perEpoch * epochs) };
}

/**
 * The optimizer steps of a run over `trainCount` examples: batch size, steps per epoch and in all, the optimizer and
 * its schedule. Shared by both modes.
 * @example-skip a fragment: `cfg` comes from the caller's code
 * @example `const plan = stepPlan(cfg, settings.training, split.train.length); plan.totalSteps`
 */
export function stepPlan(cfg: TrainConfig, t: { batchSize?: number; accumulate?: number; epochs?: number; maxSteps?: number }, trainCount: number) {
  const batchSize = t.batchSize ?? 8;
  const perEpoch = Math.ceil(trainCount / batchSize / (t.accumulate ?? 1));
  const { totalSteps } = plannedSteps(t, perEpoch);
  const { opt, lr } = optimizerFor(cfg, totalSteps);
  return { batchSize, perEpoch, totalSteps, optimizer: opt, lr };
}

/**
 * The state a run starts from: `output/checkpoint` when resuming and it exists (checked by `check`), else `fresh()`.
 * @example-skip a fragment: `opt` comes from the caller's code
 * @example `const start = await startState('runs/a', true, () => model.init(prngKey(0)), opt)`
 */
export async function startState(output: string, resume: boolean | undefined, fresh: () => Params, opt: Optimizer<unknown>, check?: (params: Params, dir: string) => void): Promise<TrainState> {
  const dir = join(output, 'checkpoint');
  if (resume && (await exists(join(dir, 'checkpoint.msgpack')))) {
    const state = await loadTrainState(dir);
    check?.(state.params as Params, dir);
    return state;
  }
  return initialState(fresh(), opt);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Run a checked train config end to end, either mode (`mode: "bridge"` is {@link trainBridge}).
 * @example-skip reads a train config and trains (train.test.ts runs it)
 * @example `const result = await runTrainConfig(await readTrainConfig('train.json'), { configFile: 'train.json' })`
 */
export async function runTrainConfig(cfg: TrainConfig, opts: RunOptions = {}): Promise<RunResult> {
  if (cfg.mode === 'bridge') return trainBridge(cfg, opts);
  const settings = runSettings(cfg, opts);
  const { file, at, seed, training: t } = settings;
  const kd = kdSettings(cfg, file);

  let model: CausalLM;
  let params: Params;
  let modelConfig: unknown;
  if (cfg.model.pretrained) {
    const loaded = await loadPretrained(at(cfg.model.pretrained));
    [model, params, modelConfig] = [loaded.model, loaded.params, loaded.config];
  } else {
    const c = typeof cfg.model.config === 'string' ? await loadConfig(at(cfg.model.config)) : parseConfig(cfg.model.config, `${file} (model.config)`);
    model = createModel(c);
    params = model.init(prngKey(seed));
    modelConfig = c;
  }
  const tokDir = at(cfg.tokenizer);
  const tok = await loadTokenizer(tokDir);
  const d = cfg.data;
  const maxLength = d.maxLength ?? (modelConfig as { max_position_embeddings: number }).max_position_embeddings;
  const { split, validation } = await loadSplit(cfg, tok, settings, maxLength);
  const kdTeacher = kd ? await distillingTeacher(at(kd.teacher!), tok, file) : null;

  opts.log?.(dataReport(split, validation.length, maxLength, d.overLength));
  const parameters = { trainable: Object.values(params).reduce((n, p) => n + p.size, 0) };
  if (opts.dryRun) return { output: at(cfg.output), steps: 0, reason: 'dry-run', trainExamples: split.train.length, validationExamples: validation.length, droppedExamples: split.dropped, finalValidationLoss: null, seconds: 0, parameters };

  const plan = stepPlan(cfg, t, split.train.length);
  const { batchSize } = plan;
  const padId = tok.padTokenId ?? tok.eosTokenId ?? 0;
  const loss = (p: PyTree, b: Batch): Tensor => {
    const logits = model.apply(p as Params, b.inputIds, { attentionMask: b.attentionMask }).logits; // [B, T, V]
    const ce = causalLMLoss(logits, b.labels);
    if (!kd || !kdTeacher) return ce;
    const teacherLogits = kdTeacher.model.apply(kdTeacher.params, b.inputIds, { attentionMask: b.attentionMask }).logits; // [B, T, V']
    return add(ce, mul(distillationLoss(logits, teacherLogits, b.labels, kd), kd.weight));
  };

  const output = at(cfg.output);
  await mkdir(output, { recursive: true });
  const start = await startState(output, opts.resume, () => params, plan.optimizer);
  const began = performance.now();
  const { final, reason } = await trainWithConfig(cfg, {
    ...plan,
    start,
    loss,
    output,
    batches: (epoch) => bucketedBatches(split.train, { batchSize, padId, seed: seed * 1000 + epoch }),
    validation: validation.length ? () => bucketedBatches(validation, { batchSize, padId, seed: 0 }) : undefined,
    run: { ...opts, maxSteps: t.maxSteps },
  });

  // The trained model in Hugging Face layout, each file written atomically.
  await writeSafetensors(join(output, 'model.safetensors'), final.params as Record<string, Tensor>, { metadata: { format: 'pt' } });
  const configJson = `${JSON.stringify(modelConfig, null, 2)}\n`;
  await writeFileAtomic(join(output, 'config.json'), async (fh) => void (await fh.write(configJson)));
  for (const f of await readdir(tokDir)) if (TOKENIZER_FILES.includes(f)) await copyFile(join(tokDir, f), join(output, f));
  return {
    output,
    steps: final.step,
    reason,
    trainExamples: split.train.length,
    validationExamples: validation.length,
    droppedExamples: split.dropped,
    finalValidationLoss: final.bestValidationLoss,
    seconds: (performance.now() - began) / 1000,
    parameters,
  };
}

/**
 * The train loop as a config's `training` section asks for it, with the run folder's observers (`metrics.jsonl`,
 * `checkpoint/` every `checkpointEvery` steps and at the end) after the caller's. Shared by both modes.
 * @example-skip a fragment: `cfg` comes from the caller's code
 * @example `const { final, reason } = await trainWithConfig(cfg, { start, loss, optimizer, lr, totalSteps, perEpoch, output, batches })`
 */
export async function trainWithConfig(
  cfg: TrainConfig,
  o: { start: TrainState; loss: TrainOptions['loss']; optimizer: Optimizer<unknown>; lr: (s: number) => number; totalSteps: number; perEpoch: number; output: string; batches: TrainOptions['batches']; validation?: TrainOptions['validation']; run?: RunOptions },
): Promise<{ final: TrainState; reason: string }> {
  const t = { ...cfg.training, ...(o.run?.maxSteps ? { maxSteps: o.run.maxSteps } : {}) };
  let reason = 'done';
  const final = await train(o.start, {
    loss: o.loss,
    optimizer: o.optimizer,
    batches: o.batches,
    validation: o.validation,
    epochs: plannedSteps(t, o.perEpoch).epochs,
    maxSteps: t.maxSteps,
    accumulate: t.accumulate,
    clipNorm: t.clipNorm,
    evalEvery: t.evalEvery ?? (o.validation ? o.perEpoch : undefined),
    earlyStopping: t.earlyStopping,
    lr: o.lr,
    totalSteps: o.totalSteps,
    signal: o.run?.signal,
    // the run folder's observers copy what they keep (metrics, checkpoint files): the state may be donated
    donate: true,
    observers: [
      ...(o.run?.observers ?? []),
      gcObserver(),
      jsonlObserver(join(o.output, 'metrics.jsonl')),
      checkpointObserver({ dir: join(o.output, 'checkpoint'), every: t.checkpointEvery ?? Math.max(1, o.totalSteps), config: cfg }),
      (e) => void (e.type === 'end' && (reason = e.reason)),
    ],
  });
  return { final, reason };
}

/** The one line a run reports about its data before training. @example-skip a fragment: `split` comes from the caller's code @example `dataReport(split, 10, 512)` */
export function dataReport(split: { train: readonly unknown[]; dropped: number }, validation: number, maxLength: number, overLength: 'drop' | 'truncate' = 'drop'): string {
  const rule = overLength === 'drop' ? `${split.dropped} dropped as longer than ${maxLength} tokens` : `rows longer than ${maxLength} tokens truncated`;
  return `data: ${split.train.length} training and ${validation} validation examples; ${rule}`;
}
