import { treeMap, type PyTree } from '@llm-modules/autograd';
import { add, mul } from '@llm-modules/tensor';

/**
 * Sum gradient trees of several micro-batches (gradient accumulation). Divide by their count with
 * `scaleTree` when the loss is a per-batch mean.
 * @example-skip a fragment: `g1` comes from the caller's code
 * @example `const g = scaleTree(accumulate([g1, g2]), 0.5)`
 */
export function accumulate<T extends PyTree>(trees: readonly T[]): T {
  if (trees.length === 0) throw new Error('accumulate: no gradient trees');
  return trees.slice(1).reduce((acc, t) => treeMap((a, b) => add(a, b), acc, t), trees[0]);
}

/** Multiply every leaf by `factor`. */
export const scaleTree = <T extends PyTree>(tree: T, factor: number): T => treeMap((x) => mul(x, factor), tree);
