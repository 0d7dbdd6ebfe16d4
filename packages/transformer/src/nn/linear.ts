/** Linear layers and embeddings: the two ways a parameter matrix meets the activations. */
import { add, gather, matmul, reshape, transpose, type Tensor } from '@llm-modules/tensor';

/**
 * `x · Wᵀ + b`, as PyTorch's `nn.Linear`: `weight` is `[out, in]` (the safetensors layout), `bias` `[out]`.
 * Leading dims of `x` are kept.
 *
 * @example
 * ```ts
 * import { tensor } from '@llm-modules/tensor';
 * import { linear } from '@llm-modules/transformer';
 * const y = linear(tensor([[1, 2]]), tensor([[1, 0], [0, 1], [1, 1]]), tensor([0, 0, 10]));
 * console.log(await y.array()); // [[1, 2, 13]]
 * ```
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const inDim = x.shape[x.rank - 1];
  if (weight.rank !== 2 || weight.shape[1] !== inDim) {
    throw new Error(`linear: weight [${weight.shape.join(', ')}] does not take inputs [${x.shape.join(', ')}] (expected [out, ${inDim}])`);
  }
  const lead = x.shape.slice(0, -1);
  const flat = x.rank === 2 ? x : reshape(x, [-1, inDim]); // [N, in]
  const y = matmul(flat, transpose(weight)); // [N, out]
  const shaped = x.rank === 2 ? y : reshape(y, [...lead, weight.shape[0]]); // [..., out]
  // the bias after the reshape: in x's shape, its add fuses with what follows (a residual add)
  return bias ? add(shaped, bias) : shaped;
}

/**
 * Embedding lookup (`nn.Embedding`): rows of `table` `[V, D]` picked by int32 `ids` `[...]` → `[..., D]`.
 * Ids outside `[0, V)` are clamped by the tensor core (as in JAX), never read out of bounds.
 *
 * @example
 * ```ts
 * import { tensor } from '@llm-modules/tensor';
 * import { embedding } from '@llm-modules/transformer';
 * const e = embedding(tensor([[0, 0], [1, 1], [2, 2]]), tensor(new Int32Array([2, 0]), [1, 2]));
 * console.log(e.shape); // [1, 2, 2]
 * ```
 */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  if (ids.dtype !== 'int32') throw new Error(`embedding: ids must be int32, got ${ids.dtype}`);
  return gather(table, ids, 0); // [..., D]
}
