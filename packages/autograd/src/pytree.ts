/**
 * Pytrees: nested plain objects and arrays whose leaves are tensors. Parameters are pytrees keyed by
 * Hugging Face names (`{ 'transformer.wte.weight': t, … }` or nested `{ transformer: { wte: … } }`).
 *
 * The rule: arrays and plain objects (prototype `Object.prototype` or `null`) are containers; a
 * `Tensor` is a leaf; anything else (numbers, strings, booleans, `null`, `undefined`, class instances)
 * is a *static* leaf: carried along unchanged, never differentiated, and `null` in a gradient tree.
 * Object keys keep their enumeration order.
 */
import { isTensor, type Tensor } from '@llm-modules/tensor';

/** A nested structure of tensors (and static values). */
export type PyTree = Tensor | null | undefined | number | string | boolean | readonly PyTree[] | { readonly [key: string]: PyTree };

/** The shape of a pytree without its tensors: enough to rebuild it from a list of leaves. */
export type TreeDef =
  | { readonly kind: 'leaf' }
  | { readonly kind: 'static'; readonly value: unknown }
  | { readonly kind: 'array'; readonly children: readonly TreeDef[] }
  | { readonly kind: 'object'; readonly keys: readonly string[]; readonly children: readonly TreeDef[] };

const LEAF: TreeDef = { kind: 'leaf' };

const isPlainObject = (x: unknown): x is Record<string, unknown> => {
  if (x === null || typeof x !== 'object') return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
};

/**
 * Split a pytree into its tensor leaves (depth first, keys in order) and its structure.
 *
 * @example
 * ```ts
 * import { treeFlatten, treeUnflatten } from '@llm-modules/autograd';
 * import { tensor } from '@llm-modules/tensor';
 * const [x, a, b] = [tensor([1]), tensor([2]), tensor([3])];
 * const { leaves, def } = treeFlatten({ w: x, layers: [a, b], name: 'mlp' }); // 'mlp' is a static leaf
 * console.log(leaves.length, treeUnflatten(def, leaves)); // 3 { w: x, layers: [a, b], name: 'mlp' }
 * ```
 */
export function treeFlatten(tree: unknown): { leaves: Tensor[]; def: TreeDef } {
  const leaves: Tensor[] = [];
  const walk = (t: unknown): TreeDef => {
    if (isTensor(t)) {
      leaves.push(t);
      return LEAF;
    }
    if (Array.isArray(t)) return { kind: 'array', children: t.map(walk) };
    if (isPlainObject(t)) {
      const keys = Object.keys(t);
      return { kind: 'object', keys, children: keys.map((k) => walk(t[k])) };
    }
    return { kind: 'static', value: t };
  };
  const def = walk(tree);
  return { leaves, def };
}

/** Number of tensor leaves a structure holds. */
export function treeLeafCount(def: TreeDef): number {
  if (def.kind === 'leaf') return 1;
  if (def.kind === 'static') return 0;
  return def.children.reduce((n, c) => n + treeLeafCount(c), 0);
}

/**
 * Rebuild a pytree from its structure and leaves (in `treeFlatten` order). With `staticAs`, static
 * leaves are replaced by that value (gradient trees use `null`).
 *
 * @example
 * ```ts
 * import { mul, tensor } from '@llm-modules/tensor';
 * const { leaves, def } = treeFlatten({ w: tensor([1, 2]), b: tensor([3]) });
 * const doubled = treeUnflatten<{ w: ReturnType<typeof tensor> }>(def, leaves.map((t) => mul(t, 2)));
 * console.log(await doubled.w.array()); // [2, 4]
 * ```
 */
export function treeUnflatten<T = PyTree>(def: TreeDef, leaves: readonly unknown[], options: { staticAs?: unknown } = {}): T {
  const expected = treeLeafCount(def);
  if (leaves.length !== expected) throw new Error(`treeUnflatten: the structure has ${expected} leaves, got ${leaves.length}`);
  let k = 0;
  const build = (d: TreeDef): unknown => {
    switch (d.kind) {
      case 'leaf':
        return leaves[k++];
      case 'static':
        return 'staticAs' in options ? options.staticAs : d.value;
      case 'array':
        return d.children.map(build);
      case 'object': {
        const out: Record<string, unknown> = {};
        d.keys.forEach((key, i) => (out[key] = build(d.children[i])));
        return out;
      }
    }
  };
  return build(def) as T;
}

