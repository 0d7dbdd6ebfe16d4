import type { PyTree } from '@llm-modules/autograd';
import { add, div, mul, sqrt, sub, zeros, type Tensor } from '@llm-modules/tensor';
import { groupOf, lrAt, type LearningRate, type Optimizer, type ParamGroup } from './types.js';
import { keyedLeaves, rebuild } from './tree.js';

export interface AdamWOptions {
  lr: LearningRate;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** per-parameter overrides, e.g. the paper's bridge at 1e-4 and student at 5e-5 */
  groups?: ParamGroup[];
}

export interface AdamWState {
  /** number of updates applied so far */
  step: number;
  m: PyTree;
  v: PyTree;
}

/**
 * AdamW with decoupled weight decay and bias correction, exactly as PyTorch's `torch.optim.AdamW`:
 * `p ← p·(1 − lr·wd)`, `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
 * `p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)`.
 *
 * @example
 * ```ts
 * import { adamw } from '@llm-modules/trainer';
 * const opt = adamw({ lr: 1e-4, groups: [{ match: 'gptneo.', lr: 5e-5 }] });
 * let state = opt.init(params);
 * [params, state] = opt.update(grads, state, params);
 * ```
 */
export function adamw({ lr, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0.01, groups = [] }: AdamWOptions): Optimizer<AdamWState> {
  const [b1, b2] = betas;
  return {
    init(params) {
      const { leaves, def } = keyedLeaves(params);
      const zero = leaves.map((p) => zeros(p.shape));
      return { step: 0, m: rebuild(def, zero), v: rebuild(def, zero) };
    },
    update(grads, state, params) {
      const t = state.step + 1;
      const { keys, leaves: ps, def } = keyedLeaves(params);
      const gs = keyedLeaves(grads).leaves;
      const ms = keyedLeaves(state.m).leaves;
      const vs = keyedLeaves(state.v).leaves;
      if (gs.length !== ps.length || ms.length !== ps.length) throw new Error(`adamw: gradients (${gs.length}) and state (${ms.length}) do not match the ${ps.length} parameters`);
      const next: Tensor[] = [];
      const nm: Tensor[] = [];
      const nv: Tensor[] = [];
      ps.forEach((p, i) => {
        const group = groupOf(groups, keys[i]);
        const rate = lrAt(group?.lr ?? lr, t);
        const wd = group?.weightDecay ?? weightDecay;
        const g = gs[i];
        const m = add(mul(ms[i], b1), mul(g, 1 - b1));
        const v = add(mul(vs[i], b2), mul(mul(g, g), 1 - b2));
        const denom = add(div(sqrt(v), Math.sqrt(1 - b2 ** t)), eps);
        const decayed = wd ? mul(p, 1 - rate * wd) : p;
        next.push(sub(decayed, mul(div(m, denom), rate / (1 - b1 ** t))));
        nm.push(m);
        nv.push(v);
      });
      return [rebuild(def, next), { step: t, m: rebuild(def, nm), v: rebuild(def, nv) }];
    },
  };
}
