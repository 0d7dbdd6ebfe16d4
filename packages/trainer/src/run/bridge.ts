/**
 * `mode: "bridge"` train configs: frozen teacher folder → bridge variant → student (`model`: a config or a
 * pretrained folder) → a new head over the teacher's vocabulary. With `teacherCache`, the teacher runs once over
 * the data (float16 cache, fingerprinted) and epochs read its states. With `training.kd` the loss adds the KL to the
 * teacher's next-token distribution (the teacher then runs each step). The output is a bridge folder
 * (`bridge_config.json`, `bridge.safetensors`) that `generate`, `eval` and `inspect` load.
 */
import { mkdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { composeModel, saveBridge } from '@llm-modules/bridge';
import { loadConfig, loadTokenizer, parseConfig } from '@llm-modules/loaders';
import { add, foldIn, mul, prngKey, type PRNGKey, type Tensor } from '@llm-modules/tensor';
import { chunkedCausalLMLoss, createModel, loadPretrained, type Params } from '@llm-modules/transformer';
import { TrainConfigError, type TrainConfig } from '../config/validate.js';
import { collate, bucketedBatches, type Batch } from '../data/batches.js';
import type { Example } from '../data/format.js';
import { cacheFingerprint, openTeacherCache, withTeacherStates, writeTeacherCache } from '../teacher-cache.js';
import { checkBridgeSpec, checkModels, checkResumeParams, checkTokenIds, headVocabSize } from './bridge-checks.js';
import { cacheOrder } from './cache-order.js';
import { chunkedDistillationLoss } from '../distill.js';
import { headOf, kdSettings } from './kd.js';
import { dataReport, startState, stepPlan, trainWithConfig, type RunOptions, type RunResult } from './lm.js';
import { loadSplit, runSettings } from './prelude.js';
import { openTeacher, relocationFields, teacherFingerprint } from './teacher.js';

const exists = (p: string) => stat(p).then(() => true, () => false);

/** Composing checks the options against the widths (heads must divide the student width, …): a mistake there is the config's. */
function composeWith<T>(file: string, compose: () => T): T {
  try {
    return compose();
  } catch (err) {
    throw new TrainConfigError(file, `bridge.options: ${(err as Error).message}`);
  }
}

/**
 * Train a bridge from a checked `mode: "bridge"` config, from code: no command line needed. Paths in the config are
 * relative to `opts.baseDir`, else the config file's folder, else the working folder.
 * @example-skip reads the knowledge-transfer example data and trains a bridge (the demo and train tests run it)
 * @example
 * ```ts
 * import { checkTrainConfig, trainBridge } from '@llm-modules/trainer';
 * const cfg = checkTrainConfig({ mode: 'bridge', teacher: 'teacher', tokenizer: 'teacher', bridge: { variant: 'enhanced', options: { heads: 2, adapterDim: 8 } },
 *   model: { config: { model_type: 'gpt_neo', vocab_size: 347, hidden_size: 16, num_layers: 1, num_heads: 2, max_position_embeddings: 32, attention_types: [[['global'], 1]] } },
 *   data: { train: 'train.jsonl' }, training: { maxSteps: 2 }, output: 'runs/bridge' }, 'code');
 * const result = await trainBridge(cfg, { baseDir: 'examples/knowledge-transfer' }); // writes runs/bridge: a bridge folder generate loads
 * ```
 */
export async function trainBridge(cfg: TrainConfig, opts: RunOptions = {}): Promise<RunResult> {
  if (cfg.mode !== 'bridge' || !cfg.teacher || !cfg.bridge) throw new TrainConfigError(opts.configFile ?? 'config', 'trainBridge needs mode "bridge" with a teacher and a bridge section');
  const settings = runSettings(cfg, opts);
  const { file, at, seed, training: t } = settings;
  const teacherDir = at(cfg.teacher);
  checkBridgeSpec(cfg, file);
  const kd = kdSettings(cfg, file);
  let began = performance.now();
  // with a cache the weights stay on disk unless the cache must be written
  const teacher = await openTeacher(teacherDir, { lazy: Boolean(cfg.teacherCache), onProgress: (done, total) => opts.progress?.('loading the teacher', done, total, 'bytes') });
  const what = `teacher: ${teacherDir} (${teacher.model.config.model_type}, hidden ${teacher.model.config.hidden_size})`;
  opts.log?.(cfg.teacherCache ? `${what}: checked; its weights are read only to fingerprint or write the cache` : `${what} loaded in ${((performance.now() - began) / 1000).toFixed(1)}s`);
  const studentCfg = cfg.model.pretrained ? undefined : typeof cfg.model.config === 'string' ? await loadConfig(at(cfg.model.config)) : parseConfig(cfg.model.config, `${file} (model.config)`);
  const pretrained = cfg.model.pretrained ? await loadPretrained(at(cfg.model.pretrained)) : null;
  const student = pretrained ? pretrained.model : createModel(studentCfg!);
  const tok = await loadTokenizer(at(cfg.tokenizer));
  const studentName = cfg.model.pretrained ? at(cfg.model.pretrained) : typeof cfg.model.config === 'string' ? at(cfg.model.config) : 'model.config';
  checkModels(cfg, { teacherDir, teacherWidth: teacher.model.config.hidden_size, teacherVocab: teacher.model.config.vocab_size, student: studentName, studentWidth: student.config.hidden_size }, tok, file);
  const vocabSize = headVocabSize(cfg, tok, teacher.model.config.vocab_size, file);
  const model = composeWith(file, () => composeModel({ teacher, bridge: { variant: cfg.bridge!.variant, options: cfg.bridge!.options ?? {} }, student: { model: student, pretrained: pretrained?.params ?? null }, head: { vocabSize } }));

  const d = cfg.data;
  const maxLength = d.maxLength ?? Math.min(model.student.maxPositions, teacher.model.config.max_position_embeddings);
  const longest = Math.min(maxLength, d.cutTo ?? Infinity);
  if (longest > model.student.maxPositions) throw new TrainConfigError(file, `examples of up to ${longest} tokens (data.maxLength${d.cutTo ? ' / data.cutTo' : ''}) do not fit the student's ${model.student.maxPositions} positions (max_position_embeddings): set data.cutTo to ${model.student.maxPositions}, as released`);
  // ids are checked per file row (1-based, as the file's own order), before the split shuffles them
  const limit = Math.min(vocabSize, teacher.model.config.vocab_size);
  const { split, validation } = await loadSplit(cfg, tok, settings, maxLength, (examples, source) => checkTokenIds(examples, limit, source));
  opts.log?.(dataReport(split, validation.length, maxLength, d.overLength));
  const counts = model.parameterCounts();
  const parameters = { ...counts };
  opts.log?.(`parameters: trainable ${counts.trainable.toLocaleString('en-US')} (bridge ${counts.bridge.toLocaleString('en-US')}, student ${counts.student.toLocaleString('en-US')}, head ${counts.head.toLocaleString('en-US')} × ${vocabSize} rows), frozen teacher ${counts.teacher.toLocaleString('en-US')}`);
  if (opts.dryRun) return { output: at(cfg.output), steps: 0, reason: 'dry-run', trainExamples: split.train.length, validationExamples: validation.length, droppedExamples: split.dropped, finalValidationLoss: null, seconds: 0, parameters };

  const batchSize = t.batchSize ?? 8;
  const padId = tok.padTokenId ?? tok.eosTokenId ?? 0;
  const output = at(cfg.output);
  await mkdir(output, { recursive: true });

  // The frozen teacher's states: from a cache folder (written on first use) or computed in each step.
  const runTeacher = (b: Batch) => model.teacherStates(b.inputIds, { attentionMask: b.attentionMask }).states;
  let source = (examples: Example[], s: number): Iterable<Batch> | AsyncIterable<Batch> => bucketedBatches(examples, { batchSize, padId, seed: s });
  let fingerprintOfTeacher: string | undefined; // kept in the bridge folder: its teacher must be this one
  if (cfg.teacherCache) {
    const cacheDir = at(cfg.teacherCache);
    // one example order with `cache-teacher` (sorted by token ids), so either may write the cache the other reads
    const { ordered: all, position } = cacheOrder([...split.train, ...validation]);
    const fingerprint = await cacheFingerprint({ teacherConfig: teacher.model.config, teacherWeights: teacher.weights, examples: all, settings: { layer: model.teacherLayers ?? -1 } }); // the states the bridge reads (default: the last)
    fingerprintOfTeacher = fingerprint.teacher;
    const cache = await openTeacherCache(cacheDir, fingerprint).catch(async () => {
      if (await exists(join(cacheDir, 'index.msgpack'))) await openTeacherCache(cacheDir, fingerprint); // a mismatching cache: refuse (throws)
      began = performance.now();
      await teacher.load();
      opts.log?.(`teacher: loaded in ${((performance.now() - began) / 1000).toFixed(1)}s to write the cache ${cacheDir}`);
      await writeTeacherCache(cacheDir, { examples: all, fingerprint, hiddenSize: model.teacherWidth, run: runTeacher, collate: (ex) => collate(ex, padId), batchSize, onProgress: (done, total) => opts.progress?.('caching teacher states', done, total, 'rows') });
      teacher.release();
      return openTeacherCache(cacheDir, fingerprint);
    });
    const offset = split.train.length;
    const toCache = (b: Batch, by: number): Batch => ({ ...b, indices: b.indices?.map((i) => position[i + by]) });
    source = (examples, s) => withTeacherStates((function* () {
      for (const b of bucketedBatches(examples, { batchSize, padId, seed: s })) yield toCache(b, examples === split.train ? 0 : offset);
    })(), cache);
  }

  const plan = stepPlan(cfg, t, split.train.length);
  // the head and its loss 512 positions at a time: [B, T, 151646] logits at once would not fit the fast paths
  // Training batches run in training mode (the bridge's dropout) with a key fixed by (epoch, batch index), so a
  // resumed run draws the same masks as an uninterrupted one; validation batches (unmarked) run in eval mode.
  const dropoutKeys = new WeakMap<Batch, PRNGKey>();
  const dropoutRoot = prngKey(seed + 1);
  const withDropoutKeys = async function* (batches: Iterable<Batch> | AsyncIterable<Batch>, epoch: number) {
    let i = 0;
    for await (const b of batches) {
      dropoutKeys.set(b, foldIn(foldIn(dropoutRoot, epoch), i++));
      yield b;
    }
  };
  const loss = (p: unknown, b: Batch): Tensor => {
    const key = dropoutKeys.get(b);
    // distilling: the teacher runs once; its last state is also what a bridge without teacherLayers reads
    const last = kd ? teacher.model.apply(teacher.params, b.inputIds, { attentionMask: b.attentionMask, logitsToKeep: 1 }).lastHiddenState : undefined; // [B, T, Dt]
    const states = b.teacherStates ?? (model.teacherLayers ? undefined : last);
    const out = model.apply(p as Params, b.inputIds, { attentionMask: b.attentionMask, teacherStates: states, training: key !== undefined, key: key ?? null });
    const head = (p as Params)[model.names.head];
    const ce = chunkedCausalLMLoss(out.lastHiddenState, head, b.labels);
    if (!kd) return ce;
    return add(ce, mul(chunkedDistillationLoss(out.lastHiddenState, head, last!, headOf(teacher.model, teacher.params), b.labels, kd), kd.weight));
  };
  const start = await startState(output, opts.resume, () => model.init(prngKey(seed)), plan.optimizer, (p, dir) => checkResumeParams(p, model.trainableParams, dir));
  began = performance.now();
  const { final, reason } = await trainWithConfig(cfg, {
    ...plan,
    start,
    loss,
    output,
    batches: (epoch) => withDropoutKeys(source(split.train, seed * 1000 + epoch), epoch),
    validation: validation.length ? () => source(validation, 0) : undefined,
    run: { ...opts, maxSteps: t.maxSteps },
  });
  fingerprintOfTeacher ??= await teacherFingerprint(teacher);
  // relative paths (folder and teacher move together), absolute ones (the folder moves alone), the teacher's fingerprint
  const extra = { steps: final.step, tokenizer: relative(output, at(cfg.tokenizer)), ...relocationFields(teacherDir, at(cfg.tokenizer), fingerprintOfTeacher) };
  await saveBridge(output, model, final.params as Params, { teacherPath: relative(output, teacherDir) || '.', extra });
  return { output, steps: final.step, reason, trainExamples: split.train.length, validationExamples: validation.length, droppedExamples: split.dropped, finalValidationLoss: final.bestValidationLoss, seconds: (performance.now() - began) / 1000, parameters };
}
