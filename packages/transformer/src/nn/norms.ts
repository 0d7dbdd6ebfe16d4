/** Normalisation layers over the last axis. */
import { add, getBackend, layerNorm as fusedLayerNorm, mean, mul, rsqrt, sub, type Tensor } from '@llm-modules/tensor';

/** Backends whose fused LayerNorm kernels are fast (the gpu.js kernel of its gradient loops over every row per weight element). */
const FUSED_BACKENDS = new Set(['webasm', 'threads']);

/**
 * LayerNorm over the last axis, as `nn.LayerNorm`: `(x − μ)/√(σ² + eps)·weight + bias` with the biased
 * variance. `bias` may be omitted (no affine shift). On the webasm / threads backends (and for a float32
 * x with weight and bias of shape [C]) it is the fused primitive of the tensor package: one kernel
 * forward and one backward instead of a dozen; elsewhere the composite below.
 *
 * @example
 * ```ts
 * import { tensor, ones, zeros } from '@llm-modules/tensor';
 * import { layerNorm } from '@llm-modules/transformer';
 * const y = layerNorm(tensor([[1, 2, 3]]), ones([3]), zeros([3])); // ≈ [[-1.2247, 0, 1.2247]]
 * ```
 */
export function layerNorm(x: Tensor, weight: Tensor, bias?: Tensor | null, eps = 1e-5): Tensor {
  const C = x.shape[x.rank - 1];
  const isVector = (t: Tensor | null | undefined) => !t || (t.dtype === 'float32' && t.rank === 1 && t.shape[0] === C);
  if (FUSED_BACKENDS.has(getBackend().name) && x.dtype === 'float32' && x.rank >= 1 && C >= 1 && eps >= 0 && Number.isFinite(eps) && isVector(weight) && isVector(bias)) {
    return fusedLayerNorm(x, weight, bias, eps);
  }
  const centered = sub(x, mean(x, -1, true)); // [..., D]
  const variance = mean(mul(centered, centered), -1, true); // [..., 1]
  const y = mul(mul(centered, rsqrt(add(variance, eps))), weight);
  return bias ? add(y, bias) : y;
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
