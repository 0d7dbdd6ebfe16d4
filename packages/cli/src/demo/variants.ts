/**
 * The demo's contestants. Each is `{ init, loss, logits }` over plain parameter trees:
 * bridges (frozen teacher → bridge → GPT-Neo-style student → head over the teacher's vocabulary), the student
 * alone (its own embeddings), and a linear head on the frozen teacher's last hidden states.
 */
import { composeModel, dropout } from '@llm-modules/bridge';
import { parseConfig } from '@llm-modules/loaders';
import { add, foldIn, full, mul, prngKey, randomNormal, type PRNGKey, type Tensor } from '@llm-modules/tensor';
import { causalLMLoss, createModel, linear, type CausalLM, type Params } from '@llm-modules/transformer';
import { distillationLoss, type Batch, type KdOptions } from '@llm-modules/trainer';
import { WORLD_EOS } from './world.js';

export const DEFAULT_VARIANTS = ['enhanced', 'student-only', 'paper-released', 'gated-tokens+kd', 'student-kd'] as const;
/**
 * `student-only+head`: the student alone with its tied token table and head started from the teacher's head
 * (`headFromTeacher`, as `gated-tokens` starts): the control that tells whether that start is teacher knowledge
 * by itself (it is not: seed 0, arithmetic, 0.165 against `student-only`'s 0.157) or only a way to read the teacher.
 */
export const ALL_VARIANTS = [...DEFAULT_VARIANTS, 'plain', 'flamingo', 'gated-tokens', 'teacher-head', 'student-only+head'] as const;
export type VariantName = (typeof ALL_VARIANTS)[number];

/**
 * Distillation baselines: the same contestant trained with cross-entropy + weight · KL to the frozen teacher's
 * next-token distribution (`student-kd`: the student alone; `gated-tokens+kd`: the bridge whose student keeps its tokens).
 */
const DISTILLED: Partial<Record<VariantName, VariantName>> = { 'student-kd': 'student-only', 'gated-tokens+kd': 'gated-tokens' };
/**
 * The KD term of the distilled contestants unless tuned otherwise. Weighted by the teacher's probability of each
 * next token: the teacher never saw the traces' format (`, so A:`), and distilling its guesses there broke the
 * format (seed 0, arithmetic: teacher-forced 0.786 but generation 0.000 with uniform weights; 0.775 / 0.720 weighted).
 */
export const DEMO_KD: KdOptions = { weight: 1, temperature: 2, weighting: 'label-probability' };

/** A training batch of the demo: with `teacherLast`, the frozen teacher's last hidden states `[B, T, Dt]` (cached). */
export type DemoBatch = Batch & { teacherLast?: Tensor };

export interface Contestant {
  name: VariantName;
  /** whether it reads the frozen teacher's states */
  usesTeacher: boolean;
  /** whether its loss reads the teacher's next-token distribution (`batch.teacherLast`, else the teacher runs) */
  distills: boolean;
  /** the teacher states it reads, when not the last hidden state (a bridge with `teacherLayers`): `[B, T, k·Dt]` */
  teacherStates?(ids: Tensor): Tensor;
  init(seed: number): Params;
  /**
   * mean cross-entropy over the batch's target tokens (teacher states from the batch when present); with `key`,
   * in training mode (dropout on the teacher's states and in the bridge)
   */
  loss(params: Params, batch: DemoBatch, key?: PRNGKey): Tensor;
  /** `[B, T, V]` logits for ids `[B, T]` (runs the teacher when needed) */
  logits(params: Params, ids: Tensor): Tensor;
  /** trainable parameter count */
  parameters: number;
  /**
   * a bridge's head `[V, Ds]` over the teacher's vocabulary (the token table too where the student keeps its tokens);
   * the student alone's tied token table and head
   */
  headName?: string;
  /** the `[Ds, Dt]` same-position input projection of the teacher's state (`gated-tokens`) */
  inputProjName?: string;
}

export interface StudentSize {
  hidden: number;
  layers: number;
  heads: number;
}

/** The GPT-Neo-style student's config (global attention; its vocabulary is the teacher's). */
export function studentConfig(vocab: number, size: StudentSize, maxPositions: number) {
  return parseConfig(
    {
      model_type: 'gpt_neo',
      vocab_size: vocab,
      hidden_size: size.hidden,
      num_layers: size.layers,
      num_heads: size.heads,
      intermediate_size: size.hidden * 4,
      max_position_embeddings: maxPositions,
      attention_types: [[['global'], size.layers]],
      window_size: maxPositions,
      eos_token_id: WORLD_EOS,
      bos_token_id: WORLD_EOS,
    },
    'demo student config',
  );
}

/** Training settings of the bridge contestants (the defaults were picked on the validation facts). */
export interface BridgeTuning {
  /** overrides of the bridge variant's options (`layers`, `heads`, `adapterDim`, `dropout`) */
  bridge?: Record<string, unknown>;
  /** dropout on the frozen teacher's states before the bridge, in training */
  stateDropout?: number;
  /** the KD term of a distilled contestant (default {@link DEMO_KD}) */
  kd?: KdOptions;
  /** start a bridge's head from the teacher's (its top principal directions: `teacherHeadRows`) */
  headFromTeacher?: boolean;
  /**
   * start the same-position input projection of a bridge that has one (`gated-tokens`' `input_proj`) as `Qᵀ`, the
   * head's principal directions (`teacherHeadBasis`): with `headFromTeacher`, the student's input at a position then
   * carries the teacher's next-token prediction there in its head's own coordinates, and the gate only has to open
   */
  inputFromTeacher?: boolean;
}

