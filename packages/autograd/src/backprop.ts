/**
 * The reverse-mode core: record the part of a lazy graph that lies between some source nodes and some
 * outputs (a tape), then walk it backwards applying each primitive's vjp rule.
 *
 * Rules of the walk (the "explicit rules" for what gets no gradient):
 * - Only float32 nodes carry cotangents. An int32/bool node (a comparison, `argmax`, a cast to int) is
 *   piecewise constant: nothing flows through it, so gather indices, masks and ids never get gradients.
 * - A primitive marked `nonDifferentiable` (e.g. `stopGradient`) stops the walk.
 * - A vjp rule returning `null` for an input sends nothing there.
 * - Sources are not expanded: the walk stops at them even when they have inputs of their own.
 */
import { PRIMITIVES, add, concat, zeros, type Primitive, type Tensor } from '@llm-modules/tensor';

interface Entry {
  readonly node: Tensor;
  /** The node's inputs when the tape was recorded (evaluation later empties `node.inputs`). */
  readonly inputs: readonly Tensor[];
  readonly prim: Primitive | undefined;
}

/** The recorded graph between sources and outputs, inputs before consumers. */
export interface Tape {
  readonly entries: readonly Entry[];
  readonly relevant: ReadonlySet<Tensor>;
  readonly sources: ReadonlySet<Tensor>;
}

const shapesEqual = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);
const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** Does the walk look behind `t`? */
function expandable(t: Tensor, prim: Primitive | undefined): boolean {
  return t.dtype === 'float32' && t.inputs.length > 0 && !prim?.nonDifferentiable;
}

/**
 * Record the tape of `outputs` with respect to `sources`: every float node on a path from a source to an
 * output, in topological order (iterative, so deep graphs do not overflow the stack).
 */
export function record(outputs: readonly Tensor[], sources: Iterable<Tensor>): Tape {
  const src = new Set(sources);
  const relevant = new Set<Tensor>();
  const visited = new Set<Tensor>();
  const entries: Entry[] = [];
  const stack: { t: Tensor; k: number; ins: readonly Tensor[]; prim: Primitive | undefined }[] = [];
  const push = (t: Tensor): void => {
    visited.add(t);
    const prim = PRIMITIVES.get(t.op);
    const ins = src.has(t) || !expandable(t, prim) ? [] : t.inputs;
    stack.push({ t, k: 0, ins, prim });
  };
  for (const o of outputs) {
    if (visited.has(o)) continue;
    push(o);
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (top.k < top.ins.length) {
        const inp = top.ins[top.k++];
        if (!visited.has(inp)) push(inp);
        continue;
      }
      stack.pop();
      const { t, ins, prim } = top;
      if (src.has(t)) {
        relevant.add(t);
        entries.push({ node: t, inputs: [], prim });
      } else if (ins.some((i) => relevant.has(i))) {
        if (!prim) throw new Error(`autograd: unknown primitive "${t.op}" on a path to the output (${t.toString()})`);
        relevant.add(t);
        entries.push({ node: t, inputs: ins, prim });
      }
    }
  }
  return { entries, relevant, sources: src };
}

/**
 * Propagate cotangents from `seeds` (output node → its cotangent, same shape) back through the tape.
 * Returns the cotangent reaching each source that was reached (missing = zero). The result is a lazy
 * graph built from primitives, so it can itself be differentiated.
 */
