/** Rotary position embeddings (RoPE) in Hugging Face's `rotate_half` convention. */
import { add, cast, concat, cos, mul, neg, reshape, sin, slice, tensor, type Tensor } from '@llm-modules/tensor';

/**
 * `inv_freq[k] = 1 / θ^(2k/d)` for `k < d/2`, rounded step by step to float32 as Hugging Face computes it.
 * @example `rotaryInvFreq(8, 1e6)` → Float32Array(4) [1, 0.0316…, 0.001, 0.0000316…]
 */
export function rotaryInvFreq(headDim: number, theta: number): Float32Array {
  if (headDim % 2 !== 0) throw new Error(`rotary embeddings need an even head_dim, got ${headDim}`);
  const out = new Float32Array(headDim / 2);
  for (let k = 0; k < out.length; k++) out[k] = 1 / Math.fround(theta ** Math.fround((2 * k) / headDim));
  return out;
}

/**
 * cos and sin of the rotation angles for int32 `positionIds` `[B, T]`: both `[B, 1, T, d]`,
 * `angle[p, k] = p·inv_freq[k mod d/2]` (the two halves repeat, `cat(freqs, freqs)`).
 *
 * @example
 * ```ts
 * import { tensor } from '@llm-modules/tensor';
 * const { cos, sin } = rotaryCosSin(tensor(new Int32Array([0, 1, 2]), [1, 3]), 8, 1e6); // [1, 1, 3, 8]
 * ```
 */
export function rotaryCosSin(positionIds: Tensor, headDim: number, theta: number): { cos: Tensor; sin: Tensor } {
  const [B, T] = positionIds.shape;
  const half = rotaryInvFreq(headDim, theta);
  const invFreq = new Float32Array(headDim);
  invFreq.set(half, 0);
  invFreq.set(half, headDim / 2);
  const pos = reshape(cast(positionIds, 'float32'), [B, 1, T, 1]); // [B, 1, T, 1]
  const angles = mul(pos, tensor(invFreq, [headDim])); // [B, 1, T, d]
  return { cos: cos(angles), sin: sin(angles) };
}

/**
 * `cat(−x[..., d/2:], x[..., :d/2])` along the last axis (pairs are `(k, k + d/2)`, not interleaved).
 * @example `rotateHalf(tensor([1, 2, 3, 4]))` → [-3, -4, 1, 2]
 */
export function rotateHalf(x: Tensor): Tensor {
  const d = x.shape[x.rank - 1];
  const lead = x.shape.map(() => 0);
  const first = slice(x, lead, [...x.shape.slice(0, -1), d / 2]); // [..., d/2]
  const second = slice(x, [...lead.slice(0, -1), d / 2]); // [..., d/2]
  return concat([neg(second), first], -1); // [..., d]
}

/**
 * Rotate queries or keys `x` `[B, H, T, d]` by `cos`/`sin` `[B, 1, T, d]`: `x·cos + rotate_half(x)·sin`.
 * @example-skip a fragment: `q` comes from the caller's code
 * @example `applyRotary(q, cos, sin)` with `{ cos, sin } = rotaryCosSin(positionIds, d, θ)`
 */
export function applyRotary(x: Tensor, cosT: Tensor, sinT: Tensor): Tensor {
  return add(mul(x, cosT), mul(rotateHalf(x), sinT)); // [B, H, T, d]
}