const BRIDGE_OPTIONS: Record<string, { variant: string; options: Record<string, unknown> }> = {
  enhanced: { variant: 'enhanced', options: { heads: 4, adapterDim: 16, layers: 1, dropout: 0 } },
  // the released preset's own sizes (2 layers, 8 heads, adapter 256, dropout 0.1), as the released code trains it
  'paper-released': { variant: 'paper-released', options: {} },
  plain: { variant: 'plain', options: { heads: 4, layers: 1 } },
  flamingo: { variant: 'flamingo', options: { heads: 4, layers: 1 } },
  // the student keeps its own tokens (it can copy a name from the prompt); gated cross-attention after each block
  'gated-tokens': { variant: 'gated-tokens', options: { heads: 4, every: 1 } },
};

const count = (shapes: Iterable<readonly number[]>) => [...shapes].reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);

/**
 * Build one contestant around the frozen `teacher`.
 * @example `const c = contestant('enhanced', teacher, { hidden: 48, layers: 2, heads: 4 }, 32); const p = c.init(0);`
 */
export function contestant(name: VariantName, teacher: { model: CausalLM; params: Params }, size: StudentSize, maxPositions: number, tuning: BridgeTuning = {}): Contestant {
  const base = DISTILLED[name];
  const { trainLogits, ...c } = plainContestant(base ?? name, teacher, size, maxPositions, tuning);
  const ce = (p: Params, b: DemoBatch, key?: PRNGKey) => causalLMLoss(trainLogits(p, b, key), b.labels);
  if (!base) return { ...c, name, distills: false, loss: ce };
  const kd = tuning.kd ?? DEMO_KD;
  const teacherHead = teacher.params[teacher.model.roles.lmHead ?? teacher.model.roles.tokenEmbedding];
  // the teacher's next-token logits from its (cached) last hidden states: the frozen head is one product
  const teacherLogits = (b: DemoBatch) => linear(b.teacherLast ?? teacher.model.apply(teacher.params, b.inputIds).lastHiddenState, teacherHead); // [B, T, V]
  const loss = (p: Params, b: DemoBatch, key?: PRNGKey) => {
    const logits = trainLogits(p, b, key); // one forward for both terms
    return add(causalLMLoss(logits, b.labels), mul(distillationLoss(logits, teacherLogits(b), b.labels, kd), kd.weight));
  };
  return { ...c, name, distills: true, loss };
}

/** A contestant without distillation: `trainLogits` are its training-mode logits of a batch (dropout with `key`). */
function plainContestant(name: VariantName, teacher: { model: CausalLM; params: Params }, size: StudentSize, maxPositions: number, tuning: BridgeTuning): Omit<Contestant, 'distills' | 'loss'> & { trainLogits(p: Params, b: DemoBatch, key?: PRNGKey): Tensor } {
  const vocab = teacher.model.config.vocab_size;
  if (name === 'student-only' || name === 'student-only+head') {
    const model = createModel(studentConfig(vocab, size, maxPositions));
    const logits = (p: Params, ids: Tensor, mask?: Tensor) => model.apply(p, ids, { attentionMask: mask }).logits;
    const probe = model.init(prngKey(0));
    return {
      name,
      usesTeacher: false,
      init: (seed) => model.init(prngKey(seed)),
      trainLogits: (p, b) => logits(p, b.inputIds, b.attentionMask),
      logits: (p, ids) => logits(p, ids),
      parameters: count(Object.values(probe).map((t) => t.shape)),
      headName: model.roles.lmHead ?? model.roles.tokenEmbedding,
    };
  }
  if (name === 'teacher-head') {
    const dt = teacher.model.config.hidden_size;
    const states = (ids: Tensor) => teacher.model.apply(teacher.params, ids).lastHiddenState;
    return {
      name,
      usesTeacher: true,
      init: (seed) => ({ 'head.weight': mul(randomNormal(prngKey(seed), [vocab, dt]), full([], 1 / Math.sqrt(dt))) }),
      trainLogits: (p, b) => linear(b.teacherStates ?? states(b.inputIds), p['head.weight']),
      logits: (p, ids) => linear(states(ids), p['head.weight']),
      parameters: vocab * dt,
    };
  }
  const base = BRIDGE_OPTIONS[name];
  const spec = { variant: base.variant, options: { ...base.options, ...(tuning.bridge ?? {}) } };
  const student = createModel(studentConfig(vocab, size, maxPositions));
  const model = composeModel({ teacher, student: { model: student }, bridge: spec, head: { vocabSize: vocab } });
  const stateDropout = tuning.stateDropout ?? 0;
  const trainStates = (b: Batch, key?: PRNGKey) => {
    const states = b.teacherStates ?? model.teacherStates(b.inputIds, { attentionMask: b.attentionMask }).states;
    return key && stateDropout > 0 ? dropout(states, stateDropout, foldIn(key, 1)) : states;
  };
  return {
    name,
    usesTeacher: true,
    ...(model.teacherLayers ? { teacherStates: (ids: Tensor) => model.teacherStates(ids).states } : {}),
    init: (seed) => model.init(prngKey(seed)),
    headName: model.names.head,
    ...(spec.options.alignedInput !== false && base.variant === 'gated-tokens' ? { inputProjName: `${model.names.bridge}input_proj.weight` } : {}),
    trainLogits: (p, b, key) => model.apply(p, b.inputIds, { attentionMask: b.attentionMask, teacherStates: trainStates(b, key), training: key !== undefined, key: key ? foldIn(key, 2) : null }).logits,
    logits: (p, ids) => model.apply(p, ids).logits,
    parameters: model.parameterCounts().trainable,
  };
}
