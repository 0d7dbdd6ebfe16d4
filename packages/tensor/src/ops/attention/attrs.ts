/** What the fused attention primitives, their kernels and the CPU paths share: dims and attributes. */
import { broadcastShapes, type Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { PRIMITIVES } from '../../primitives/registry.js';

/** The score a hidden key gets in the composite (float32's lowest finite number, Hugging Face's `finfo.min`). */
export const MASK_VALUE = -3.4028234663852886e38;

export interface AttentionAttrs {
  readonly causal: boolean;
  readonly scale: number;
  readonly window: number;
  /** with `causal`: query i sees keys j ≤ i + offset (the queries' start among the keys) */
  readonly offset: number;
  /**
   * The forward may keep its probabilities P for its backward (CPU paths, bounded: see
   * ops/attention/cpu-cache.ts). Set when the node is built from inputs being differentiated
   * ({@link differentiated}): a residual of the forward decided with the graph, as JAX decides them when it
   * traces for `vjp`, never by evaluation-time state.
   */
  readonly keep: boolean;
  readonly [k: string]: unknown;
}

/** Dims of an attention node: batch shape, Tq, Tk, D, Dv. */
export function attentionDims(q: { shape: Shape }, k: { shape: Shape }, v: { shape: Shape }): { batch: number[]; tq: number; tk: number; d: number; dv: number } {
  const r = q.shape.length;
  return {
    batch: broadcastShapes('fusedAttention', q.shape.slice(0, -2), k.shape.slice(0, -2), v.shape.slice(0, -2)),
    tq: q.shape[r - 2],
    tk: k.shape[k.shape.length - 2],
    d: q.shape[r - 1],
    dv: v.shape[v.shape.length - 1],
  };
}

/** Whether a pending node depends on an argument autodiff is tracing (memo: the graph is immutable). */
const traced = new WeakMap<Tensor, boolean>();

/**
 * Whether any of `xs` depends on a leaf that autodiff's `vjp` / `grad` marks (`autograd.input`) through
 * differentiable ops: the values a gradient will flow back through. A teacher's forward under
 * `stopGradient`, an evaluation or generation do not.
 */
export function differentiated(xs: readonly Tensor[]): boolean {
  const stack: Tensor[] = [...xs];
  while (stack.length) {
    const t = stack.pop()!;
    if (traced.has(t)) continue;
    if (t.op === 'autograd.input') {
      traced.set(t, true);
      continue;
    }
    if (t.inputs.length === 0 || t.dtype !== 'float32' || PRIMITIVES.get(t.op)?.nonDifferentiable || t.op === 'stopGradient') {
      traced.set(t, false);
      continue;
    }
    const todo = t.inputs.filter((i) => !traced.has(i));
    if (todo.length === 0) traced.set(t, t.inputs.some((i) => traced.get(i)));
    else stack.push(t, ...todo);
  }
  return xs.some((x) => traced.get(x));
}
