/**
 * `gated-tokens`: the student keeps its own token stream. Every other variant feeds the student the bridge's
 * output only, so the student never sees its own tokens and cannot copy a name from the prompt. Here the student
 * embeds its own token ids with the new head's rows (tied: it already predicts over the teacher's vocabulary),
 * and the teacher's states enter through causal cross-attention with a zero-initialised tanh gate after several
 * student blocks — CALM's composition (Bansal et al., 2024) with Flamingo's gate (Alayrac et al., 2022), as
 * Tandem transformers keep the small model's stream. At step 0 every gate is 0, so the composed model is
 * exactly the student alone on its own tokens; training opens the gates. The name says both halves: gated
 * cross-attention, the student's own tokens.
 */
import { add, concat, foldIn, mul, slice, tanh, type Tensor } from '@llm-modules/tensor';
import { embedding } from '@llm-modules/transformer';
import { crossAttend, crossAttentionMemory, crossAttentionVars } from '../cross-attention.js';
import { defineBridge } from '../define.js';
import { crossMask, queryWindow, rows } from '../nn.js';
import type { BridgeContext, BridgeDims, BridgeMemory, Params } from '../types.js';
import { applyLinear, applyNorm, declareVars, torchLayerNormVars, torchLinearVars, ZEROS } from '../vars.js';
import { calmLayers, type CalmOptions } from './calm.js';

export interface GatedTokensOptions {
  /** Cross-attend after every `every`-th student block (default 1: after each block). */
  every: number;
  /** Explicit student block indices instead of `every` (null: use `every`). */
  layers: number[] | null;
  heads: number;
  /** Dropout on the cross-attention probabilities (training only). */
  dropout: number;
  causal: boolean;
  /**
   * Which teacher hidden states the cross-attention reads: 0 = embeddings, l = after block l, −1 = after the final
   * norm (the last hidden state). null: the last one only. Several are normalised each and read together.
   */
  teacherLayers: number[] | null;
  /**
   * Also add the teacher's state at the same position to the token embedding, through its own zero-initialised tanh
   * gate: `E[id] + tanh(g_in)·proj(LN(H_t))` — the position-aligned path the other variants feed (causal: position t only).
   */
  alignedInput: boolean;
}

/** The student blocks with a gated cross-attention after them (CALM's rule with this variant's `every`). */
const hookedBlocks = (o: GatedTokensOptions, studentLayers: number) => calmLayers({ every: o.every, layers: o.layers } as CalmOptions, studentLayers);
/** How many teacher hidden states are read (the bridge sees them side by side: `[B, T, k·Dt]`). */
const teacherCount = (o: GatedTokensOptions) => o.teacherLayers?.length ?? 1;

/** Each parameter once: name, shape, init key. `hooks[l]` exists for each hooked block l. */
const vars = declareVars((vb, dims: BridgeDims, o: GatedTokensOptions) => {
  const { teacher: Dt, student: Ds } = dims;
  if (Ds % o.heads !== 0) throw new Error(`gated-tokens: ${o.heads} heads do not divide the student width ${Ds}`);
  const k = teacherCount(o);
  // intermediate teacher states are un-normalised residual streams of varying scale: one LayerNorm per state read
  const teacherNorms = Array.from({ length: k }, (_, i) => torchLayerNormVars(vb.pp(`teacher_norms.${i}`), Dt));
  const aligned = o.alignedInput ? { proj: torchLinearVars(vb.pp('input_proj', 0), k * Dt, Ds), gate: vb.get('input_gate', [1], ZEROS) } : null;
  const hooks = new Map(
    hookedBlocks(o, dims.studentLayers).map((l) => {
      const hv = vb.pp(`hooks.${l}`, 100 + l);
      return [l, { ...crossAttentionVars(hv, Ds, k * Dt), gate: hv.get('gate', [1], ZEROS) }] as const; // tanh(0) = 0: the student starts alone
    }),
  );
  return { teacherNorms, aligned, hooks };
});
type GatedTokensVars = ReturnType<typeof vars.read>;

/** The teacher states `[B, T, k·Dt]`, each of the k states layer-normalised on its own. */
function normalisedTeacher(w: GatedTokensVars, H: Tensor): Tensor {
  const k = w.teacherNorms.length;
  const [B, T, W] = H.shape;
  const Dt = W / k;
  const parts = w.teacherNorms.map((n, i) => applyNorm(n, k === 1 ? H : slice(H, [0, 0, i * Dt], [B, T, (i + 1) * Dt]))); // each [B, T, Dt]
  return k === 1 ? parts[0] : concat(parts, -1); // [B, T, k·Dt]
}

