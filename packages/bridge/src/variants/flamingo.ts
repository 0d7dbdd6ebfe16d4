/** `flamingo`: tanh-gated cross-attention (Alayrac et al., 2022); the gates start at 0. */
import { add, foldIn, mul, tanh, zeros, type PRNGKey, type Tensor } from '@llm-modules/tensor';
import { gelu, layerNorm } from '@llm-modules/transformer';
import { defineBridge } from '../define.js';
import { attend, crossMask, layerNormInit, linearNamed, need, queryWindow, rows, subKey, torchLinear } from '../nn.js';
import type { BridgeContext, BridgeDims, BridgeMemory, Params } from '../types.js';

export interface FlamingoOptions {
  layers: number;
  heads: number;
  dropout: number;
  causal: boolean;
  /** Width of the gated feed-forward block, as a multiple of the student width. */
  ffnMult: number;
}

const ln = (p: Params, n: string, x: Tensor) => layerNorm(x, need(p, `${n}.weight`), need(p, `${n}.bias`));

function init(dims: BridgeDims, o: FlamingoOptions, key: PRNGKey): Params {
  const { teacher: Dt, student: Ds } = dims;
  if (Ds % o.heads !== 0) throw new Error(`flamingo: ${o.heads} heads do not divide the student width ${Ds}`);
  const F = Math.max(1, Math.round(o.ffnMult * Ds));
  const p: Params = torchLinear(subKey(key, 0), 'proj', Dt, Ds);
  for (let l = 0; l < o.layers; l++) {
    const k = subKey(key, 100 + l);
    const n = `layers.${l}`;
    Object.assign(
      p,
      layerNormInit(`${n}.norm`, Ds),
      torchLinear(subKey(k, 0), `${n}.attn.q_proj`, Ds, Ds),
      torchLinear(subKey(k, 1), `${n}.attn.k_proj`, Dt, Ds),
      torchLinear(subKey(k, 2), `${n}.attn.v_proj`, Dt, Ds),
      torchLinear(subKey(k, 3), `${n}.attn.out_proj`, Ds, Ds),
      { [`${n}.attn_gate`]: zeros([1]) }, // α = 0: tanh(α) = 0, the stream starts unchanged
      layerNormInit(`${n}.ffn_norm`, Ds),
      torchLinear(subKey(k, 4), `${n}.ffn.fc1`, Ds, F),
      torchLinear(subKey(k, 5), `${n}.ffn.fc2`, F, Ds),
      { [`${n}.ffn_gate`]: zeros([1]) },
    );
  }
  return p;
}

function memory(p: Params, H: Tensor, ctx: BridgeContext<FlamingoOptions>): BridgeMemory {
  const mem: BridgeMemory = {};
  for (let l = 0; l < ctx.options.layers; l++) {
    mem[`k.${l}`] = linearNamed(p, `layers.${l}.attn.k_proj`, H); // [B, T, Ds]
    mem[`v.${l}`] = linearNamed(p, `layers.${l}.attn.v_proj`, H); // [B, T, Ds]
  }
  return mem;
}

/**
 * `flamingo`: `X = proj(H)`, then per layer `X = X + tanh(α)·xattn(LN(X), H)` and `X = X + tanh(β)·FFN(LN(X))`,
 * with α = β = 0 at init, so training starts from the student fed with the plain projection. Causal by default.
 *
 * @example
 * ```ts
 * import { flamingo, resolveOptions } from '@llm-modules/bridge';
 * import { prngKey, randomNormal } from '@llm-modules/tensor';
 * const options = resolveOptions(flamingo, { heads: 2 });
 * const p = flamingo.init({ teacher: 12, student: 8, studentLayers: 2 }, options, prngKey(0));
 * const x = flamingo.apply(p, randomNormal(prngKey(1), [1, 5, 12]), { options }); // [1, 5, 8]
 * ```
 */
export const flamingo = defineBridge<FlamingoOptions>({
  name: 'flamingo',
  description: 'tanh-gated cross-attention and feed-forward (Flamingo); gates start at 0',
  options: { layers: 1, heads: 8, dropout: 0, causal: true, ffnMult: 4 },
  init,
  memory,
  apply(p: Params, H: Tensor, ctx: BridgeContext<FlamingoOptions>): Tensor {
    const o = ctx.options;
    const mem = ctx.memory ?? memory(p, H, ctx);
    const Tk = H.shape[1];
    const { q0, Tq } = queryWindow(ctx, Tk);
    const mask = crossMask(ctx.attentionMask, q0, Tq, Tk, o.causal); // [B|1, 1, Tq, Tk]
    let X = linearNamed(p, 'proj', rows(H, q0, Tq)); // [B, Tq, Ds]
    for (let l = 0; l < o.layers; l++) {
      const n = `layers.${l}`;
      const key = ctx.training && ctx.key ? foldIn(ctx.key, l) : null;
      const a = attend(linearNamed(p, `${n}.attn.q_proj`, ln(p, `${n}.norm`, X)), need(mem, `k.${l}`), need(mem, `v.${l}`), { heads: o.heads, mask, dropout: o.dropout, key }); // [B, Tq, Ds]
      X = add(X, mul(tanh(need(p, `${n}.attn_gate`)), linearNamed(p, `${n}.attn.out_proj`, a))); // [B, Tq, Ds]
      const f = linearNamed(p, `${n}.ffn.fc2`, gelu(linearNamed(p, `${n}.ffn.fc1`, ln(p, `${n}.ffn_norm`, X)))); // [B, Tq, Ds]
      X = add(X, mul(tanh(need(p, `${n}.ffn_gate`)), f)); // [B, Tq, Ds]
    }
    return X;
  },
});
