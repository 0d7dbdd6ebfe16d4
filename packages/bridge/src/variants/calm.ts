/**
 * `calm`: Composition to Augment Language Models (Bansal et al., ICLR 2024) — cross-attention from several
 * student blocks into projected teacher states, added residually inside the student.
 */
import { add, foldIn, type Tensor } from '@llm-modules/tensor';
import { defineBridge } from '../define.js';
import { crossAttend, crossAttentionMemory, crossAttentionVars } from '../cross-attention.js';
import { crossMask, queryWindow, rows } from '../nn.js';
import type { BridgeContext, BridgeDims, BridgeMemory, Params } from '../types.js';
import { applyLinear, declareVars, torchLinearVars } from '../vars.js';

export interface CalmOptions {
  /** Cross-attend after every `every`-th student block (blocks every−1, 2·every−1, …; CALM: 4). */
  every: number;
  /** Explicit block indices instead of `every` (null: use `every`). */
  layers: number[] | null;
  heads: number;
  dropout: number;
  causal: boolean;
}

/**
 * The student blocks CALM cross-attends after: `options.layers`, else every `every`-th block — and the last
 * block when the student is shorter than `every` (so there is always at least one).
 * @example `calmLayers({ every: 4, layers: null } as CalmOptions, 12)` → [3, 7, 11]
 */
export function calmLayers(o: CalmOptions, studentLayers: number): number[] {
  if (o.layers) {
    const bad = o.layers.filter((l) => !Number.isInteger(l) || l < 0 || l >= studentLayers);
    if (bad.length) throw new Error(`calm: layers ${bad.join(', ')} are not blocks of a ${studentLayers}-block student`);
    return [...new Set(o.layers)].sort((a, b) => a - b);
  }
  if (!(Number.isInteger(o.every) && o.every >= 1)) throw new Error(`calm: every must be a positive integer, got ${o.every}`);
  const out: number[] = [];
  for (let l = o.every - 1; l < studentLayers; l += o.every) out.push(l);
  return out.length ? out : [studentLayers - 1];
}

/** Each parameter once: name, shape, init key. `hooks[l]` exists for each hooked block l. */
const vars = declareVars((vb, dims: BridgeDims, o: CalmOptions) => {
  const { teacher: Dt, student: Ds } = dims;
  if (Ds % o.heads !== 0) throw new Error(`calm: ${o.heads} heads do not divide the student width ${Ds}`);
  const inputProj = torchLinearVars(vb.pp('input_proj', 0), Dt, Ds);
  const hooks = new Map(
    calmLayers(o, dims.studentLayers).map((l) => {
      const hv = vb.pp(`hooks.${l}`, 100 + l);
      return [l, { proj: torchLinearVars(hv.pp('proj', 0), Dt, Ds), ...crossAttentionVars(hv, Ds, Ds, 1) }] as const;
    }),
  );
  return { inputProj, hooks };
});

/** Per hooked block: keys and values of that block's projection of the teacher states. */
function memory(p: Params, H: Tensor, ctx: BridgeContext<CalmOptions>): BridgeMemory {
  return crossAttentionMemory(vars.read(p, ctx).hooks, (w) => applyLinear(w.proj, H)); // each [B, T, Ds]
}

/**
 * `calm`: the student's inputs are `input_proj(H)`; after each hooked student block (every 4th by default),
 * `h = h + out_proj(attention(q_proj(LN(h)), k/v of proj_l(H)))`. Causal by default. The hook runs inside the
 * student, so `composeModel` drives the student block by block.
 *
 * @example-skip a fragment: needs a teacher and a student (see composeModel's example)
 * @example
 * ```ts
 * import { calm, composeModel } from '@llm-modules/bridge';
 * const model = composeModel({ teacher, student: { model: student }, bridge: { variant: calm, options: { every: 2, heads: 4 } } });
 * ```
 */
export const calm = defineBridge<CalmOptions>({
  name: 'calm',
  description: 'CALM: cross-attention from every few student blocks into projected teacher states, added residually',
  options: { every: 4, layers: null, heads: 8, dropout: 0, causal: true },
  init: vars.init,
  memory,
  apply(p: Params, H: Tensor, ctx: BridgeContext<CalmOptions>): Tensor {
    const { q0, Tq } = queryWindow(ctx, H.shape[1]);
    return applyLinear(vars.read(p, ctx).inputProj, rows(H, q0, Tq)); // [B, Tq, Ds]
  },
  student: {
    layers: (o: CalmOptions, dims: BridgeDims) => calmLayers(o, dims.studentLayers),
    apply(p: Params, layer: number, h: Tensor, H: Tensor, ctx: BridgeContext<CalmOptions>): Tensor {
      const o = ctx.options;
      const w = vars.read(p, ctx).hooks.get(layer);
      if (!w) throw new Error(`calm: student block ${layer} has no hook`);
      const mem = ctx.memory ?? memory(p, H, ctx);
      const Tk = H.shape[1];
      const { q0, Tq } = queryWindow(ctx, Tk);
      const mask = crossMask(ctx.attentionMask, q0, Tq, Tk, o.causal); // [B|1, 1, Tq, Tk]
      const key = ctx.training && ctx.key ? foldIn(ctx.key, 1000 + layer) : null;
      return add(h, crossAttend(w, h, mem, layer, { heads: o.heads, mask, dropout: o.dropout, key })); // [B, Tq, Ds]
    },
  },
});
