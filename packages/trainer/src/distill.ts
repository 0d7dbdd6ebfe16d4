/**
 * Knowledge distillation (Hinton et al., 2015): the student also matches the frozen teacher's next-token
 * distribution, softened by a temperature T, where the teacher's vocabulary applies. Built from autograd ops only
 * (log-softmax, exp, sums), so its gradient is the composite's: `T·(p_s − p_t)` per logit before the T² scale.
 */
import { add, cast, div, exp, logSoftmax, maximum, mul, neg, notEqual, reshape, slice, softmaxCrossEntropy, stopGradient, sub, sum, type Tensor } from '@llm-modules/tensor';
import { linear, shiftedLabels } from '@llm-modules/transformer';
import { IGNORE_INDEX } from './data/batches.js';

/** The distillation term of a train config (`training.kd`): loss = cross-entropy + weight · KD. */
export interface KdOptions {
  /** the KD term's weight next to the cross-entropy (0: off) */
  weight: number;
  /** the softening temperature T (> 0); the term is scaled by T² so its gradient keeps its size as T grows */
  temperature: number;
  /**
   * `uniform` (default): every trained position counts alike; `label-probability`: each position is weighted by the
   * teacher's probability (at T = 1) of the data's next token there, so the student is distilled where the teacher
   * knows the answer and not where the data's format is new to it
   */
  weighting?: 'uniform' | 'label-probability';
}

/**
 * `T² · Σ_rows mask · Σ_v p_t (log p_t − log p_s)` over rows `[N, V]` and the kept-row count, with
 * `p = softmax(logits / T)`. Only the first `min(V_student, V_teacher)` columns are compared (a head over the
 * tokenizer's ids can be shorter than the teacher's padded vocabulary); both are renormalised over them. The
 * teacher's logits get no gradient.
 *
 * @example
 * ```ts
 * import { tensor } from '@llm-modules/tensor';
 * const { total, count } = distillationSum(tensor([[0, 0]]), tensor([[0, 0]]), tensor([1]), 2);
 * console.log(await total.data(), await count.data()); // [0] (the same distribution) [1]
 * ```
 */
export function distillationSum(student: Tensor, teacher: Tensor, mask: Tensor, temperature: number): { total: Tensor; count: Tensor } {
  if (!(temperature > 0)) throw new Error(`distillation: the temperature must be > 0, got ${temperature}`);
  const [N, Vs] = student.shape;
  const Vt = teacher.shape[1];
  if (teacher.shape[0] !== N) throw new Error(`distillation: ${N} student rows but ${teacher.shape[0]} teacher rows`);
  const V = Math.min(Vs, Vt);
  const s = Vs === V ? student : slice(student, [0, 0], [N, V]);
  const t = Vt === V ? stopGradient(teacher) : slice(stopGradient(teacher), [0, 0], [N, V]);
  const logPs = logSoftmax(div(s, temperature), -1); // [N, V]
  const logPt = logSoftmax(div(t, temperature), -1); // [N, V]
  const perRow = sum(mul(exp(logPt), sub(logPt, logPs)), [1]); // [N]: KL(p_t ‖ p_s) per row
  return { total: mul(sum(mul(perRow, mask)), temperature * temperature), count: sum(mask) };
}

/** 1 where position t is trained (its next label is kept), else 0: `[B, T]` float32, the causal loss's positions. */
const trainedPositions = (next: Tensor): Tensor => cast(notEqual(next, IGNORE_INDEX), 'float32');

/**
 * The mean KD term over the positions a causal-LM loss trains (position t where `labels[:, t+1]` is kept — the
 * loss mask): student and teacher logits `[B, T, V]` and `[B, T, V']`, labels `[B, T]` int32 (−100: no loss).
 * 0 when no position is kept.
 *
 * @example
 * ```ts
 * import { tensor } from '@llm-modules/tensor';
 * const student = tensor([[[0, 0], [0, 0]]]); // [1, 2, 2]: uniform
 * const teacher = tensor([[[Math.log(3), 0], [5, 0]]]); // position 0: p_t = (3/4, 1/4)
 * const labels = tensor(new Int32Array([7, 8]), [1, 2]); // position 0 predicts a kept label, position 1 nothing
 * console.log(await distillationLoss(student, teacher, labels, { temperature: 1 }).data()); // [0.1308] = ¾ln(3/2) + ¼ln(1/2)
 * ```
 */
