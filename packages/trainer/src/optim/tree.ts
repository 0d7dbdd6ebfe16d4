import { treeFlatten, treeUnflatten, type PyTree, type TreeDef } from '@llm-modules/autograd';
import type { Tensor } from '@llm-modules/tensor';

/** Leaves of a parameter tree with dotted keys (`transformer.h.0.ln_1.weight` for flat HF-named trees). */
export function keyedLeaves(tree: PyTree): { keys: string[]; leaves: Tensor[]; def: TreeDef } {
  const { leaves, def } = treeFlatten(tree);
  return { keys: keysOf(def), leaves, def };
}

function keysOf(def: TreeDef, prefix = ''): string[] {
  if (def.kind === 'leaf') return [prefix];
  if (def.kind === 'static') return [];
  const join = (k: string | number) => (prefix ? `${prefix}.${k}` : String(k));
  if (def.kind === 'array') return def.children.flatMap((c, i) => keysOf(c, join(i)));
  return def.children.flatMap((c, i) => keysOf(c, join(def.keys[i])));
}

export const rebuild = <T = PyTree>(def: TreeDef, leaves: readonly Tensor[]): T => treeUnflatten<T>(def, leaves);
