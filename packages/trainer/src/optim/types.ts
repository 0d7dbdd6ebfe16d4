import type { PyTree } from '@llm-modules/autograd';

/** A learning rate: a constant or a function of the (1-based) step number. */
export type LearningRate = number | ((step: number) => number);

/**
 * A pure optimizer: `init` builds the state for a parameter tree, `update` returns the new parameters
 * and state without touching the old ones (tensors are immutable; evaluate the results to realize them).
 */
export interface Optimizer<S = unknown> {
  init(params: PyTree): S;
  /** New parameters of the same tree shape as `params` (typed as it, so callers need no cast), and the new state. */
  update<P extends PyTree>(grads: PyTree, state: S, params: P): [P, S];
}

/** Parameters whose key matches get their own learning rate and weight decay (first match wins). */
export interface ParamGroup {
  /** a key prefix, a RegExp tested against the key, or a predicate */
  match: string | RegExp | ((key: string) => boolean);
  lr?: LearningRate;
  weightDecay?: number;
}

export const lrAt = (lr: LearningRate, step: number): number => (typeof lr === 'function' ? lr(step) : lr);

export function groupOf(groups: readonly ParamGroup[], key: string): ParamGroup | undefined {
  return groups.find(({ match }) => (typeof match === 'string' ? key.startsWith(match) : match instanceof RegExp ? match.test(key) : match(key)));
}
