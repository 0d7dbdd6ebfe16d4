import { add, mul, sub, zeros, type Tensor } from '@llm-modules/tensor';
import type { PyTree } from '@llm-modules/autograd';
import { groupOf, lrAt, type LearningRate, type Optimizer, type ParamGroup } from './types.js';
import { keyedLeaves, rebuild } from './tree.js';

export interface SgdOptions {
  lr: LearningRate;
  momentum?: number;
  weightDecay?: number;
  groups?: ParamGroup[];
}

/**
 * Stochastic gradient descent with optional momentum (PyTorch convention: `b ← μb + g`, `p ← p − lr·b`)
 * and L2 weight decay added to the gradient.
 * @example `const opt = sgd({ lr: 0.1, momentum: 0.9 })`
 */
export function sgd({ lr, momentum = 0, weightDecay = 0, groups = [] }: SgdOptions): Optimizer<{ step: number; buf: PyTree }> {
  return {
    init(params) {
      const { leaves, def } = keyedLeaves(params);
      return { step: 0, buf: rebuild(def, leaves.map((p) => zeros(p.shape))) };
    },
    update(grads, state, params) {
      const t = state.step + 1;
      const { keys, leaves: ps, def } = keyedLeaves(params);
      const gs = keyedLeaves(grads).leaves;
      const bs = keyedLeaves(state.buf).leaves;
      const next: Tensor[] = [];
      const nb: Tensor[] = [];
      ps.forEach((p, i) => {
        const group = groupOf(groups, keys[i]);
        const wd = group?.weightDecay ?? weightDecay;
        const g = wd ? add(gs[i], mul(p, wd)) : gs[i];
        const b = momentum ? (t === 1 ? g : add(mul(bs[i], momentum), g)) : g;
        next.push(sub(p, mul(b, lrAt(group?.lr ?? lr, t))));
        nb.push(b);
      });
      return [rebuild(def, next) as typeof params, { step: t, buf: rebuild(def, nb) }];
    },
  };
}
