/** `linear`: a projection only — the baseline with no attention at all (causal by construction). */
import type { PRNGKey, Tensor } from '@llm-modules/tensor';
import { defineBridge } from '../define.js';
import { linearNamed, queryWindow, rows, torchLinear } from '../nn.js';
import type { BridgeContext, BridgeDims, Params } from '../types.js';

export type LinearOptions = Record<string, never>;

/**
 * `linear`: `proj(H)` per position, Dt → Ds. Causal by construction (it never mixes positions).
 *
 * @example
 * ```ts
 * import { linearBridge } from '@llm-modules/bridge';
 * import { prngKey, randomNormal } from '@llm-modules/tensor';
 * const p = linearBridge.init({ teacher: 12, student: 8, studentLayers: 2 }, {}, prngKey(0));
 * const x = linearBridge.apply(p, randomNormal(prngKey(1), [1, 5, 12]), { options: {} }); // [1, 5, 8]
 * ```
 */
export const linearBridge = defineBridge<LinearOptions>({
  name: 'linear',
  description: 'a linear projection of the teacher states (no attention)',
  options: {},
  causal: () => true,
  init: (dims: BridgeDims, _o: LinearOptions, key: PRNGKey): Params => torchLinear(key, 'proj', dims.teacher, dims.student),
  apply(p: Params, H: Tensor, ctx: BridgeContext<LinearOptions>): Tensor {
    const { q0, Tq } = queryWindow(ctx, H.shape[1]);
    return linearNamed(p, 'proj', rows(H, q0, Tq)); // [B, Tq, Ds]
  },
});
