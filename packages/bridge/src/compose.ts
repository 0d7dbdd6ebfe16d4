/**
 * The composed model: frozen teacher → bridge → student blocks → a new head over the teacher's vocabulary.
 * Parameters are one flat trainable tree named as the released `CombinedModel` (`qwen.*`, `gptneo.base_model.*`,
 * `gptneo.new_lm_head.weight`); the teacher's parameters are held by the model, never in that tree.
 */
import { concat, prngKey, splitKey, stopGradient, type PRNGKey, type Tensor } from '@llm-modules/tensor';
import { chunkedCausalLMLoss, labelsFromMask, type CausalLM, type Decodable, type KVCache } from '@llm-modules/transformer';
import { composedDecoder, type ComposedCache } from './decode.js';
import { isCausal, resolveOptions } from './define.js';
import { getBridge } from './registry.js';
import { prefixed, torchLinear } from './nn.js';
import { studentStack, type StudentStack } from './student.js';
import type { BridgeContext, BridgeDefinition, BridgeDims, BridgeMemory, Params } from './types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyBridge = BridgeDefinition<any>;
type Options = Record<string, unknown>;

/** Where each part's parameters live in the trainable tree. */
export interface ParamNames {
  /** Prefix of the bridge's parameters (released: `qwen.`). */
  bridge: string;
  /** Prefix of the student's parameters, before their Hugging Face names (released: `gptneo.base_model.`). */
  student: string;
  /** The head's weight `[V, Ds]` (released: `gptneo.new_lm_head.weight`). */
  head: string;
}

/** The released `CombinedModel`'s names, so its `bridge.safetensors` loads by name. */
export const RELEASED_NAMES: Readonly<ParamNames> = Object.freeze({ bridge: 'qwen.', student: 'gptneo.base_model.', head: 'gptneo.new_lm_head.weight' });

export type BridgeSpec = string | AnyBridge | { variant: string | AnyBridge; options?: Options };

export interface ComposeOptions {
  /** The frozen teacher: a transformer-package model and its parameters (never trained). */
  teacher: { model: CausalLM; params: Params };
  /** A registered name, a definition, or `{ variant, options }`. */
  bridge: BridgeSpec;
  /** The student's blocks; `pretrained` initialises them from a checkpoint (else random, as released). */
  student: { model: CausalLM; pretrained?: Params | null; zeroPositions?: boolean };
  /** The new head; `vocabSize` defaults to the teacher's `vocab_size` (the released code: `len(tokenizer)`). */
  head?: { vocabSize?: number };
  names?: Partial<ParamNames>;
}

export interface ComposedApplyOptions {
  /** `[B, T]` 1 = token, 0 = pad (teacher, bridge keys and student). */
  attentionMask?: Tensor | null;
  /** The teacher's last hidden states `[B, T, Dt]`, e.g. from a teacher cache: the teacher is then not run. */
  teacherStates?: Tensor | null;
  /** Training mode: dropout in the bridge, with `key`. */
  training?: boolean;
  key?: PRNGKey | null;
  /** Named intermediates of the bridge (lazy tensors), for debugging. */
  trace?: (name: string, value: Tensor) => void;
  /** int32 `[B|1, T]` positions for the teacher and the student (default 0…T−1; left padding: `cumsum(mask) − 1`). */
  positionIds?: Tensor | null;
  /** Logits for the last N positions only (decoding); 0 or omitted: all. */
  logitsToKeep?: number;
}

export interface ForwardOptions extends ComposedApplyOptions {
  /** The bridge's memory over every teacher position (decoding keeps it cached). */
  memory?: BridgeMemory;
  queryStart?: number;
  queryLength?: number;
  studentCache?: KVCache | null;
  /** int32 `[B, Tq]` the token ids of the query positions (needed by a bridge with `studentTokens`; `apply` passes them). */
  inputIds?: Tensor | null;
}

export interface ComposedOutput {
  /** `[B, T, V]` over the teacher's vocabulary. */
  logits: Tensor;
  /** `[B, T, Dt]` frozen (gradient-stopped). */
  teacherStates: Tensor;
  /** `[B, T, Ds]` what the bridge feeds the student. */
  studentInputs: Tensor;
  /** `[B, T, Ds]` after the student's final norm. */
  lastHiddenState: Tensor;
  studentCache?: KVCache;
}

