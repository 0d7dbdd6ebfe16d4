import { isRecordLike, isReadableTensor, type ReadableTensor, type TensorRecord } from './records.js';

/** A tensor leaf of a tree: a Tensor or a record. */
export type TensorLeaf = ReadableTensor | Omit<TensorRecord, 'name'>;

export function isTensorLeaf(x: unknown): x is TensorLeaf {
  return isRecordLike(x) || isReadableTensor(x);
}

/**
 * Replace every tensor leaf of a tree (nested objects and arrays) by `replace(leaf, dottedPath)`.
 * Other values are kept as they are; plain objects and arrays are copied.
 */
export function mapLeaves(tree: unknown, replace: (leaf: TensorLeaf, path: string) => unknown, path = ''): unknown {
  if (isTensorLeaf(tree)) return replace(tree, path);
  if (Array.isArray(tree)) return tree.map((v, i) => mapLeaves(v, replace, path === '' ? String(i) : `${path}.${i}`));
  if (tree !== null && typeof tree === 'object' && Object.getPrototypeOf(tree) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(tree)) out[k] = mapLeaves(v, replace, path === '' ? k : `${path}.${k}`);
    return out;
  }
  return tree;
}

/** Replace every leaf matching `is` (any value kind) by `replace(leaf)`, walking plain objects and arrays. */
export function mapValues<T>(tree: unknown, is: (x: unknown) => x is T, replace: (leaf: T) => unknown): unknown {
  if (is(tree)) return replace(tree);
  if (Array.isArray(tree)) return tree.map((v) => mapValues(v, is, replace));
  if (tree !== null && typeof tree === 'object' && Object.getPrototypeOf(tree) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(tree)) out[k] = mapValues(v, is, replace);
    return out;
  }
  return tree;
}

/**
 * Flatten a params tree to `{ dottedName: leaf }`, the names Hugging Face's safetensors use
 * (`{ model: { layers: [{ … }] } }` → `model.layers.0.…`). Flat trees keyed by full names give the same names.
 *
 * @example
 * ```ts
 * const t = { dtype: 'float32', shape: [1], data: new Float32Array([1]) };
 * console.log([...flattenTree({ model: { norm: { weight: t } } }).keys()]); // ['model.norm.weight']
 * ```
 */
export function flattenTree(tree: unknown): Map<string, TensorLeaf> {
  const out = new Map<string, TensorLeaf>();
  mapLeaves(tree, (leaf, path) => {
    const name = path === '' ? 'tensor' : path;
    if (out.has(name)) throw new Error(`two tensors of the tree have the same name "${name}"`);
    out.set(name, leaf);
    return null;
  });
  return out;
}
