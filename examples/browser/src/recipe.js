// The page's training and evaluation recipe, one module for its Web Worker and for the Node twin
// (test/twin.ts runs it in Node with the same seed, and the browser test compares the two). The world, its
// seeded split, its traces and its accuracy measure are the CLI demo's own (`llm-modules/demo-world`); the
// model is the demo's `enhanced` contestant (causal bridge, 2-layer 48-wide GPT-Neo student).
import { bridgeFiles, composeModel, generateComposed, loadBridgeFrom } from '@llm-modules/bridge';
import { filesFolder } from '@llm-modules/loaders';
import { evaluate, prngKey } from '@llm-modules/tensor';
import { adamw, bucketedBatches, initialState, train, warmupCosine } from '@llm-modules/trainer';
import { causalLMLoss, createModel, loadPretrainedFrom } from '@llm-modules/transformer';
import { allFacts, encode, generationAccuracy, promptText, splitWorld, studentConfig, traceSet } from 'llm-modules/demo-world';

/**
 * The recipe's settings. As `llm-modules demo` trains `enhanced` (variants.ts, run.ts): the student's size, the
 * bridge's options, AdamW with warmup + cosine from 3e-3 to 3e-4, weight decay 0.01, clip 1, batches of 16 by
 * length bucket, the loss on the trace after the prompt. Unlike it: no dropout and no validation pass (the last
 * parameters are scored), and fewer steps by default.
 */
export const RECIPE = {
  seed: 0,
  steps: 200,
  batchSize: 16,
  student: { hidden: 48, layers: 2, heads: 4 },
  maxPositions: 32,
  bridge: { variant: 'enhanced', options: { heads: 4, adapterDim: 16, layers: 1, dropout: 0, causal: true } },
  lr: 3e-3,
  minLr: 3e-4,
  weightDecay: 0.01,
  clipNorm: 1,
  /** held-out prompts are scored this many at a time (the page shows the running accuracy after each group) */
  evalGroup: 16,
};

/** The frozen teacher and its tokenizer from `folder` (a loaders `FileFolder`: `httpFolder` in the page, `localFolder` in Node). */
export async function loadTeacher(folder) {
  const teacher = await loadPretrainedFrom(folder);
  if (!teacher.tokenizer) throw new Error(`${folder.label}: no tokenizer files`);
  return teacher;
}

/**
 * The demo's world for `seed`: the 560 facts split as the CLI splits them (a quarter traced for training, a
 * tenth for validation, the rest held out), the training traces, and which split each prompt is in.
 */
export function demoWorld(teacher, seed = RECIPE.seed) {
  const tok = teacher.tokenizer;
  const split = splitWorld(allFacts(), { seed });
  const where = new Map();
  for (const [name, facts] of Object.entries(split)) for (const f of facts) where.set(promptText(f), { split: name, answer: String(f.answer) });
  return { teacher, tok, eos: tok.eosTokenId, seed, split, train: traceSet(tok, split.train), where };
}

/** The composed model: frozen teacher → causal `enhanced` bridge → GPT-Neo student → head over the teacher's vocabulary. */
export function composeDemo(world) {
  const vocab = world.teacher.config.vocab_size;
  return composeModel({
    teacher: { model: world.teacher.model, params: world.teacher.params },
    student: { model: createModel(studentConfig(vocab, RECIPE.student, RECIPE.maxPositions)) },
    bridge: RECIPE.bridge,
    head: { vocabSize: vocab },
  });
}

/**
 * Train `model` from its seeded initialisation for `steps` steps. `onStep` gets each step's event (loss,
 * tokens per second, …); aborting `signal` stops after the current step and returns the parameters so far.
 */
