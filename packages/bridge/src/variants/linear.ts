/** `linear`: a projection only — the baseline with no attention at all (causal by construction). */
import type { Tensor } from '@llm-modules/tensor';
import { defineBridge } from '../define.js';
import { queryWindow, rows } from '../nn.js';
import type { BridgeContext, Params } from '../types.js';
import { applyLinear, declareVars, torchLinearVars } from '../vars.js';

export type LinearOptions = Record<string, never>;

/** Its one parameter: `proj` Dt → Ds, drawn from the bridge's key itself. */
const vars = declareVars((vb, dims, _o: LinearOptions) => ({ proj: torchLinearVars(vb.pp('proj'), dims.teacher, dims.student) }));

/**
 * `linear`: `proj(H)` per position, Dt → Ds. Causal by construction (it never mixes positions).
 *
 * @example
 * ```ts
 * import { linearBridge } from '@llm-modules/bridge';
 * import { prngKey, randomNormal } from '@llm-modules/tensor';
 * const dims = { teacher: 12, student: 8, studentLayers: 2 };
 * const p = linearBridge.init(dims, {}, prngKey(0));
 * const x = linearBridge.apply(p, randomNormal(prngKey(1), [1, 5, 12]), { options: {}, dims }); // [1, 5, 8]
 * ```
 */
export const linearBridge = defineBridge<LinearOptions>({
  name: 'linear',
  description: 'a linear projection of the teacher states (no attention)',
  options: {},
  causal: () => true,
  init: vars.init,
  apply(p: Params, H: Tensor, ctx: BridgeContext<LinearOptions>): Tensor {
    const { q0, Tq } = queryWindow(ctx, H.shape[1]);
    return applyLinear(vars.read(p, ctx).proj, rows(H, q0, Tq)); // [B, Tq, Ds]
  },
});
