/**
 * Fusion planning: which pending elementwise nodes of one evaluation run together as one kernel.
 *
 * A node joins its consumers' group when it is elementwise, has the group's shape, was not asked for,
 * and every one of its consumers in this evaluation belongs to that same group. So a group is a
 * connected set of same-shape elementwise nodes whose only value leaving the group is the root's;
 * the others are never stored (like any unrequested intermediate, they stay pending). Chains, trees and
 * diamonds (a value used twice inside the group) all fuse; a value also needed outside the group is
 * computed once, as its own root. On backends with sum groups, a group whose root only a sum over all
 * axes reads is summed by its own kernel (sumGroups below). `LLM_MODULES_FUSION=0` or `setFusion(false)` turns fusion off.
 */
import { PRIMITIVES } from '../primitives/registry.js';
import { shapesEqual } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { programOf, type Group } from './program.js';

/** Upper bound on nodes per group (keeps kernel sources and compile times small). */
const MAX_MEMBERS = 48;
/** Upper bound on a group's inputs: GL drivers bind at most 16 textures to a kernel. */
const MAX_EXTERNALS = 12;
/**
 * The same for groups with extra outputs, which only the CPU backends run (no textures; each scalar
 * operand is an input of its own: an AdamW update has ten).
 */
const MAX_EXTERNALS_MULTI = 24;

let enabled = typeof process === 'undefined' || process.env?.LLM_MODULES_FUSION !== '0';

/** Turn evaluator-level fusion on or off; returns the previous setting. */
export function setFusion(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}
export const fusionEnabled = (): boolean => enabled;

const fusable = (t: Tensor): boolean => !t.view && t.size > 0 && PRIMITIVES.get(t.op)?.elementwise !== undefined;

export interface Plan {
  /** group of each root */
  readonly groups: Map<Tensor, Group>;
  /** members that are not roots (computed inside their root's kernel) */
  readonly inner: Set<Tensor>;
}

/**
 * Plan the groups of an evaluation order (inputs before consumers). With `multiOutput` (backends whose
 * kernels can write several outputs), a group that reads the root of another group, which nothing else
 * reads before it, takes that group in and writes its root as an extra output: AdamW's new moments m and
 * v are requested results, and the parameter update reads them — three kernels per update become one.
 * `maxInputs` lowers the bound on a group's inputs (the backend's `maxGroupInputs`).
 */
export function planFusion(order: readonly Tensor[], wanted: ReadonlySet<Tensor>, multiOutput = false, maxInputs = MAX_EXTERNALS, sums = false): Plan {
  const maxExternals = Math.min(maxInputs, MAX_EXTERNALS);
  const groups = new Map<Tensor, Group>();
  const inner = new Set<Tensor>();
  const consumers = new Map<Tensor, Tensor[]>();
  for (const t of order) {
    for (const i of t.inputs) {
      let c = consumers.get(i);
      if (!c) consumers.set(i, (c = []));
      c.push(t);
    }
  }
  interface Building {
    root: Tensor;
    members: Tensor[];
    /** inputs of members from outside the group (so far) */
    outside: Set<Tensor>;
  }
  const groupOf = new Map<Tensor, Building>();
  const building: Building[] = [];
  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k];
    if (!fusable(t)) continue;
    let g: Building | undefined;
    const cons = consumers.get(t);
    if (enabled && cons && !wanted.has(t)) {
      const first = groupOf.get(cons[0]);
      if (first && first.members.length < MAX_MEMBERS && shapesEqual(first.root.shape, t.shape) && cons.every((c) => groupOf.get(c) === first)) {
        const added = t.inputs.filter((i) => !first.outside.has(i)).length;
        if (first.outside.size - 1 + added <= maxExternals) g = first;
      }
    }
    if (g) {
      g.members.push(t);
      g.outside.delete(t);
    } else building.push((g = { root: t, members: [t], outside: new Set() }));
    for (const i of t.inputs) g.outside.add(i);
    groupOf.set(t, g);
  }
  for (const b of building) {
    const members = b.members.reverse(); // inputs before consumers, root last
    const set = new Set(members);
    const externals: Tensor[] = [];
    for (const m of members) for (const i of m.inputs) if (!set.has(i) && !externals.includes(i)) externals.push(i);
    const group: Group = { members, externals };
    if (members.length > 1 && !programOf(group)) {
      // a template outside the fusion language: run every member on its own
      for (const m of members) addSingle(m);
      continue;
    }
    groups.set(b.root, group);
    for (const m of members) if (m !== b.root) inner.add(m);
  }
  if (enabled && multiOutput) mergeOutputs(order, wanted, groups, inner, consumers);
  if (enabled && sums) sumGroups(order, wanted, groups, inner, consumers);
  return { groups, inner };

  function addSingle(m: Tensor): void {
    const externals: Tensor[] = [];
    for (const i of m.inputs) if (!externals.includes(i)) externals.push(i);
    groups.set(m, { members: [m], externals });
  }
}

