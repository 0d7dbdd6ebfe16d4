/** `flamingo`: tanh-gated cross-attention (Alayrac et al., 2022); the gates start at 0. */
import { add, foldIn, mul, tanh, type Tensor } from '@llm-modules/tensor';
import { gelu } from '@llm-modules/transformer';
import { defineBridge } from '../define.js';
import { crossAttend, crossAttentionMemory, crossAttentionVars } from '../cross-attention.js';
import { crossMask, queryWindow, rows } from '../nn.js';
import type { BridgeContext, BridgeMemory, Params } from '../types.js';
import { applyLinear, applyNorm, declareVars, torchLayerNormVars, torchLinearVars, ZEROS } from '../vars.js';

export interface FlamingoOptions {
  layers: number;
  heads: number;
  dropout: number;
  causal: boolean;
  /** Width of the gated feed-forward block, as a multiple of the student width. */
  ffnMult: number;
}

/** Each parameter once: name, shape, init key. */
const vars = declareVars((vb, { teacher: Dt, student: Ds }, o: FlamingoOptions) => {
  if (Ds % o.heads !== 0) throw new Error(`flamingo: ${o.heads} heads do not divide the student width ${Ds}`);
  const F = Math.max(1, Math.round(o.ffnMult * Ds));
  return {
    proj: torchLinearVars(vb.pp('proj', 0), Dt, Ds),
    layers: Array.from({ length: o.layers }, (_, l) => {
      const lv = vb.pp(`layers.${l}`, 100 + l);
      return {
        ...crossAttentionVars(lv, Ds, Dt),
        attnGate: lv.get('attn_gate', [1], ZEROS), // α = 0: tanh(α) = 0, the stream starts unchanged
        ffnNorm: torchLayerNormVars(lv.pp('ffn_norm'), Ds),
        fc1: torchLinearVars(lv.pp('ffn.fc1', 4), Ds, F),
        fc2: torchLinearVars(lv.pp('ffn.fc2', 5), F, Ds),
        ffnGate: lv.get('ffn_gate', [1], ZEROS),
      };
    }),
  };
});

function memory(p: Params, H: Tensor, ctx: BridgeContext<FlamingoOptions>): BridgeMemory {
  return crossAttentionMemory(vars.read(p, ctx).layers.entries(), H); // each [B, T, Ds]
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
 * const dims = { teacher: 12, student: 8, studentLayers: 2 };
 * const p = flamingo.init(dims, options, prngKey(0));
 * const x = flamingo.apply(p, randomNormal(prngKey(1), [1, 5, 12]), { options, dims }); // [1, 5, 8]
 * ```
 */
export const flamingo = defineBridge<FlamingoOptions>({
  name: 'flamingo',
  description: 'tanh-gated cross-attention and feed-forward (Flamingo); gates start at 0',
  options: { layers: 1, heads: 8, dropout: 0, causal: true, ffnMult: 4 },
  init: vars.init,
  memory,
  apply(p: Params, H: Tensor, ctx: BridgeContext<FlamingoOptions>): Tensor {
    const o = ctx.options;
    const w = vars.read(p, ctx);
    const mem = ctx.memory ?? memory(p, H, ctx);
    const Tk = H.shape[1];
    const { q0, Tq } = queryWindow(ctx, Tk);
    const mask = crossMask(ctx.attentionMask, q0, Tq, Tk, o.causal); // [B|1, 1, Tq, Tk]
    let X = applyLinear(w.proj, rows(H, q0, Tq)); // [B, Tq, Ds]
    w.layers.forEach((wl, l) => {
      const key = ctx.training && ctx.key ? foldIn(ctx.key, l) : null;
      const a = crossAttend(wl, X, mem, l, { heads: o.heads, mask, dropout: o.dropout, key }); // [B, Tq, Ds]
      X = add(X, mul(tanh(wl.attnGate), a)); // [B, Tq, Ds]
      const f = applyLinear(wl.fc2, gelu(applyLinear(wl.fc1, applyNorm(wl.ffnNorm, X)))); // [B, Tq, Ds]
      X = add(X, mul(tanh(wl.ffnGate), f)); // [B, Tq, Ds]
    });
    return X;
  },
});
