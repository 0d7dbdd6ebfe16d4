import { treeLeaves, treeMap, type PyTree } from '@llm-modules/autograd';
import { add, minimum, mul, sqrt, sum, div, type Tensor } from '@llm-modules/tensor';

/** ‖concat(all leaves)‖₂ as a 0-d tensor. @example-skip a fragment: `grads` comes from the caller's code @example `globalNorm(grads)` */
export function globalNorm(tree: PyTree): Tensor {
  const squares = treeLeaves(tree).map((g) => sum(mul(g, g)));
  return sqrt(squares.reduce((a, b) => add(a, b)));
}

/**
 * Scale gradients so their global norm is at most `maxNorm` (PyTorch's `clip_grad_norm_`: the factor is
 * `min(1, maxNorm / (norm + 1e-6))`). Returns the clipped tree and the norm before clipping.
 *
 * @example
 * ```ts
 * import { tensor } from '@llm-modules/tensor';
 * const [clipped, norm] = clipByGlobalNorm({ a: tensor([3]), b: tensor([4]) }, 1.0); // global norm 5
 * console.log(await norm.data(), await (clipped as { a: ReturnType<typeof tensor> }).a.data()); // [5] [0.6]
 * ```
 */
export function clipByGlobalNorm<T extends PyTree>(grads: T, maxNorm: number): [T, Tensor] {
  const norm = globalNorm(grads);
  const coef = minimum(div(maxNorm, add(norm, 1e-6)), 1);
  return [treeMap((g) => mul(g, coef), grads), norm];
}
