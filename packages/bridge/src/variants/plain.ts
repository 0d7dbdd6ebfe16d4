/** `plain`: cross-attention layers with a residual, no adapter and no gate. */
import { add, foldIn, type Tensor } from '@llm-modules/tensor';
import { defineBridge } from '../define.js';
import { crossAttend, crossAttentionMemory, crossAttentionVars } from '../cross-attention.js';
import { crossMask, queryWindow, rows } from '../nn.js';
import type { BridgeContext, BridgeMemory, Params } from '../types.js';
import { applyLinear, declareVars, torchLinearVars } from '../vars.js';

export interface PlainOptions {
  layers: number;
  heads: number;
  dropout: number;
  causal: boolean;
}

/** Each parameter once: name, shape, init key. */
const vars = declareVars((vb, { teacher: Dt, student: Ds }, o: PlainOptions) => {
  if (Ds % o.heads !== 0) throw new Error(`plain: ${o.heads} heads do not divide the student width ${Ds}`);
  return {
    proj: torchLinearVars(vb.pp('proj', 0), Dt, Ds),
    layers: Array.from({ length: o.layers }, (_, l) => crossAttentionVars(vb.pp(`layers.${l}`, 100 + l), Ds, Dt)),
  };
});

function memory(p: Params, H: Tensor, ctx: BridgeContext<PlainOptions>): BridgeMemory {
  return crossAttentionMemory(vars.read(p, ctx).layers.entries(), H); // each [B, T, Ds]
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
 * const dims = { teacher: 12, student: 8, studentLayers: 2 };
 * const p = plain.init(dims, options, prngKey(0));
 * const x = plain.apply(p, randomNormal(prngKey(1), [1, 5, 12]), { options, dims }); // [1, 5, 8]
 * ```
 */
export const plain = defineBridge<PlainOptions>({
  name: 'plain',
  description: 'cross-attention layers with a residual, no adapter and no gate',
  options: { layers: 1, heads: 8, dropout: 0, causal: true },
  init: vars.init,
  memory,
  apply(p: Params, H: Tensor, ctx: BridgeContext<PlainOptions>): Tensor {
    const o = ctx.options;
    const w = vars.read(p, ctx);
    const mem = ctx.memory ?? memory(p, H, ctx);
    const Tk = H.shape[1];
    const { q0, Tq } = queryWindow(ctx, Tk);
    const mask = crossMask(ctx.attentionMask, q0, Tq, Tk, o.causal); // [B|1, 1, Tq, Tk]
    let S = applyLinear(w.proj, rows(H, q0, Tq)); // [B, Tq, Ds]
    w.layers.forEach((wl, l) => {
      const key = ctx.training && ctx.key ? foldIn(ctx.key, l) : null;
      S = add(S, crossAttend(wl, S, mem, l, { heads: o.heads, mask, dropout: o.dropout, key })); // [B, Tq, Ds]
    });
    return S;
  },
});