export function backward(tape: Tape, seeds: readonly (readonly [Tensor, Tensor | null])[]): Map<Tensor, Tensor> {
  // contributions are summed when the node's turn comes, so that slices' pads can be joined (sumOf)
  const parts = new Map<Tensor, Tensor[]>();
  const accumulate = (t: Tensor, g: Tensor): void => {
    const list = parts.get(t);
    if (list) list.push(g);
    else parts.set(t, [g]);
  };
  for (const [o, g] of seeds) {
    if (!g || !tape.relevant.has(o)) continue;
    if (!shapesEqual(g.shape, o.shape)) throw new Error(`autograd: cotangent of shape ${fmt(g.shape)} for an output of shape ${fmt(o.shape)}`);
    accumulate(o, g);
  }
  const reached = new Map<Tensor, Tensor>();
  for (let i = tape.entries.length - 1; i >= 0; i--) {
    const { node, inputs, prim } = tape.entries[i];
    const contributions = parts.get(node);
    if (!contributions) continue;
    parts.delete(node);
    const g = sumOf(contributions);
    if (tape.sources.has(node)) {
      reached.set(node, g);
      continue;
    }
    if (!prim?.vjp) {
      throw new Error(`autograd: primitive "${node.op}" has no gradient rule and is not marked nonDifferentiable`);
    }
    const gs = prim.vjp(g, node, inputs);
    inputs.forEach((x, k) => {
      const gx = gs[k];
      if (!gx || !tape.relevant.has(x)) return;
      if (!shapesEqual(gx.shape, x.shape)) {
        throw new Error(`autograd: the vjp rule of "${node.op}" returned a cotangent of shape ${fmt(gx.shape)} for input ${k} of shape ${fmt(x.shape)}`);
      }
      if (gx.dtype === 'float32') accumulate(x, gx);
    });
  }
  return reached;
}

/** A zero-valued `pad` of its one input along a single axis: its axis, its offset there, and the input. */
function padAlongOneAxis(t: Tensor): { axis: number; at: number; inner: Tensor } | undefined {
  if (t.op !== 'pad' || t.inputs.length !== 1 || t.attrs.value !== 0) return undefined;
  const pads = t.attrs.pads as [number, number][];
  const axes = pads.flatMap(([lo, hi], k) => (lo !== 0 || hi !== 0 ? [k] : []));
  return axes.length === 1 ? { axis: axes[0], at: pads[axes[0]][0], inner: t.inputs[0] } : undefined;
}

/** The sum of a node's cotangent contributions, in arrival order (or joined, see joinedSlices). */
const sumOf = (gs: readonly Tensor[]): Tensor => (gs.length === 1 ? gs[0] : (joinedSlices(gs) ?? gs.reduce((a, b) => add(a, b))));

/**
 * When every contribution is the zero-padded cotangent of a slice along the same axis and the slices do not
 * overlap (a tensor cut into parts: q, k and v out of one product, the halves of rotate_half), their sum as
 * one concat of the parts, zeros in the gaps, instead of full-size pads and additions: the same values, a
 * fraction of the memory traffic. Undefined otherwise (overlapping slices really add up).
 */
function joinedSlices(gs: readonly Tensor[]): Tensor | undefined {
  const pads = gs.map(padAlongOneAxis);
  const axis = pads[0]?.axis;
  if (axis === undefined || !pads.every((p) => p?.axis === axis)) return undefined;
  const shape = gs[0].shape;
  const gap = (n: number): Tensor => zeros(shape.map((d, k) => (k === axis ? n : d)));
  const pieces: Tensor[] = [];
  let end = 0;
  for (const { at, inner } of (pads as { at: number; inner: Tensor }[]).slice().sort((a, b) => a.at - b.at)) {
    if (at < end) return undefined;
    if (at > end) pieces.push(gap(at - end));
    pieces.push(inner);
    end = at + inner.shape[axis];
  }
  if (end < shape[axis]) pieces.push(gap(shape[axis] - end));
  return concat(pieces, axis);
}

/** The float32 nodes an output's graph reaches that existed before `startId` (the free variables of a traced function). */
export function freeVariables(outputs: readonly Tensor[], startId: number): Tensor[] {
  const seen = new Set<Tensor>();
  const found: Tensor[] = [];
  const stack = [...outputs];
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    if (t.dtype !== 'float32' || PRIMITIVES.get(t.op)?.nonDifferentiable) continue;
    if (t.id < startId) {
      found.push(t);
      continue;
    }
    for (const i of t.inputs) stack.push(i);
  }
  return found.sort((a, b) => a.id - b.id);
}
