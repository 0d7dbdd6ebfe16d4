/** `plain`: cross-attention layers with a residual, no adapter and no gate. */
import { add, foldIn, type PRNGKey, type Tensor } from '@llm-modules/tensor';
import { layerNorm } from '@llm-modules/transformer';
import { defineBridge } from '../define.js';
import { attend, crossMask, layerNormInit, linearNamed, need, queryWindow, rows, subKey, torchLinear } from '../nn.js';
import type { BridgeContext, BridgeDims, BridgeMemory, Params } from '../types.js';

export interface PlainOptions {
  layers: number;
  heads: number;
  dropout: number;
  causal: boolean;
}


function init(dims: BridgeDims, o: PlainOptions, key: PRNGKey): Params {
  const { teacher: Dt, student: Ds } = dims;
  if (Ds % o.heads !== 0) throw new Error(`plain: ${o.heads} heads do not divide the student width ${Ds}`);
  const p: Params = torchLinear(subKey(key, 0), 'proj', Dt, Ds);
  for (let l = 0; l < o.layers; l++) {
    const k = subKey(key, 100 + l);
    Object.assign(
      p,
      layerNormInit(`layers.${l}.norm`, Ds),
      torchLinear(subKey(k, 0), `layers.${l}.attn.q_proj`, Ds, Ds),
      torchLinear(subKey(k, 1), `layers.${l}.attn.k_proj`, Dt, Ds),
      torchLinear(subKey(k, 2), `layers.${l}.attn.v_proj`, Dt, Ds),
      torchLinear(subKey(k, 3), `layers.${l}.attn.out_proj`, Ds, Ds),
    );
  }
  return p;
}

function memory(p: Params, H: Tensor, ctx: BridgeContext<PlainOptions>): BridgeMemory {
  const mem: BridgeMemory = {};
  for (let l = 0; l < ctx.options.layers; l++) {
    mem[`k.${l}`] = linearNamed(p, `layers.${l}.attn.k_proj`, H); // [B, T, Ds]
    mem[`v.${l}`] = linearNamed(p, `layers.${l}.attn.v_proj`, H); // [B, T, Ds]
  }
  return mem;
}

/**
 * `plain`: `S = proj(H)`, then per layer `S = S + out_proj(attention(q_proj(LN(S)), k/v_proj(H)))` — the
 * ablation of `enhanced` without intermediate FFN, adapter and gate. Causal by default.
 *
 * @example
 * ```ts
 * import { plain, resolveOptions } from '@llm-modules/bridge';
 * import { prngKey, randomNormal } from '@llm-modules/tensor';
 * const options = resolveOptions(plain, { heads: 2 });
 * const p = plain.init({ teacher: 12, student: 8, studentLayers: 2 }, options, prngKey(0));
 * const x = plain.apply(p, randomNormal(prngKey(1), [1, 5, 12]), { options }); // [1, 5, 8]
 * ```
 */
export const plain = defineBridge<PlainOptions>({
  name: 'plain',
  description: 'cross-attention layers with a residual, no adapter and no gate',
  options: { layers: 1, heads: 8, dropout: 0, causal: true },
  init,
  memory,
  apply(p: Params, H: Tensor, ctx: BridgeContext<PlainOptions>): Tensor {
    const o = ctx.options;
    const mem = ctx.memory ?? memory(p, H, ctx);
    const Tk = H.shape[1];
    const { q0, Tq } = queryWindow(ctx, Tk);
    const mask = crossMask(ctx.attentionMask, q0, Tq, Tk, o.causal); // [B|1, 1, Tq, Tk]
    let S = linearNamed(p, 'proj', rows(H, q0, Tq)); // [B, Tq, Ds]
    for (let l = 0; l < o.layers; l++) {
      const n = need(p, `layers.${l}.norm.weight`);
      const q = linearNamed(p, `layers.${l}.attn.q_proj`, layerNorm(S, n, need(p, `layers.${l}.norm.bias`))); // [B, Tq, Ds]
      const key = ctx.training && ctx.key ? foldIn(ctx.key, l) : null;
      const a = attend(q, need(mem, `k.${l}`), need(mem, `v.${l}`), { heads: o.heads, mask, dropout: o.dropout, key }); // [B, Tq, Ds]
      S = add(S, linearNamed(p, `layers.${l}.attn.out_proj`, a)); // [B, Tq, Ds]
    }
    return S;
  },
});
