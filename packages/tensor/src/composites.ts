/** Composite ops built only from primitives: their gradients come for free from the primitives' rules. */
import { normalizeAxes, sizeOf } from './shape.js';
import type { Tensor } from './tensor.js';
import { add, div, greater, less, sub, where } from './primitives/binary.js';
import { exp, log, stopGradient, abs } from './primitives/unary.js';
import { max, sum, type Axes } from './primitives/reduce.js';
import { normalizeAxis } from './shape.js';
import { reshape } from './primitives/movement.js';
import { zeros } from './creation.js';

/** Arithmetic mean over `axes` (all when omitted). @example `mean(tensor([1, 2, 3, 6]))` → 3 */
export function mean(x: Tensor, axes?: Axes, keepdims = false): Tensor {
  const ax = normalizeAxes('mean', axes, x.shape);
  const count = sizeOf(ax.map((k) => x.shape[k]));
  return div(sum(x, ax, keepdims), count);
}

/** max with a gradient-free, finite shift (rows of −∞ shift by 0 instead of producing NaN). */
function safeMax(x: Tensor, axes: number[]): Tensor {
  if (axes.some((k) => x.shape[k] === 0)) return zeros(x.shape.map((d, k) => (axes.includes(k) ? 1 : d)));
  const m = stopGradient(max(x, axes, true));
  return where(less(abs(m), Infinity), m, 0);
}

/**
 * log Σ exp(x) over `axes`, computed stably (shifted by the max).
 * @example `logsumexp(tensor([0, 0]))` → log 2
 */
export function logsumexp(x: Tensor, axes?: Axes, keepdims = false): Tensor {
  const ax = normalizeAxes('logsumexp', axes, x.shape);
  const m = safeMax(x, ax);
  const out = add(log(sum(exp(sub(x, m)), ax, true)), m);
  return keepdims ? out : reshape(out, x.shape.filter((_, k) => !ax.includes(k)));
}

/**
 * Softmax along `axis` (default last): exp(x − max) / Σ exp(x − max). Logits of ±1e4 are fine.
 * @example `softmax(tensor([[1, 2, 3]]))`
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  const ax = [normalizeAxis('softmax', axis, x.shape)];
  const e = exp(sub(x, safeMax(x, ax)));
  return div(e, sum(e, ax, true));
}

/** log(softmax(x)) along `axis`, computed as x − logsumexp(x). @example-skip a fragment: `logits` comes from the caller's code @example `logSoftmax(logits, -1)` */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const ax = normalizeAxis('logSoftmax', axis, x.shape);
  return sub(x, logsumexp(x, [ax], true));
}

/** ReLU, as a composite: where(x > 0, x, 0). */
export const relu = (x: Tensor): Tensor => where(greater(x, 0), x, 0);