export function distillationLoss(student: Tensor, teacher: Tensor, labels: Tensor, opts: Pick<KdOptions, 'temperature' | 'weighting'>): Tensor {
  const [B, T, V] = student.shape;
  if (teacher.shape[0] !== B || teacher.shape[1] !== T) throw new Error(`distillation: student logits [${student.shape.join(', ')}] and teacher logits [${teacher.shape.join(', ')}] differ in batch or length`);
  const t2 = reshape(teacher, [B * T, teacher.shape[2]]);
  const next = reshape(shiftedLabels(labels), [B * T]);
  const mask = trainedPositions(next);
  const { total } = distillationSum(reshape(student, [B * T, V]), t2, positionWeights(t2, next, mask, opts.weighting), opts.temperature);
  return div(total, maximum(sum(mask), 1)); // the mean over trained positions, as the cross-entropy's
}

/** Each row's KD weight: the mask, times the teacher's probability of the next label with `label-probability`. */
function positionWeights(teacherRows: Tensor, next: Tensor, mask: Tensor, weighting: KdOptions['weighting'] = 'uniform'): Tensor {
  if (weighting === 'uniform') return mask;
  // −log p_t(label) per row (0 where ignored: the mask is 0 there too); the teacher's logits get no gradient
  const p = exp(neg(softmaxCrossEntropy(stopGradient(teacherRows), next, IGNORE_INDEX))); // [B·T]
  return mul(mask, p);
}

/**
 * {@link distillationLoss} of `linear(studentHidden, studentHead)` against `linear(teacherHidden, teacherHead)`,
 * `chunk` positions at a time, so neither `[B, T, V]` logits tensor exists whole (at a 151,936-way vocabulary and
 * T = 2,048 each would be 1.2 GB per sequence). The same value as the unchunked loss up to float32 summation order.
 *
 * @example-skip a fragment: needs a composed model's student hidden states and the teacher's last hidden states
 * @example
 * ```ts
 * const kd = chunkedDistillationLoss(out.lastHiddenState, params['head.weight'], teacherLast, teacherParams['lm_head.weight'], batch.labels, { temperature: 2 });
 * ```
 */
export function chunkedDistillationLoss(studentHidden: Tensor, studentHead: Tensor, teacherHidden: Tensor, teacherHead: Tensor, labels: Tensor, opts: Pick<KdOptions, 'temperature' | 'weighting'> & { chunk?: number }): Tensor {
  const [B, T, Ds] = studentHidden.shape;
  const Dt = teacherHidden.shape[2];
  const chunk = opts.chunk ?? 512;
  const next = shiftedLabels(labels); // [B, T]
  const mask = trainedPositions(next); // [B, T]
  let total: Tensor | undefined;
  for (let s = 0; s < T; s += chunk) {
    const e = Math.min(T, s + chunk);
    const student = linear(reshape(slice(studentHidden, [0, s, 0], [B, e, Ds]), [-1, Ds]), studentHead); // [B·L, V]
    const teacher = linear(reshape(slice(teacherHidden, [0, s, 0], [B, e, Dt]), [-1, Dt]), teacherHead); // [B·L, V']
    const rows = (x: Tensor) => reshape(slice(x, [0, s], [B, e]), [-1]); // [B·L]
    const part = distillationSum(student, teacher, positionWeights(teacher, rows(next), rows(mask), opts.weighting), opts.temperature);
    total = total ? add(total, part.total) : part.total;
  }
  return div(total!, maximum(sum(mask), 1));
}
