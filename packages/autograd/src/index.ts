/**
 * @llm-modules/autograd — functional reverse-mode autodiff over the lazy tensor graph of
 * `@llm-modules/tensor`. Gradient rules live next to each primitive (written in primitives, so
 * gradients of gradients work); this package walks the graph backwards.
 *
 * @example
 * ```ts
 * import { valueAndGrad } from '@llm-modules/autograd';
 * import { tensor, matmul, mean, tanh, evaluate } from '@llm-modules/tensor';
 * const params = { 'mlp.weight': tensor([[0.1, -0.2], [0.3, 0.4]]) };
 * const loss = (p: typeof params, x: ReturnType<typeof tensor>) => mean(tanh(matmul(x, p['mlp.weight'])));
 * const [value, grads] = valueAndGrad(loss)(params, tensor([[1, 2]]));
 * await evaluate(value, grads['mlp.weight']);
 * ```
 */
export { vjp, grad, valueAndGrad, type Grad, type Cotangent, type GradOptions } from './vjp.js';
export { customVjp, checkpoint } from './custom.js';
export { stopGradient } from '@llm-modules/tensor';
export { treeFlatten, treeUnflatten, treeMap, treeLeaves, type PyTree, type TreeDef } from './pytree.js';
