/**
 * `enhanced`: the paper's Enhanced Cross-Attention, exactly as the released LLM-Modules code computes it
 * (see `research/paper-architecture.md`), with a causal mask by default; `paper-released` keeps the released
 * padding-only mask (the future-token leak) and hyper-parameters.
 */
import { add, concat, foldIn, mul, sigmoid, sub, type Tensor } from '@llm-modules/tensor';
import { gelu } from '@llm-modules/transformer';
import { defineBridge, presetBridge } from '../define.js';
import { attend, crossMask, need, queryWindow, rows } from '../nn.js';
import type { BridgeContext, BridgeMemory, Params } from '../types.js';
import { applyLinear, applyNorm, declareVars, torchLayerNormVars, torchLinearVars } from '../vars.js';

export interface EnhancedOptions {
  /** Number of Enhanced Cross-Attention layers (released: 2). */
  layers: number;
  /** Attention heads; must divide the student width (released: 8 heads of 96). */
  heads: number;
  /** Bottleneck of the adapter (released: 256). */
  adapterDim: number;
  /** Dropout on the attention probabilities in training (released: 0.1). */
  dropout: number;
  /** Hide teacher positions after the query's own (default true; the released code: false). */
  causal: boolean;
  /** Width of the intermediate FFN; null = ⌊(Dt + Ds)/2⌋ as released (1152). */
  intermediateDim: number | null;
}

const EPS = 1e-5;

/** Each parameter once (the released `CombinedModel`'s names): name, shape, init key. */
const vars = declareVars((vb, { teacher: Dt, student: Ds }, o: EnhancedOptions) => {
  if (Ds % o.heads !== 0) throw new Error(`enhanced: ${o.heads} heads do not divide the student width ${Ds}`);
  const I = o.intermediateDim ?? Math.floor((Dt + Ds) / 2);
  const mid = vb.pp('intermediate_layers');
  return {
    preProj: torchLinearVars(vb.pp('pre_proj', 0), Dt, Dt),
    proj: torchLinearVars(vb.pp('proj', 1), Dt, Ds),
    ffn1: torchLinearVars(mid.pp('0', 2), Dt, I),
    ffnNorm1: torchLayerNormVars(mid.pp('1'), I),
    ffn2: torchLinearVars(mid.pp('3', 3), I, Ds),
    ffnNorm2: torchLayerNormVars(mid.pp('4'), Ds),
    layers: Array.from({ length: o.layers }, (_, l) => {
      const lv = vb.pp(`cross_attention_layers.${l}`, 100 + l);
      const [attn, adapter] = [lv.pp('cross_attn'), lv.pp('adapter')];
      return {
        q: torchLinearVars(attn.pp('q_proj', 0), Ds, Ds),
        k: torchLinearVars(attn.pp('k_proj', 1), Dt, Ds),
        v: torchLinearVars(attn.pp('v_proj', 2), Dt, Ds),
        out: torchLinearVars(attn.pp('out_proj', 3), Ds, Ds),
        norm1: torchLayerNormVars(attn.pp('norm1'), Dt),
        norm2: torchLayerNormVars(attn.pp('norm2'), Ds),
        fc1: torchLinearVars(adapter.pp('fc1', 4), Ds, o.adapterDim),
        fc2: torchLinearVars(adapter.pp('fc2', 5), o.adapterDim, Ds),
        adapterNorm: torchLayerNormVars(adapter.pp('norm'), Ds),
        gate: torchLinearVars(lv.pp('gate', 6), 2 * Ds, Ds),
      };
    }),
  };
});

/** P = pre_proj(H) and, per layer, K and V of LN1(P): all position-wise, so decoding caches them. */
function memory(p: Params, H: Tensor, ctx: BridgeContext<EnhancedOptions>): BridgeMemory {
  const w = vars.read(p, ctx);
  const P = applyLinear(w.preProj, H); // [B, T, Dt]
  const mem: BridgeMemory = { P };
  w.layers.forEach((wl, l) => {
    const kin = applyNorm(wl.norm1, P, EPS); // [B, T, Dt]
    mem[`k.${l}`] = applyLinear(wl.k, kin); // [B, T, Ds]
    mem[`v.${l}`] = applyLinear(wl.v, kin); // [B, T, Ds]
  });
  return mem;
}

