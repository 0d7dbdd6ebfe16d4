/** The pre-norm cross-attention block plain, flamingo, calm and gated-tokens share: declared once, applied once. */
import type { Tensor } from '@llm-modules/tensor';
import { attend, need, type AttendOptions } from './nn.js';
import type { BridgeMemory } from './types.js';
import { applyLinear, applyNorm, torchLayerNormVars, torchLinearVars, type BridgeVars, type LayerNormVars, type LinearVars } from './vars.js';

/** `norm` (LayerNorm of the queries' stream), `attn.q_proj`, `attn.k_proj`, `attn.v_proj`, `attn.out_proj`. */
export interface CrossAttentionVars {
  norm: LayerNormVars;
  q: LinearVars;
  k: LinearVars;
  v: LinearVars;
  out: LinearVars;
}

/**
 * A cross-attention block declared under `vb`: queries from a `Dq`-wide stream, keys and values from `Dkv`-wide
 * states, out to `Dq`. The four projections draw from keys `firstKey … firstKey + 3` of `vb`'s key.
 * @example-skip a fragment: `vb` comes from the caller's code
 * @example `const block = crossAttentionVars(vb.pp('layers.0', 100), 768, 1536)`
 */
export function crossAttentionVars(vb: BridgeVars, Dq: number, Dkv: number, firstKey = 0): CrossAttentionVars {
  return {
    norm: torchLayerNormVars(vb.pp('norm'), Dq),
    q: torchLinearVars(vb.pp('attn.q_proj', firstKey), Dq, Dq),
    k: torchLinearVars(vb.pp('attn.k_proj', firstKey + 1), Dkv, Dq),
    v: torchLinearVars(vb.pp('attn.v_proj', firstKey + 2), Dkv, Dq),
    out: torchLinearVars(vb.pp('attn.out_proj', firstKey + 3), Dq, Dq),
  };
}

/**
 * What decoding caches for such blocks: `k.<l>` and `v.<l>` `[B, T, Dq]`, block l's `k_proj` and `v_proj` of
 * `states` (of `states(block)` when each block reads its own states, e.g. CALM's per-block projection).
 * @example-skip a fragment: `w` and `H` come from the caller's code
 * @example `crossAttentionMemory(w.layers.entries(), H) // { 'k.0': [B, T, Ds], 'v.0': [B, T, Ds], … }`
 */
export function crossAttentionMemory<W extends CrossAttentionVars>(blocks: Iterable<readonly [number, W]>, states: Tensor | ((block: W) => Tensor)): BridgeMemory {
  const mem: BridgeMemory = {};
  for (const [l, w] of blocks) {
    const X = typeof states === 'function' ? states(w) : states; // [B, T, Dkv]
    mem[`k.${l}`] = applyLinear(w.k, X); // [B, T, Dq]
    mem[`v.${l}`] = applyLinear(w.v, X); // [B, T, Dq]
  }
  return mem;
}

/**
 * Block `l`'s `out_proj(attention(q_proj(LN(h)), k, v))` `[B, Tq, Dq]`, its keys and values from `mem`
 * ({@link crossAttentionMemory}).
 * @example-skip a fragment: `block` and `mem` come from the caller's code
 * @example `h = add(h, crossAttend(block, h, mem, 0, { heads: 8, mask }))`
 */
export const crossAttend = (w: CrossAttentionVars, h: Tensor, mem: BridgeMemory, l: number, opts: AttendOptions): Tensor =>
  applyLinear(w.out, attend(applyLinear(w.q, applyNorm(w.norm, h)), need(mem, `k.${l}`), need(mem, `v.${l}`), opts)); // [B, Tq, Dq]
