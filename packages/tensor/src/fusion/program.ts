/**
 * Elementwise programs: one fused group of elementwise nodes (or a single node) as an expression DAG
 * over its external inputs, cached by the group's structure. A program runs as one gpu.js kernel
 * (its statements printed into the elementwise kernel template), as a JavaScript loop, or as
 * WebAssembly SIMD (see backends/cpu/elementwise.ts).
 */
import { nonFiniteLit } from '../kernels/codegen.js';
import { PRIMITIVES } from '../primitives/registry.js';
import type { Tensor } from '../tensor.js';
import { DagBuilder, Unsupported, bindBody, printStatements, wasmCompatible, type Expr } from './expr.js';

export interface Program {
  readonly key: string;
  readonly root: Expr;
  /** the values the kernel writes, the root's first, then the group's extra outputs (see Group.extra) */
  readonly outputs: readonly Expr[];
  readonly nInputs: number;
  /** every node is implemented by the SIMD emitter */
  readonly simd: boolean;
  /** exp / log / tanh inside (SIMD pays off even for short arrays) */
  readonly transcendental: boolean;
  /** per-layout compiled kernels, filled by the executors */
  readonly compiled: Map<string, unknown>;
}

/**
 * A fused group: `members` in topological order, the last one the root (whose value leaves the group,
 * with any `extra` outputs'); `externals` the group's inputs from outside, in first-use order.
 */
export interface Group {
  readonly members: readonly Tensor[];
  readonly externals: readonly Tensor[];
  /**
   * Members besides the root whose values also leave the group (requested results consumed only inside
   * it: an optimizer's new moments, which its parameter update reads). The group's storage then holds
   * its outputs one after another, root first (see groupOutputs).
   */
  readonly extra?: readonly Tensor[];
  /**
   * A `sum` over the trailing axes of the root (or of a reshape of it) that the group's kernel reduces the
   * root into (plan.ts's sum groups, only on backends with `sumGroups`): the group then outputs that node's
   * values, one per row of `root.size / sum.size` consecutive values of the root, which is never stored.
   * Only single-output groups take one.
   */
  readonly sum?: Tensor;
  /** programOf's answer, kept on the group: the planner and the backend both ask (null: none) */
  program?: Program | null;
}

export const groupRoot = (g: Group): Tensor => g.members[g.members.length - 1];

/** The single-output group of the members `out` needs (a member of `g`), externals in first-use order. */
export function membersFor(g: Group, out: Tensor): Group {
  const all = new Set(g.members);
  const need = new Set<Tensor>([out]);
  for (let k = g.members.length - 1; k >= 0; k--) {
    const m = g.members[k];
    if (need.has(m)) for (const i of m.inputs) if (all.has(i)) need.add(i);
  }
  const members = g.members.filter((m) => need.has(m) && m !== out);
  members.push(out);
  const externals: Tensor[] = [];
  for (const m of members) for (const i of m.inputs) if (!all.has(i) && !externals.includes(i)) externals.push(i);
  return { members, externals };
}

/** The values a group's kernel writes, in storage order: the root, then its extra outputs. */
export const groupOutputs = (g: Group): readonly Tensor[] => (g.extra?.length ? [groupRoot(g), ...g.extra] : [groupRoot(g)]);

/** The structural key: ops, dtypes and wiring (which member or external feeds each input). */
export function groupKey(g: Group): string {
  if (g.members.length === 1) {
    const m = g.members[0];
    return `${m.op}:${m.dtype}:${m.inputs.map((i) => g.externals.indexOf(i)).join(',')}`;
  }
  const index = new Map<Tensor, string>();
  g.externals.forEach((e, k) => index.set(e, `e${k}`));
  const key = g.members
    .map((m, k) => {
      const key = `${m.op}:${m.dtype}(${m.inputs.map((i) => index.get(i) ?? '?').join(',')})`;
      index.set(m, `m${k}`);
      return key;
    })
    .join(';');
  return g.extra?.length ? `${key}>${g.extra.map((m) => index.get(m)).join(',')}` : key;
}

const cache = new Map<string, Program | null>();
const NAMES = ['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7'];

/** The program of a group, or undefined when a template is outside the supported language. */
export function programOf(g: Group): Program | undefined {
  if (g.program !== undefined) return g.program ?? undefined;
  const key = groupKey(g);
  let p = cache.get(key);
  if (p === undefined) {
    p = build(g, key) ?? null;
    cache.set(key, p);
  }
  g.program = p;
  return p ?? undefined;
}

function build(g: Group, key: string): Program | undefined {
  const dag = new DagBuilder();
  const value = new Map<Tensor, Expr>();
  g.externals.forEach((e, k) => value.set(e, dag.input(k)));
  try {
    for (const m of g.members) {
      const prim = PRIMITIVES.get(m.op);
      if (!prim?.elementwise) return undefined;
      const names = m.inputs.map((_, k) => NAMES[k] ?? `v${k}`);
      const body = prim.elementwise(m)(names);
      const args = m.inputs.map((i) => {
        const v = value.get(i);
        if (!v) throw new Unsupported('input outside the group');
        return v;
      });
      value.set(m, bindBody(dag, body, names, args));
    }
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
  const outputs = groupOutputs(g).map((m) => value.get(m)!);
  const calls = dag.nodes.filter((n) => n.k === 'call' && (n.f === 'exp' || n.f === 'log' || n.f === 'tanh'));
  return { key, root: outputs[0], outputs, nInputs: g.externals.length, simd: outputs.every(wasmCompatible), transcendental: calls.length > 0, compiled: new Map() };
}

/** The gpu.js kernel body of a program (statements ending in `return …;`) over input names `v`. */
export const programBody = (p: Program, v: readonly string[]): string => printStatements(p.root, (i) => v[i], undefined, nonFiniteLit);
