/**
 * Composite ops that will live in @llm-modules/transformer, written here as small pure functions of
 * tensor primitives so their gradients can be checked now. Each follows its textbook definition.
 */
import {
  add,
  arange,
  cast,
  div,
  erf,
  gather,
  greater,
  logSoftmax,
  matmul,
  maximum,
  mean,
  mul,
  neg,
  notEqual,
  permute,
  pow,
  reshape,
  rsqrt,
  softmax,
  sub,
  sum,
  tanh,
  where,
  type Tensor,
} from '@llm-modules/tensor';

/** LayerNorm over the last axis: (x − μ)/√(σ² + eps)·γ + β (biased variance, as in PyTorch). */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  const xc = sub(x, mean(x, -1, true));
  const variance = mean(mul(xc, xc), -1, true);
  return add(mul(mul(xc, rsqrt(add(variance, eps))), gamma), beta);
}

/** RMSNorm over the last axis: x/√(mean(x²) + eps)·w (Qwen2). */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  return mul(mul(x, rsqrt(add(mean(mul(x, x), -1, true), eps))), weight);
}

/** GELU, exact form: x·Φ(x) = x/2·(1 + erf(x/√2)). */
export const geluErf = (x: Tensor): Tensor => mul(mul(x, 0.5), add(1, erf(mul(x, Math.SQRT1_2))));

/** GELU, tanh form (`gelu_new` of GPT-2/GPT-Neo): x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export const geluTanh = (x: Tensor): Tensor =>
  mul(mul(x, 0.5), add(1, tanh(mul(add(x, mul(pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI)))));

/**
 * Mean cross-entropy of `logits` [..., C] against int32 `labels` [...]; positions whose label is
 * `ignoreIndex` count neither in the sum nor in the mean (as PyTorch's `ignore_index`).
 */
export function crossEntropy(logits: Tensor, labels: Tensor, ignoreIndex = -100): Tensor {
  const C = logits.shape[logits.rank - 1];
  const N = labels.size;
  const valid = reshape(notEqual(labels, ignoreIndex), [N]);
  const safe = where(valid, reshape(labels, [N]), 0);
  const logp = reshape(logSoftmax(logits, -1), [N * C]);
  const picked = gather(logp, add(mul(arange(N), C), safe), 0);
  const weight = cast(valid, 'float32');
  return div(neg(sum(mul(picked, weight))), maximum(sum(weight), 1));
}

/** Swap the last two axes. */
const swapLast = (x: Tensor): Tensor => permute(x, [...x.shape.slice(0, -2).map((_, k) => k), x.rank - 1, x.rank - 2]);

/**
 * Scaled dot-product attention: q [B, H, T, D], k and v [B, H, S, D]. `causal` hides keys after each
 * query (queries aligned to the last T keys); `keyMask` [B, S] (bool, true = keep) hides padding.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, { causal = false, keyMask }: { causal?: boolean; keyMask?: Tensor } = {}): Tensor {
  const [T, S, D] = [q.shape[q.rank - 2], k.shape[k.rank - 2], q.shape[q.rank - 1]];
  let scores = mul(matmul(q, swapLast(k)), 1 / Math.sqrt(D));
  if (causal) {
    const future = greater(reshape(arange(S), [1, S]), reshape(arange(S - T, S), [T, 1]));
    scores = where(future, -1e9, scores);
  }
  if (keyMask) scores = where(reshape(keyMask, [keyMask.shape[0], 1, 1, S]), scores, -1e9);
  return matmul(softmax(scores, -1), v);
}

/** Embedding lookup: rows of `table` [V, D] picked by int32 `ids` [...] → [..., D]. */
export const embedding = (table: Tensor, ids: Tensor): Tensor => gather(table, ids, 0);

/** A two-layer tanh MLP with a scalar output: Σ tanh(x·W1 + b1)·W2. */
export function mlp(params: { w1: Tensor; b1: Tensor; w2: Tensor }, x: Tensor): Tensor {
  return sum(matmul(tanh(add(matmul(x, params.w1), params.b1)), params.w2));
}