/** Per hooked block: keys and values of the normalised teacher states (position-wise, so decoding caches them). */
function memory(p: Params, H: Tensor, ctx: BridgeContext<GatedTokensOptions>): BridgeMemory {
  const k = teacherCount(ctx.options);
  if (H.shape[2] % k !== 0) throw new Error(`gated-tokens: teacher states of width ${H.shape[2]} are not ${k} states side by side`);
  const w = vars.read(p, ctx);
  return crossAttentionMemory(w.hooks, normalisedTeacher(w, H)); // each [B, T, Ds]
}

/**
 * `gated-tokens`: the student's inputs are its own tokens embedded with the head's rows (tied), plus (with
 * `alignedInput`) `tanh(g_in)·input_proj(LN(H_t))` of the same position; after each hooked
 * block, `h = h + tanh(g_l)·out_proj(attention(q_proj(LN(h)), k/v of LN(teacher states)))` with `g_l = 0` at init.
 * Causal by default; `teacherLayers` picks one or several teacher hidden states.
 *
 * @example
 * ```ts
 * import { gatedTokens, resolveOptions } from '@llm-modules/bridge';
 * import { prngKey, randomNormal, tensor } from '@llm-modules/tensor';
 * const options = resolveOptions(gatedTokens, { heads: 2 });
 * const dims = { teacher: 12, student: 8, studentLayers: 2 };
 * const p = gatedTokens.init(dims, options, prngKey(0));
 * const head = randomNormal(prngKey(1), [30, 8]); // the composed model's head [V, Ds], used as the token table
 * const ids = tensor(new Int32Array([4, 9, 2]), [1, 3], 'int32');
 * const x = gatedTokens.apply(p, randomNormal(prngKey(2), [1, 3, 12]), { options, dims, inputIds: ids, tokenEmbedding: head }); // [1, 3, 8]
 * ```
 */
export const gatedTokens = defineBridge<GatedTokensOptions>({
  name: 'gated-tokens',
  description: 'the student keeps its own tokens (tied to the head); teacher states through zero-gated causal cross-attention into several blocks (and a gated same-position input)',
  options: { every: 1, layers: null, heads: 8, dropout: 0, causal: true, teacherLayers: null, alignedInput: true },
  studentTokens: true,
  teacherLayers: (o) => o.teacherLayers,
  init: vars.init,
  memory,
  apply(p: Params, H: Tensor, ctx: BridgeContext<GatedTokensOptions>): Tensor {
    const { q0, Tq } = queryWindow(ctx, H.shape[1]);
    const ids = ctx.inputIds;
    if (!ids || !ctx.tokenEmbedding) throw new Error('gated-tokens: needs the student token ids (ctx.inputIds) and the head as its token table (ctx.tokenEmbedding)');
    if (ids.shape[0] !== H.shape[0] || ids.shape[1] !== Tq) throw new Error(`gated-tokens: token ids [${ids.shape.join(', ')}] do not match the query window [${q0}, ${q0 + Tq}) of ${H.shape[0]} sequences`);
    const tokens = embedding(ctx.tokenEmbedding, ids); // [B, Tq, Ds]
    const w = vars.read(p, ctx);
    if (!w.aligned) return tokens;
    const aligned = applyLinear(w.aligned.proj, normalisedTeacher(w, rows(H, q0, Tq))); // [B, Tq, Ds]
    return add(tokens, mul(tanh(w.aligned.gate), aligned)); // [B, Tq, Ds]
  },
  student: {
    layers: (o: GatedTokensOptions, dims: BridgeDims) => hookedBlocks(o, dims.studentLayers),
    apply(p: Params, layer: number, h: Tensor, H: Tensor, ctx: BridgeContext<GatedTokensOptions>): Tensor {
      const o = ctx.options;
      const w = vars.read(p, ctx).hooks.get(layer);
      if (!w) throw new Error(`gated-tokens: student block ${layer} has no hook`);
      const mem = ctx.memory ?? memory(p, H, ctx);
      const Tk = H.shape[1];
      const { q0, Tq } = queryWindow(ctx, Tk);
      const mask = crossMask(ctx.attentionMask, q0, Tq, Tk, o.causal); // [B|1, 1, Tq, Tk]
      const key = ctx.training && ctx.key ? foldIn(ctx.key, 1000 + layer) : null;
      const a = crossAttend(w, h, mem, layer, { heads: o.heads, mask, dropout: o.dropout, key }); // [B, Tq, Ds]
      return add(h, mul(tanh(w.gate), a)); // [B, Tq, Ds]
    },
  },
});
