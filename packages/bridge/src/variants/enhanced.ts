/**
 * `enhanced`: the paper's Enhanced Cross-Attention, exactly as the released LLM-Modules code computes it
 * (see `research/paper-architecture.md`), with a causal mask by default; `paper-released` keeps the released
 * padding-only mask (the future-token leak) and hyper-parameters.
 */
import { add, concat, foldIn, mul, sigmoid, sub, type PRNGKey, type Tensor } from '@llm-modules/tensor';
import { gelu, layerNorm } from '@llm-modules/transformer';
import { defineBridge, presetBridge } from '../define.js';
import { attend, crossMask, layerNormInit, linearNamed, need, queryWindow, rows, subKey, torchLinear } from '../nn.js';
import type { BridgeContext, BridgeDims, BridgeMemory, Params } from '../types.js';

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
const L = (l: number) => `cross_attention_layers.${l}`;

function init(dims: BridgeDims, o: EnhancedOptions, key: PRNGKey): Params {
  const { teacher: Dt, student: Ds } = dims;
  if (Ds % o.heads !== 0) throw new Error(`enhanced: ${o.heads} heads do not divide the student width ${Ds}`);
  const I = o.intermediateDim ?? Math.floor((Dt + Ds) / 2);
  const p: Params = {
    ...torchLinear(subKey(key, 0), 'pre_proj', Dt, Dt),
    ...torchLinear(subKey(key, 1), 'proj', Dt, Ds),
    ...torchLinear(subKey(key, 2), 'intermediate_layers.0', Dt, I),
    ...layerNormInit('intermediate_layers.1', I),
    ...torchLinear(subKey(key, 3), 'intermediate_layers.3', I, Ds),
    ...layerNormInit('intermediate_layers.4', Ds),
  };
  for (let l = 0; l < o.layers; l++) {
    const k = subKey(key, 100 + l);
    Object.assign(
      p,
      torchLinear(subKey(k, 0), `${L(l)}.cross_attn.q_proj`, Ds, Ds),
      torchLinear(subKey(k, 1), `${L(l)}.cross_attn.k_proj`, Dt, Ds),
      torchLinear(subKey(k, 2), `${L(l)}.cross_attn.v_proj`, Dt, Ds),
      torchLinear(subKey(k, 3), `${L(l)}.cross_attn.out_proj`, Ds, Ds),
      layerNormInit(`${L(l)}.cross_attn.norm1`, Dt),
      layerNormInit(`${L(l)}.cross_attn.norm2`, Ds),
      torchLinear(subKey(k, 4), `${L(l)}.adapter.fc1`, Ds, o.adapterDim),
      torchLinear(subKey(k, 5), `${L(l)}.adapter.fc2`, o.adapterDim, Ds),
      layerNormInit(`${L(l)}.adapter.norm`, Ds),
      torchLinear(subKey(k, 6), `${L(l)}.gate`, 2 * Ds, Ds),
    );
  }
  return p;
}

const ln = (p: Params, name: string, x: Tensor) => layerNorm(x, need(p, `${name}.weight`), need(p, `${name}.bias`), EPS);

/** P = pre_proj(H) and, per layer, K and V of LN1(P): all position-wise, so decoding caches them. */
function memory(p: Params, H: Tensor, ctx: BridgeContext<EnhancedOptions>): BridgeMemory {
  const P = linearNamed(p, 'pre_proj', H); // [B, T, Dt]
  const mem: BridgeMemory = { P };
  for (let l = 0; l < ctx.options.layers; l++) {
    const kin = ln(p, `${L(l)}.cross_attn.norm1`, P); // [B, T, Dt]
    mem[`k.${l}`] = linearNamed(p, `${L(l)}.cross_attn.k_proj`, kin); // [B, T, Ds]
    mem[`v.${l}`] = linearNamed(p, `${L(l)}.cross_attn.v_proj`, kin); // [B, T, Ds]
  }
  return mem;
}

function apply(p: Params, H: Tensor, ctx: BridgeContext<EnhancedOptions>): Tensor {
  const o = ctx.options;
  const mem = ctx.memory ?? memory(p, H, ctx);
  const Tk = H.shape[1];
  const { q0, Tq } = queryWindow(ctx, Tk);
  ctx.trace?.('H', H);
  ctx.trace?.('P', mem.P);
  const P = rows(mem.P, q0, Tq); // [B, Tq, Dt]
  const R = linearNamed(p, 'proj', P); // [B, Tq, Ds] global skip
  const hidden = gelu(ln(p, 'intermediate_layers.1', linearNamed(p, 'intermediate_layers.0', P))); // [B, Tq, I]
  let S = ln(p, 'intermediate_layers.4', linearNamed(p, 'intermediate_layers.3', hidden)); // [B, Tq, Ds]
  ctx.trace?.('R', R);
  ctx.trace?.('S0', S);
  const mask = crossMask(ctx.attentionMask, q0, Tq, Tk, o.causal); // [B|1, 1, Tq, Tk]
  for (let l = 0; l < o.layers; l++) {
    const q = linearNamed(p, `${L(l)}.cross_attn.q_proj`, ln(p, `${L(l)}.cross_attn.norm2`, S)); // [B, Tq, Ds]
    const key = ctx.training && ctx.key ? foldIn(ctx.key, l) : null;
    const heads = attend(q, need(mem, `k.${l}`), need(mem, `v.${l}`), { heads: o.heads, mask, dropout: o.dropout, key }); // [B, Tq, Ds]
    const A = linearNamed(p, `${L(l)}.cross_attn.out_proj`, heads); // [B, Tq, Ds]
    const adapted = add(A, ln(p, `${L(l)}.adapter.norm`, linearNamed(p, `${L(l)}.adapter.fc2`, gelu(linearNamed(p, `${L(l)}.adapter.fc1`, A))))); // [B, Tq, Ds]
    const G = sigmoid(linearNamed(p, `${L(l)}.gate`, concat([S, adapted], -1))); // [B, Tq, Ds]
    const E = add(mul(G, adapted), mul(sub(1, G), S)); // [B, Tq, Ds] gated mix
    S = add(S, E); // [B, Tq, Ds] second residual
    ctx.trace?.(`S${l + 1}`, S);
  }
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
 * const params = enhanced.init({ teacher: 48, student: 32, studentLayers: 4 }, options, prngKey(0));
 * const F = enhanced.apply(params, randomNormal(prngKey(1), [2, 11, 48]), { options }); // [2, 11, 32]
 * ```
 */
export const enhanced = defineBridge<EnhancedOptions>({
  name: 'enhanced',
  description: 'Enhanced Cross-Attention (LLM Modules, arXiv 2502.08213): FFN, adapter, sigmoid gate; causal by default',
  options: { layers: 2, heads: 8, adapterDim: 256, dropout: 0.1, causal: true, intermediateDim: null },
  init,
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
