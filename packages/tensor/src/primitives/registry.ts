import type { DType } from '../dtype.js';
import type { Shape } from '../shape.js';
import type { View } from '../backend.js';
import type { GpuKernel } from '../kernels/codegen.js';
import { Tensor, type Attrs } from '../tensor.js';

/** Gradient rule: cotangent of the output → cotangents of each input (`null` = no gradient flows there). */
export type VjpRule = (g: Tensor, node: Tensor, inputs: readonly Tensor[]) => (Tensor | null)[];

/**
 * A primitive: the closed set of ops every backend implements. Its forward (a gpu.js kernel source or a
 * view transform), its shape rule (in the op's builder function, next to it) and its gradient rule live
 * together in one file under `primitives/`, but for the few rules that build on ops of a file which imports
 * theirs: those are in basic-rules.ts (attached with `setVjp`), so the files import each other without cycles.
 */
export interface Primitive {
  readonly name: string;
  /** View ops move no data: they return a new view of the input's storage, or undefined when the input must be made contiguous first. */
  readonly view?: (node: Tensor, input: View) => View | undefined;
  /** Kernel ops: the gpu.js source computing the flat output index `this.thread.x`. */
  readonly gpujs?: (node: Tensor, inputs: readonly View[]) => GpuKernel;
  /**
   * Elementwise ops: the body template of the kernel (statements ending in `return …;`, given the
   * names of the input values), for fusion and the fast CPU paths. It may depend on the node's dtype
   * only. The op's `gpujs` kernel is `elementwiseKernel(shape, inputs, template)`.
   */
  readonly elementwise?: (node: Tensor) => (v: readonly string[]) => string;
  /**
   * Kernel ops whose result may already lie in their inputs' storage (concat of adjacent blocks of one
   * storage): that view, and no kernel; undefined when the kernel must run.
   */
  readonly alias?: (node: Tensor, inputs: readonly View[]) => View | undefined;
  /**
   * The input whose storage the kernel may write its output into, when that input is an intermediate of
   * the evaluation that nothing reads afterwards (evaluate.ts checks it; the backend may ignore it): each
   * output element is written only after the values of the input it needs are read. The cross-entropy
   * gradient over a paper-scale head's [512, 151,646] logits writes into them instead of 310 MB of fresh pages.
   */
  readonly inPlace?: number;
  /** Host ops: values made on the host at evaluation time (scalar constants), no kernel. */
  readonly host?: (node: Tensor) => Float32Array | Float64Array;
  readonly vjp?: VjpRule;
  /** Set (with the reason) when no gradient flows through the op by definition. */
  readonly nonDifferentiable?: string;
}

export const PRIMITIVES = new Map<string, Primitive>();

export function definePrimitive(p: Primitive): Primitive {
  if (PRIMITIVES.has(p.name)) throw new Error(`primitive ${p.name} defined twice`);
  if (!p.view && !p.gpujs && !p.host) throw new Error(`primitive ${p.name} has neither a kernel, a view nor a host rule`);
  PRIMITIVES.set(p.name, p);
  return p;
}

/**
 * Attach the gradient rule of a primitive defined elsewhere. Rules that call builders of other primitive
 * files live apart from their ops (primitives/basic-rules.ts), so the primitive files import each other in
 * one direction only; the entry module loads those rules before any gradient is taken. The map entry is
 * replaced, not mutated, as a Primitive is read-only.
 */
export function setVjp(name: string, vjp: VjpRule): void {
  const p = PRIMITIVES.get(name);
  if (!p) throw new Error(`cannot set the gradient rule of unknown primitive ${name}`);
  if (p.vjp || p.nonDifferentiable) throw new Error(`primitive ${name} already has a gradient rule (or none by definition)`);
  PRIMITIVES.set(name, { ...p, vjp });
}

/** Build a pending node. */
export const node = (op: string, shape: Shape, dtype: DType, inputs: readonly Tensor[], attrs: Attrs = {}): Tensor =>
  new Tensor(shape, dtype, op, inputs, attrs);