export async function trainRecipe(world, model, { steps = RECIPE.steps, onStep = () => {}, signal } = {}) {
  const { seed, train: set } = world;
  const examples = set.sequences.map((s) => ({ inputIds: s, lossMask: s.map((_, t) => (t >= set.promptLength ? 1 : 0)) }));
  const lr = warmupCosine({ peak: RECIPE.lr, warmupSteps: Math.round(steps / 20), totalSteps: steps, minLr: RECIPE.minLr });
  const optimizer = adamw({ lr, weightDecay: RECIPE.weightDecay });
  let reason = 'done';
  const state = await train(initialState(model.init(prngKey(seed + 1)), optimizer), {
    loss: (p, b) => causalLMLoss(model.apply(p, b.inputIds, { attentionMask: b.attentionMask }).logits, b.labels),
    optimizer,
    batches: function* (epoch) {
      yield* bucketedBatches(examples, { batchSize: RECIPE.batchSize, padId: world.eos, seed: seed * 1000 + epoch });
    },
    epochs: Math.ceil((steps * RECIPE.batchSize) / examples.length) + 1,
    maxSteps: steps,
    clipNorm: RECIPE.clipNorm,
    lr,
    totalSteps: steps,
    signal,
    observers: [(e) => (e.type === 'step' ? onStep(e) : e.type === 'end' ? void (reason = e.reason) : undefined)],
  });
  await evaluate(...Object.values(state.params));
  return { params: state.params, steps: state.step, stopped: reason === 'aborted' };
}

/**
 * Greedy generation accuracy on the first `count` held-out facts (the demo's measure: the answer after `A:`),
 * scored `RECIPE.evalGroup` at a time; `onProgress({ done, right, total })` after each group.
 */
export async function heldoutAccuracy(world, model, params, { count = world.split.heldout.length, onProgress = () => {} } = {}) {
  const facts = world.split.heldout.slice(0, count);
  const logits = (p, ids) => model.apply(p, ids).logits;
  let right = 0;
  const samples = [];
  for (let i = 0; i < facts.length; i += RECIPE.evalGroup) {
    const group = facts.slice(i, i + RECIPE.evalGroup);
    const r = await generationAccuracy(logits, params, traceSet(world.tok, group), world.tok);
    right += Math.round(r.accuracy * group.length);
    samples.push(...r.samples);
    onProgress({ done: i + group.length, right, total: facts.length });
  }
  return { right, total: facts.length, accuracy: facts.length ? right / facts.length : 0, samples };
}

/**
 * Greedy continuation of a typed prompt (`7+5=`), at most to the student's positions; the final answer is
 * what follows `A:`. For a fact of the world, `expected` is its answer and `split` says whether it was traced in
 * training (`train`), kept for validation or held out.
 */
export async function answerPrompt(world, model, params, prompt) {
  const ids = encode(world.tok, prompt);
  if (ids.length === 0) throw new Error('type a prompt, e.g. 7+5=');
  if (ids.length >= RECIPE.maxPositions) throw new Error(`the prompt is ${ids.length} tokens; the student reads ${RECIPE.maxPositions} positions`);
  const { sequences } = await generateComposed(model, params, ids, { maxNewTokens: Math.min(12, RECIPE.maxPositions - ids.length), stopTokens: [world.eos] });
  const text = world.tok.decode(sequences[0].filter((t) => t !== world.eos));
  const final = /A:\s*(\S+)/.exec(text)?.[1] ?? null;
  const fact = world.where.get(prompt.trim());
  return { prompt, text, answer: final, expected: fact?.answer ?? null, split: fact ? fact.split : 'not a fact of the world' };
}

/**
 * The trained bridge folder's two files (`bridge_config.json`, `bridge.safetensors`), as `saveBridge` writes them;
 * the config also records the steps and the seed (whose split says which facts are held out).
 */
export function bridgeFolder(model, params, { steps, seed }) {
  return bridgeFiles(model, params, { teacherPath: '../teacher', extra: { steps, seed, recipe: 'examples/browser' } });
}

/** A bridge folder's files (name → bytes, Blob or File) loaded back over `teacher`: `{ model, params }`. */
export async function loadBridgeFolder(teacher, files) {
  const folder = filesFolder(files, 'the picked bridge folder'); // how errors name it
  const { model, params } = await loadBridgeFrom(folder, { teacher: { model: teacher.model, params: teacher.params } });
  return { model, params };
}