function apply(p: Params, H: Tensor, ctx: BridgeContext<EnhancedOptions>): Tensor {
  const o = ctx.options;
  const w = vars.read(p, ctx);
  const mem = ctx.memory ?? memory(p, H, ctx);
  const Tk = H.shape[1];
  const { q0, Tq } = queryWindow(ctx, Tk);
  ctx.trace?.('H', H);
  ctx.trace?.('P', mem.P);
  const P = rows(mem.P, q0, Tq); // [B, Tq, Dt]
  const R = applyLinear(w.proj, P); // [B, Tq, Ds] global skip
  const hidden = gelu(applyNorm(w.ffnNorm1, applyLinear(w.ffn1, P), EPS)); // [B, Tq, I]
  let S = applyNorm(w.ffnNorm2, applyLinear(w.ffn2, hidden), EPS); // [B, Tq, Ds]
  ctx.trace?.('R', R);
  ctx.trace?.('S0', S);
  const mask = crossMask(ctx.attentionMask, q0, Tq, Tk, o.causal); // [B|1, 1, Tq, Tk]
  w.layers.forEach((wl, l) => {
    const q = applyLinear(wl.q, applyNorm(wl.norm2, S, EPS)); // [B, Tq, Ds]
    const key = ctx.training && ctx.key ? foldIn(ctx.key, l) : null;
    const heads = attend(q, need(mem, `k.${l}`), need(mem, `v.${l}`), { heads: o.heads, mask, dropout: o.dropout, key }); // [B, Tq, Ds]
    const A = applyLinear(wl.out, heads); // [B, Tq, Ds]
    const adapted = add(A, applyNorm(wl.adapterNorm, applyLinear(wl.fc2, gelu(applyLinear(wl.fc1, A))), EPS)); // [B, Tq, Ds]
    const G = sigmoid(applyLinear(wl.gate, concat([S, adapted], -1))); // [B, Tq, Ds]
    const E = add(mul(G, adapted), mul(sub(1, G), S)); // [B, Tq, Ds] gated mix
    S = add(S, E); // [B, Tq, Ds] second residual
    ctx.trace?.(`S${l + 1}`, S);
  });
  const F = add(S, R); // [B, Tq, Ds]
  ctx.trace?.('F', F);
  return F;
}

/**
 * Enhanced Cross-Attention (LLM Modules): pre_proj, a global `proj` skip, an intermediate FFN, then `layers`
 * cross-attention layers (queries from the stream, keys/values from the teacher, adapter with LayerNorm and
 * residual, sigmoid gate over [stream; attention], gated mix plus a second residual). Parameter names are the
 * released `CombinedModel`'s (under `qwen.` in a composed model), so a released `bridge.safetensors` loads by name.
 *
 * @example
 * ```ts
 * import { enhanced, resolveOptions } from '@llm-modules/bridge';
 * import { prngKey, randomNormal } from '@llm-modules/tensor';
 * const options = resolveOptions(enhanced, { heads: 4, adapterDim: 16 });
 * const dims = { teacher: 48, student: 32, studentLayers: 4 };
 * const params = enhanced.init(dims, options, prngKey(0));
 * const F = enhanced.apply(params, randomNormal(prngKey(1), [2, 11, 48]), { options, dims }); // [2, 11, 32]
 * ```
 */
export const enhanced = defineBridge<EnhancedOptions>({
  name: 'enhanced',
  description: 'Enhanced Cross-Attention (LLM Modules, arXiv 2502.08213): FFN, adapter, sigmoid gate; causal by default',
  options: { layers: 2, heads: 8, adapterDim: 256, dropout: 0.1, causal: true, intermediateDim: null },
  init: vars.init,
  memory,
  apply,
});

/**
 * `paper-released`: `enhanced` exactly as the released code trains it — padding-only mask (position i reads
 * teacher states of j > i: the future-token leak), 2 layers, 8 heads, adapter 256, dropout 0.1. For faithful
 * @example-skip a fragment: `teacher` comes from the caller's code
 * reproduction only. @example `composeModel({ teacher, bridge: 'paper-released', student })`
 */
export const paperReleased = presetBridge(
  enhanced,
  'paper-released',
  { layers: 2, heads: 8, adapterDim: 256, dropout: 0.1, causal: false },
  'Enhanced Cross-Attention with the released padding-only mask (leaks future tokens in teacher forcing)',
);
