/** Normalisation layers over the last axis. */
import { add, layerNorm as tensorLayerNorm, mean, mul, rsqrt, type Tensor } from '@llm-modules/tensor';

/**
 * LayerNorm over the last axis, as `nn.LayerNorm`: `(x − μ)/√(σ² + eps)·weight + bias` with the biased
 * variance. `bias` may be omitted (no affine shift). The tensor package's `layerNorm`: the active
 * backend's lowering makes it the fused primitive (one kernel forward and one backward instead of a
 * dozen: CPU and reference backends) or the composite (gpu.js backend).
 *
 * @example
 * ```ts
 * import { tensor, ones, zeros } from '@llm-modules/tensor';
 * import { layerNorm } from '@llm-modules/transformer';
 * const y = layerNorm(tensor([[1, 2, 3]]), ones([3]), zeros([3])); // ≈ [[-1.2247, 0, 1.2247]]
 * ```
 */
export function layerNorm(x: Tensor, weight: Tensor, bias?: Tensor | null, eps = 1e-5): Tensor {
  return tensorLayerNorm(x, weight, bias, eps);
}

/**
 * RMSNorm (Qwen2RMSNorm): `weight · x/√(mean(x²) + eps)`, computed in float32 as Hugging Face does
 * (the compute dtype is float32 here, so the upcast is the identity). No bias.
 *
 * @example
 * ```ts
 * import { tensor, ones } from '@llm-modules/tensor';
 * import { rmsNorm } from '@llm-modules/transformer';
 * const y = rmsNorm(tensor([[3, 4]]), ones([2])); // ≈ [[0.8485, 1.1314]]
 * ```
 */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  const variance = mean(mul(x, x), -1, true); // [..., 1]
  return mul(weight, mul(x, rsqrt(add(variance, eps))));
}