export interface ParameterCounts {
  teacher: number;
  bridge: number;
  student: number;
  head: number;
  trainable: number;
}

export interface ComposedModel {
  readonly teacher: { model: CausalLM; params: Params };
  readonly bridge: AnyBridge;
  readonly bridgeOptions: Options;
  /** Whether the bridge hides future teacher positions (its declared contract). */
  readonly causal: boolean;
  readonly student: StudentStack;
  readonly dims: BridgeDims;
  /** The teacher hidden states the bridge reads (indices 0…L, see `BridgeDefinition.teacherLayers`); null: the last. */
  readonly teacherLayers: readonly number[] | null;
  /** Width of `teacherStates(...)` (and of a teacher cache for this model): `dims.teacher` × the number of states read. */
  readonly teacherWidth: number;
  readonly names: ParamNames;
  readonly vocabSize: number;
  /** Every trainable parameter's name and shape (bridge, student blocks, head). The teacher is never in it. */
  readonly trainableParams: ReadonlyMap<string, readonly number[]>;
  /** Fresh trainable parameters: bridge and head PyTorch-default, student random (or pretrained) with `wpe` zeroed. */
  init(key: PRNGKey): Params;
  apply(params: Params, inputIds: Tensor, opts?: ComposedApplyOptions): ComposedOutput;
  /** Mean next-token cross-entropy over every non-pad token (pads ignored), as released. */
  loss(params: Params, inputIds: Tensor, opts?: ComposedApplyOptions): Tensor;
  /** The frozen teacher's states the bridge reads (the last hidden states, or the bridge's `teacherLayers` concatenated: `[B, T, k·Dt]`), and its cache. */
  teacherStates(inputIds: Tensor, opts?: { attentionMask?: Tensor | null; positionIds?: Tensor | null; cache?: KVCache | null }): { states: Tensor; cache?: KVCache };
  /** The bridge's memory of teacher states (position-wise; `{}` for variants without one). */
  memory(params: Params, teacherStates: Tensor): BridgeMemory;
  /** Bridge → student → head from teacher states (the step decoding runs). */
  forward(params: Params, teacherStates: Tensor, opts?: ForwardOptions): Omit<ComposedOutput, 'teacherStates'>;
  /** The bridge's own parameters (local names). */
  bridgeParams(params: Params): Params;
  /** The model as `generate` decodes it (teacher KV cache, bridge memory and student cache kept across steps). */
  readonly decoding: Decodable<ComposedCache>;
  parameterCounts(): ParameterCounts;
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** A bridge's teacher layers as indices 0…L of the teacher's hidden states (negative: from the end), or null. */
function resolveTeacherLayers(layers: number[] | null, L: number, name: string): number[] | null {
  if (!layers) return null;
  if (!layers.length) throw new Error(`bridge "${name}": teacherLayers is empty (null reads the last hidden state)`);
  return layers.map((l) => {
    const i = l < 0 ? L + 1 + l : l;
    if (!Number.isInteger(l) || i < 0 || i > L) throw new Error(`bridge "${name}": teacher layer ${l} is not one of the teacher's hidden states 0…${L} (or −1…−${L + 1})`);
    return i;
  });
}

function resolveBridge(spec: BridgeSpec): { def: AnyBridge; options: Options } {
  if (typeof spec === 'string') return { def: getBridge(spec), options: {} };
  if ('variant' in spec) return { def: typeof spec.variant === 'string' ? getBridge(spec.variant) : spec.variant, options: spec.options ?? {} };
  return { def: spec, options: {} };
}

/**
 * Compose a frozen teacher, a bridge and a student into one trainable model.
 *
 * @example
 * ```ts
 * import { composeModel } from '@llm-modules/bridge';
 * import { loadConfig } from '@llm-modules/loaders';
 * import { createModel, loadPretrained } from '@llm-modules/transformer';
 * import { prngKey, tensor } from '@llm-modules/tensor';
 * const teacher = await loadPretrained('packages/bridge/test/fixtures/models/qwen2-tied');
 * const student = createModel(await loadConfig('packages/bridge/test/fixtures/models/gptneo'));
 * const model = composeModel({
 *   teacher, student: { model: student },
 *   bridge: { variant: 'enhanced', options: { heads: 4, adapterDim: 16 } }, head: { vocabSize: 90 },
 * });
 * const params = model.init(prngKey(0));
 * const loss = model.loss(params, tensor(new Int32Array([5, 6, 7]), [1, 3])); // lazy scalar
 * ```
 */
export function composeModel(spec: ComposeOptions): ComposedModel {
  const { def, options: overrides } = resolveBridge(spec.bridge);
  const options = resolveOptions(def, overrides);
  const teacher = { model: spec.teacher.model, params: spec.teacher.params };
  const student = studentStack(spec.student.model);
  const names: ParamNames = { ...RELEASED_NAMES, ...spec.names };
  const dims: BridgeDims = { teacher: teacher.model.config.hidden_size, student: student.width, studentLayers: student.layers };
  const vocabSize = spec.head?.vocabSize ?? teacher.model.config.vocab_size;
  const hookLayers = new Set(def.student ? def.student.layers(options, dims) : []);
  // Shapes come from one init (which also checks the options against the dims, e.g. heads | width, right away).
  const bridgeLocal = new Map(Object.entries(def.init(dims, options, prngKey(0))).map(([n, t]) => [n, t.shape] as const));
  const shapes = new Map<string, readonly number[]>();
  for (const [n, s] of bridgeLocal) shapes.set(names.bridge + n, s);
  for (const [n, s] of student.parameterShapes()) shapes.set(names.student + n, s);
  shapes.set(names.head, [vocabSize, dims.student]);
  if (shapes.size !== bridgeLocal.size + student.parameterShapes().size + 1) throw new Error('composed model: parameter names collide; choose other `names` prefixes');
  const bridgeParams = (params: Params): Params => {
    const out: Params = {};
    for (const n of bridgeLocal.keys()) {
      const t = params[names.bridge + n];
      if (!t) throw new Error(`composed model: missing parameter "${names.bridge + n}"`);
      out[n] = t;
    }
    return out;
  };
  const studentParams = (params: Params): Params => {
    const out: Params = {};
    for (const n of student.parameterShapes().keys()) {
      const t = params[names.student + n];
      if (!t) throw new Error(`composed model: missing parameter "${names.student + n}"`);
      out[n] = t;
    }
    return out;
  };
  // Hidden-state indices of the teacher the bridge reads (null: the last hidden state alone, the usual path).
  const teacherLayers = resolveTeacherLayers(def.teacherLayers?.(options) ?? null, teacher.model.layers, def.name);
  const ctxFor = (opts: ForwardOptions, memory: BridgeMemory | undefined, params?: Params): BridgeContext<Options> => ({
    options,
    dims,
    attentionMask: opts.attentionMask ?? null,
    training: opts.training ?? false,
    key: opts.key ?? null,
    queryStart: opts.queryStart,
    queryLength: opts.queryLength,
    memory,
    trace: opts.trace,
    inputIds: opts.inputIds ?? null,
    tokenEmbedding: params?.[names.head] ?? null,
  });

  let decoding: Decodable<ComposedCache> | null = null;
  const model: ComposedModel = {
    teacher,
    bridge: def,
    bridgeOptions: options,
    causal: isCausal(def, options),
    student,
    dims,
    teacherLayers,
    teacherWidth: dims.teacher * (teacherLayers?.length ?? 1),
    names,
    vocabSize,
    trainableParams: shapes,
    init(key) {
      const [kb, ks, kh] = splitKey(key, 3);
      const s = spec.student.pretrained ? student.fromPretrained(spec.student.pretrained, spec.student.zeroPositions ?? true) : student.init(ks);
      return {
        ...prefixed(names.bridge, def.init(dims, options, kb)),
        ...prefixed(names.student, s),
        [names.head]: torchLinear(kh, 'head', dims.student, vocabSize, false)['head.weight'], // [V, Ds]
      };
    },
    teacherStates(inputIds, opts = {}) {
      const out = teacher.model.apply(teacher.params, inputIds, { attentionMask: opts.attentionMask, positionIds: opts.positionIds, cache: opts.cache, logitsToKeep: 1, outputHiddenStates: teacherLayers !== null });
      if (!teacherLayers) return { states: stopGradient(out.lastHiddenState), cache: out.cache }; // [B, T, Dt], frozen
      const picked = teacherLayers.map((l) => out.hiddenStates![l]); // each [B, T, Dt]
      return { states: stopGradient(picked.length === 1 ? picked[0] : concat(picked, -1)), cache: out.cache }; // [B, T, k·Dt], frozen
    },
    memory(params, H) {
      return def.memory ? def.memory(bridgeParams(params), H, ctxFor({}, undefined)) : {};
    },
    forward(params, H, opts = {}) {
      const bp = bridgeParams(params);
      if (def.studentTokens && !opts.inputIds) throw new Error(`bridge "${def.name}": the student reads its own tokens; pass inputIds to forward`);
      const ctx = ctxFor(opts, opts.memory ?? (def.memory ? def.memory(bp, H, ctxFor(opts, undefined)) : undefined), params);
      const studentInputs = def.apply(bp, H, ctx); // [B, Tq, Ds]
      const T = opts.queryLength ?? H.shape[1] - (opts.queryStart ?? 0);
      const want = [H.shape[0], T, dims.student];
      if (studentInputs.shape.join() !== want.join()) throw new Error(`bridge "${def.name}": output is [${studentInputs.shape.join(', ')}], expected [${want.join(', ')}] ([B, Tq, student width])`);
      const past = opts.studentCache?.length ?? 0;
      if (past + T > student.maxPositions) throw new Error(`composed model: ${past + T} positions exceed the student's ${student.maxPositions} (max_position_embeddings)`);
      const afterBlock = hookLayers.size ? (l: number, h: Tensor) => (hookLayers.has(l) ? def.student!.apply(bp, l, h, H, ctx) : undefined) : undefined;
      const head = params[names.head];
      if (!head) throw new Error(`composed model: missing parameter "${names.head}"`);
      const out = student.apply(studentParams(params), studentInputs, { attentionMask: opts.attentionMask, positionIds: opts.positionIds, cache: opts.studentCache, afterBlock, lmHead: head, logitsToKeep: opts.logitsToKeep }); // logits [B, Tq, V]
      opts.trace?.('Z', out.lastHiddenState);
      return { logits: out.logits, studentInputs, lastHiddenState: out.lastHiddenState, studentCache: out.cache };
    },
    apply(params, inputIds, opts = {}) {
      const H = opts.teacherStates ? stopGradient(opts.teacherStates) : model.teacherStates(inputIds, { attentionMask: opts.attentionMask, positionIds: opts.positionIds }).states; // [B, T, Dt]
      if (H.shape[0] !== inputIds.shape[0] || H.shape[1] !== inputIds.shape[1]) throw new Error(`composed model: teacher states [${H.shape.join(', ')}] do not match the ids [${inputIds.shape.join(', ')}]`);
      return { ...model.forward(params, H, { ...opts, inputIds }), teacherStates: H };
    },
    loss(params, inputIds, opts = {}) {
      const { lastHiddenState } = model.apply(params, inputIds, opts); // its lazy logits are never evaluated
      return chunkedCausalLMLoss(lastHiddenState, params[names.head], opts.attentionMask ? labelsFromMask(inputIds, opts.attentionMask) : inputIds);
    },
    bridgeParams,
    get decoding() {
      return (decoding ??= composedDecoder(model));
    },
    parameterCounts() {
      const sum = (m: Iterable<readonly number[]>) => [...m].reduce((a, s) => a + numel(s), 0);
      const bridge = sum(bridgeLocal.values());
      const studentCount = sum(student.parameterShapes().values());
      const head = vocabSize * dims.student;
      return { teacher: sum(teacher.model.parameterShapes().values()), bridge, student: studentCount, head, trainable: bridge + studentCount + head };
    },
  };
  return model;
}
