/** Next-token cross-entropy, as Hugging Face's causal-LM heads compute it. */
import { add, cast, concat, div, full, maximum, notEqual, reshape, slice, softmaxCrossEntropy, sum, where, type Tensor } from '@llm-modules/tensor';
import { linear } from './linear.js';

/** Label value that is ignored (PyTorch's `ignore_index`). */
export const IGNORE_INDEX = -100;

/**
 * Sum of `−log p(label)` over the positions whose label is not {@link IGNORE_INDEX}, and their count:
 * `logits` `[N, C]` (float32), `labels` `[N]` (int32). The per-row losses come from the fused
 * `softmaxCrossEntropy` primitive (one kernel forward, one backward, stable for large logits); a label
 * outside `[0, C)` other than IGNORE_INDEX adds 0 to the total but counts.
 *
 * @example
 * ```ts
 * import { tensor } from '@llm-modules/tensor';
 * const logits2d = tensor([[0, 0], [0, 0]]); // [N, V]: two uniform guesses over 2 classes
 * const labels1d = tensor(new Int32Array([1, -100]), [2]); // -100 is ignored
 * const { total, count } = crossEntropySum(logits2d, labels1d); // mean = total / count
 * console.log(await total.data(), await count.data()); // [0.693…] (ln 2) [1] (one kept token)
 * ```
 */
export function crossEntropySum(logits: Tensor, labels: Tensor): { total: Tensor; count: Tensor } {
  const losses = softmaxCrossEntropy(logits, labels, IGNORE_INDEX); // [N], 0 where ignored
  return { total: sum(losses), count: sum(cast(notEqual(labels, IGNORE_INDEX), 'float32')) };
}

/**
 * Mean cross-entropy of `logits` `[..., C]` against int32 `labels` `[...]`, ignoring {@link IGNORE_INDEX}
 * (0 when every label is ignored).
 *
 * @example
 * ```ts
 * import { tensor } from '@llm-modules/tensor';
 * const loss = crossEntropy(tensor([[2, 0], [0, 2]]), tensor(new Int32Array([0, -100])));
 * console.log(await loss.data()); // [0.1269]
 * ```
 */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  const C = logits.shape[logits.rank - 1];
  const { total, count } = crossEntropySum(reshape(logits, [-1, C]), reshape(labels, [-1]));
  return div(total, maximum(count, 1));
}

/**
 * Causal-LM loss: `logits[:, t]` predicts `labels[:, t+1]`; the mean is over every kept token of the whole
 * batch (not a mean of per-sequence means), computed on float32 logits — as Hugging Face's `*ForCausalLM`.
 * `logits` `[B, T, V]`, `labels` `[B, T]` int32 (pads set to −100, see {@link labelsFromMask}).
 *
 * @example
 * ```ts
 * import { parseConfig } from '@llm-modules/loaders';
 * import { prngKey, tensor } from '@llm-modules/tensor';
 * const model = createModel(parseConfig({ model_type: 'gpt_neo', vocab_size: 96, hidden_size: 32, num_layers: 2, num_heads: 4, intermediate_size: 64, max_position_embeddings: 32, attention_types: [[['global', 'local'], 1]] }));
 * const params = model.init(prngKey(0));
 * const ids = tensor(new Int32Array([5, 6, 7, 0, 8, 9, 10, 11]), [2, 4]);
 * const mask = tensor(new Int32Array([1, 1, 1, 0, 1, 1, 1, 1]), [2, 4]); // right padding
 * const { logits } = model.apply(params, ids, { attentionMask: mask });
 * const loss = causalLMLoss(logits, labelsFromMask(ids, mask));
 * console.log(await loss.data()); // about ln 96 ≈ 4.56 for an untrained model
 * ```
 */
export function causalLMLoss(logits: Tensor, labels: Tensor): Tensor {
  const [B, T] = logits.shape;
  if (T < 2) throw new Error(`causalLMLoss: needs at least 2 positions, got ${T}`);
  // shift the labels, not the logits: slicing [B, T, V] logits would cost a copy of its gradient (a pad)
  // per step, and at a 151k vocabulary that is 0.3 GB per sequence of 512. The last position gets no label.
  return crossEntropy(logits, shiftedLabels(labels, B, T));
}

/**
 * `labels[:, 1:]` with IGNORE_INDEX appended: position t's target `[B, T]` (the causal losses' positions).
 * @example
 * ```ts
 * import { tensor } from '@llm-modules/tensor';
 * import { shiftedLabels } from '@llm-modules/transformer';
 * console.log(await shiftedLabels(tensor([[5, 6, 7]], [1, 3], 'int32')).array()); // [[6, 7, -100]]
 * ```
 */
export function shiftedLabels(labels: Tensor, B = labels.shape[0], T = labels.shape[1]): Tensor {
  return concat([slice(labels, [0, 1], [B, T]), full([B, 1], IGNORE_INDEX, 'int32')], 1); // [B, T]
}

/**
 * {@link causalLMLoss} of `linear(hidden, headWeight)` computed `chunk` positions at a time, so the `[B, T, V]`
 * logits never exist at once: with a 151,646-way head and T = 2,048 they would be 1.2 GB per copy. The same
 * value and gradients as the unchunked loss (up to float32 summation order).
 *
 * @example-skip a fragment: needs a model with an untied lm_head, its params and labels (see causalLMLoss's example)
 * @example
 * ```ts
 * const { lastHiddenState } = model.apply(params, ids); // [B, T, D]
 * const loss = chunkedCausalLMLoss(lastHiddenState, params['lm_head.weight'], labels, 512);
 * ```
 */
export function chunkedCausalLMLoss(hidden: Tensor, headWeight: Tensor, labels: Tensor, chunk = 512): Tensor {
  const [B, T, D] = hidden.shape;
  if (T < 2) throw new Error(`chunkedCausalLMLoss: needs at least 2 positions, got ${T}`);
  const target = shiftedLabels(labels, B, T);
  let total: Tensor | undefined;
  let count: Tensor | undefined;
  for (let s = 0; s < T; s += chunk) {
    const e = Math.min(T, s + chunk);
    const logits = linear(reshape(slice(hidden, [0, s, 0], [B, e, D]), [-1, D]), headWeight); // [B·L, V]
    const part = crossEntropySum(logits, reshape(slice(target, [0, s], [B, e]), [-1]));
    total = total ? add(total, part.total) : part.total;
    count = count ? add(count, part.count) : part.count;
  }
  return div(total!, maximum(count!, 1));
}

/**
 * Labels for a causal LM: `inputIds` where `attentionMask` is 1, {@link IGNORE_INDEX} where it is 0 (pads).
 * @example
 * ```ts
 * const ids = tensor(new Int32Array([5, 6, 0, 7, 8, 9]), [2, 3]);
 * const mask = tensor(new Int32Array([1, 1, 0, 1, 1, 1]), [2, 3]);
 * console.log(await labelsFromMask(ids, mask).array()); // [[5, 6, -100], [7, 8, 9]]
 * ```
 */
export function labelsFromMask(inputIds: Tensor, attentionMask: Tensor): Tensor {
  return where(notEqual(attentionMask, 0), inputIds, IGNORE_INDEX);
}
