/** The softmax cross-entropy primitives' attributes, label rule and input checks (shared by every file of the op). */
import { TensorError, fmtShape } from '../../errors.js';
import type { Tensor } from '../../tensor.js';

export interface CrossEntropyAttrs {
  /** label value whose rows are ignored (loss and gradient 0) */
  readonly ignoreIndex: number;
  readonly [k: string]: unknown;
}

/** Is `label` a class index of a row that counts (not `ignoreIndex`, inside `[0, C)`)? Labels are exact integers. */
export const countsLabel = (label: number, C: number, ignoreIndex: number): boolean => label !== ignoreIndex && label >= 0 && label < C;

/** Checks logits float32 [N, C ≥ 1], labels int32 [N] and an integer ignoreIndex. */
export function checkInputs(op: string, logits: Tensor, labels: Tensor, ignoreIndex: number): void {
  if (logits.rank !== 2 || logits.dtype !== 'float32') throw new TensorError(op, `logits must be float32 [N, C], got ${logits.dtype} ${fmtShape(logits.shape)}`);
  if (labels.rank !== 1 || labels.dtype !== 'int32') throw new TensorError(op, `labels must be int32 [N], got ${labels.dtype} ${fmtShape(labels.shape)}`);
  if (labels.shape[0] !== logits.shape[0]) throw new TensorError(op, `logits ${fmtShape(logits.shape)} and labels ${fmtShape(labels.shape)} differ in N`);
  if (logits.shape[1] === 0) throw new TensorError(op, `needs at least one class, got logits ${fmtShape(logits.shape)}`);
  if (!Number.isInteger(ignoreIndex)) throw new TensorError(op, `ignoreIndex must be an integer, got ${ignoreIndex}`);
}
