/** The bridge variant interface: a bridge is a value (`defineBridge({...})`), not a subclass. */
import type { PRNGKey, Tensor } from '@llm-modules/tensor';

/** Parameters keyed by name (a flat tree, as everywhere in llm-modules). */
export type Params = Record<string, Tensor>;

/** Position-wise tensors derived from the teacher's states, each `[B, T, X]` (see {@link BridgeDefinition.memory}). */
export type BridgeMemory = Record<string, Tensor>;

/** Sizes a bridge is built for. */
export interface BridgeDims {
  /** Width of the teacher's hidden states (Qwen2-1.5B: 1536). */
  teacher: number;
  /** Width of the student's residual stream (GPT-Neo-125M: 768). */
  student: number;
  /** Number of student blocks (for variants that act inside the student). */
  studentLayers: number;
}

/** What `apply` (and a student hook) gets besides the parameters and the teacher's states. */
export interface BridgeContext<O = Record<string, unknown>> {
  /** The variant's resolved options (defaults merged with the caller's). */
  options: O;
  /** The sizes the bridge was built for (what `init` got): a variant's declared parameter shapes come from them. */
  dims: BridgeDims;
  /** `[B, Tk]` 1 = real teacher token, 0 = pad, over every teacher position (the keys). */
  attentionMask?: Tensor | null;
  /** Training mode: dropout is active when `key` is given. */
  training?: boolean;
  /** Random key for dropout (training only). */
  key?: PRNGKey | null;
  /**
   * Index of the first query position (default 0). Outputs are for positions `queryStart … queryStart + queryLength − 1`;
   * keys are every teacher position. Incremental decoding passes the cache length here.
   */
  queryStart?: number;
  /** Number of query positions (default: every position from `queryStart` on). */
  queryLength?: number;
  /** {@link BridgeDefinition.memory} of every teacher position, when the caller already has it (decoding caches it). */
  memory?: BridgeMemory;
  /** Debugging: called with named intermediates (`P`, `S0`, …) as they are built (lazy tensors). */
  trace?: (name: string, value: Tensor) => void;
  /** int32 `[B, Tq]` the student's own token ids at the query positions (given to variants with {@link BridgeDefinition.studentTokens}). */
  inputIds?: Tensor | null;
  /** `[V, Ds]` the composed model's head, which such a variant uses as its token embedding table (tied). */
  tokenEmbedding?: Tensor | null;
}

/**
 * A hook that acts inside the student: after each listed student block, the residual stream `[B, Tq, Ds]`
 * is replaced by `apply(...)` (e.g. `hidden + crossAttention(hidden, teacher)`), as CALM does.
 */
export interface StudentHook<O = Record<string, unknown>> {
  /** Student block indices (0-based) after which `apply` runs. */
  layers(options: O, dims: BridgeDims): number[];
  /** The new residual stream after block `layer`: `[B, Tq, Ds]`. */
  apply(params: Params, layer: number, hidden: Tensor, teacherStates: Tensor, ctx: BridgeContext<O>): Tensor;
}

/**
 * A bridge variant. `init` and `apply` are pure; parameter names are local (the composed model prefixes them).
 *
 * Causality contract: unless `causal(options)` is false, the output at position i may depend on teacher
 * positions ≤ i only (the conformance suite's leak probe checks it exactly).
 */
export interface BridgeDefinition<O extends object = Record<string, unknown>> {
  /** Registry key, e.g. `enhanced`. */
  readonly name: string;
  /** One line for `list` and `inspect`. */
  readonly description?: string;
  /** Default options; callers override any of them. */
  readonly options: O;
  /** Whether the variant keeps the future hidden (default: `options.causal ?? true`). */
  causal?(options: O): boolean;
  /** Fresh parameters for `dims` (a flat tree with local names). */
  init(dims: BridgeDims, options: O, key: PRNGKey): Params;
  /**
   * Optional position-wise precomputation over teacher states `[B, T, Dt]` → tensors `[B, T, X]` (projections,
   * keys and values). It must not mix positions: decoding computes it for each new position once and caches it.
   */
  memory?(params: Params, teacherStates: Tensor, ctx: BridgeContext<O>): BridgeMemory;
  /**
   * The student's inputs `[B, Tq, Ds]` from the teacher's states `[B, Tk, Dt]` (Tq = ctx.queryLength, by default Tk).
   * Use `ctx.memory` when given instead of recomputing `memory(...)`.
   */
  apply(params: Params, teacherStates: Tensor, ctx: BridgeContext<O>): Tensor;
  /** Optional: act inside the student as well (see {@link StudentHook}). */
  readonly student?: StudentHook<O>;
  /**
   * The variant reads the student's own token ids (`ctx.inputIds`) and the head as a tied embedding table
   * (`ctx.tokenEmbedding`), so the student keeps its own token stream (it can copy from the prompt); the composed
   * model then needs the ids in `forward` (`inputIds`).
   */
  readonly studentTokens?: boolean;
  /**
   * Which teacher hidden states the variant reads (default: the last one only): indices of the teacher's hidden
   * states, 0 = its embeddings, l = after block l, L (or −1) = after the final norm. The composed model then hands
   * the bridge (and the teacher cache stores) the chosen states concatenated on the feature axis: `[B, T, k·Dt]`.
   */
  teacherLayers?(options: O): number[] | null;
}