/**
 * Apply `fn` to every tensor leaf; static leaves are kept.
 *
 * @example
 * ```ts
 * import { treeMap } from '@llm-modules/autograd';
 * import { sub, mul, tensor } from '@llm-modules/tensor';
 * const params = { w: tensor([1, 2]) };
 * const grads = { w: tensor([10, -10]) };
 * const next = treeMap((p, g) => sub(p, mul(g, 0.01)), params, grads) as typeof params; // one SGD step
 * console.log(await next.w.array()); // [0.9, 2.1]
 * ```
 */
export function treeMap<T extends PyTree>(fn: (leaf: Tensor, ...rest: Tensor[]) => Tensor, tree: T, ...rest: PyTree[]): T {
  const { leaves, def } = treeFlatten(tree);
  const others = rest.map((r) => {
    const f = treeFlatten(r);
    if (!sameStructure(f.def, def)) throw new Error('treeMap: the trees have different structures');
    return f.leaves;
  });
  return treeUnflatten<T>(def, leaves.map((l, i) => fn(l, ...others.map((o) => o[i]))));
}

/** The tensor leaves of a pytree, in order. @example `treeLeaves({ w: tensor([1]), layers: [tensor([2]), 'static'] }).length` → 2 */
export const treeLeaves = (tree: unknown): Tensor[] => treeFlatten(tree).leaves;

/** Do two structures have the same containers, keys and leaf positions? (Static values and null leaves may differ.) */
export function sameStructure(a: TreeDef, b: TreeDef): boolean {
  if (a.kind === 'static' || b.kind === 'static') return a.kind === b.kind;
  if (a.kind !== b.kind) return false;
  if (a.kind === 'leaf') return true;
  const bc = (b as { children: readonly TreeDef[] }).children;
  if (a.children.length !== bc.length) return false;
  if (a.kind === 'object' && a.keys.some((key, i) => key !== (b as { keys: readonly string[] }).keys[i])) return false;
  return a.children.every((c, i) => sameStructure(c, bc[i]));
}

/** Human-readable path of every leaf (`.a.b[0]`), for error messages. */
export function leafPaths(def: TreeDef, prefix = ''): string[] {
  if (def.kind === 'leaf') return [prefix || '(root)'];
  if (def.kind === 'static') return [];
  if (def.kind === 'array') return def.children.flatMap((c, i) => leafPaths(c, `${prefix}[${i}]`));
  return def.children.flatMap((c, i) => leafPaths(c, `${prefix}.${def.keys[i]}`));
}

/**
 * Read the values at the leaf positions of `def` from `tree`, which must have the same containers and
 * keys; a `null`/`undefined` where a whole subtree is expected gives `null` for all its leaves. Used for
 * cotangent trees, where `null` means zero.
 */
export function leavesLike(def: TreeDef, tree: unknown, what: string): unknown[] {
  const out: unknown[] = [];
  const walk = (d: TreeDef, t: unknown, path: string): void => {
    if (d.kind === 'static') return;
    if (t === null || t === undefined) {
      for (let i = treeLeafCount(d); i > 0; i--) out.push(null);
      return;
    }
    if (d.kind === 'leaf') {
      out.push(t);
      return;
    }
    if (d.kind === 'array') {
      if (!Array.isArray(t) || t.length !== d.children.length) throw new Error(`${what}: expected an array of ${d.children.length} at ${path || '(root)'}`);
      d.children.forEach((c, i) => walk(c, t[i], `${path}[${i}]`));
      return;
    }
    if (!isPlainObject(t)) throw new Error(`${what}: expected an object with keys ${d.keys.join(', ')} at ${path || '(root)'}`);
    const extra = Object.keys(t).filter((k) => !d.keys.includes(k));
    if (extra.length) throw new Error(`${what}: unexpected keys ${extra.join(', ')} at ${path || '(root)'}`);
    d.children.forEach((c, i) => walk(c, t[d.keys[i]], `${path}.${d.keys[i]}`));
  };
  walk(def, tree, '');
  return out;
}