/**
 * Take into each group the groups whose requested roots it reads (see planFusion), as extra outputs of
 * the same shape (float32), where every other reader of such a root comes later in the evaluation order. The
 * taken root stays in the order but is computed by the group that took it in, later: it is marked
 * inner, and nothing before that group reads it. Once a group has taken one in, a group whose root is
 * not requested and is read only by it (its readers were in the groups now taken in) joins it too.
 */
function mergeOutputs(order: readonly Tensor[], wanted: ReadonlySet<Tensor>, groups: Map<Tensor, Group>, inner: Set<Tensor>, consumers: ReadonlyMap<Tensor, Tensor[]>): void {
  // only a requested group root that some node reads can become an extra output
  if (![...wanted].some((w) => groups.has(w) && consumers.get(w)?.length)) return;
  const position = new Map<Tensor, number>();
  order.forEach((t, k) => position.set(t, k));
  for (const t of order) {
    let g = groups.get(t);
    if (!g || g.sum || t.dtype !== 'float32') continue;
    const at = position.get(t)!;
    for (let merged = true; merged; ) {
      merged = false;
      let members: Set<Tensor> | undefined;
      for (const e of g.externals) {
        const h = groups.get(e);
        if (!h || h === g || h.extra?.length || h.sum || !shapesEqual(e.shape, t.shape)) continue;
        members ??= new Set(g.members);
        const readers = consumers.get(e) ?? [];
        let extra: readonly Tensor[] | undefined;
        if (!wanted.has(e)) {
          // a group whose value only this group reads (its readers were split over groups that are now
          // one: AdamW's clipped gradient, read by both moments) runs inside it, never stored
          if (!g.extra?.length || !readers.every((c) => members!.has(c))) continue;
          extra = g.extra;
        } else {
          // e becomes an extra output; every other reader of e (a view of the requested result: an
          // unflattened slice) comes after t
          if (e.dtype !== 'float32' || !readers.every((c) => members!.has(c) || position.get(c)! > at)) continue;
          extra = [...(g.extra ?? []), e];
        }
        const joined = join(h, g, extra);
        if (!joined) continue;
        groups.delete(e);
        inner.add(e);
        groups.set(t, (g = joined));
        merged = true;
        break;
      }
    }
  }
}

/**
 * A `sum` over the trailing axes of a group's root, or of a reshape of it, joins that group (`Group.sum`)
 * when nothing else reads the root (or the reshapes) and nobody asked for them: the kernel adds up each
 * row of the root's values as it makes them, and never stores them. So the squares of a global norm,
 * `sum(mul(g, g))` (built as row sums of [blocks, chunk] tiles for a long g, primitives/reduce.ts), read g
 * once and write a few floats, where they wrote a 466 MB array for a paper-scale head and read it back.
 */
function sumGroups(order: readonly Tensor[], wanted: ReadonlySet<Tensor>, groups: Map<Tensor, Group>, inner: Set<Tensor>, consumers: ReadonlyMap<Tensor, Tensor[]>): void {
  const only = (x: Tensor, reader: Tensor): boolean => !wanted.has(x) && consumers.get(x)?.length === 1 && consumers.get(x)![0] === reader;
  for (const t of order) {
    if (t.op !== 'sum' || t.view || t.dtype !== 'float32' || t.inputs.length !== 1) continue;
    const v = t.inputs[0];
    const axes = t.attrs.axes as readonly number[];
    if (!axes.every((a, k) => a === v.shape.length - axes.length + k)) continue; // trailing axes: rows of consecutive values
    const reshapes: Tensor[] = [];
    let x = v;
    let reader = t;
    while (x.op === 'reshape' && !x.view && only(x, reader)) {
      reshapes.push(x);
      reader = x;
      x = x.inputs[0];
    }
    const g = groups.get(x);
    if (!g || g.extra?.length || g.sum || x.dtype !== 'float32' || !only(x, reader)) continue;
    groups.delete(x);
    inner.add(x);
    for (const r of reshapes) inner.add(r);
    groups.set(t, { members: g.members, externals: g.externals, sum: t });
  }
}

/** Group `h` followed by group `g` as one group with extra outputs `extra`, or undefined past the bounds. */
function join(h: Group, g: Group, extra: readonly Tensor[] | undefined): Group | undefined {
  if (g.members.length + h.members.length > MAX_MEMBERS) return undefined;
  const all = [...h.members, ...g.members];
  const set = new Set(all);
  const externals: Tensor[] = [];
  for (const m of all) for (const i of m.inputs) if (!set.has(i) && !externals.includes(i)) externals.push(i);
  if (externals.length > MAX_EXTERNALS_MULTI) return undefined;
  const joined: Group = extra?.length ? { members: all, externals, extra } : { members: all, externals };
  return programOf(joined) ? joined : undefined;
}
