/**
 * One example order for the teacher-state cache, shared by `cache-teacher` and `train`: examples sorted by their
 * token ids, so a cache written from a data file's rows (file order) fingerprints and indexes the same as one
 * written by `train` (split order: train, then validation).
 */
import type { Example } from '../data/format.js';

const compareIds = (a: readonly number[], b: readonly number[]): number => {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
};

/**
 * The cache's order of `examples` and, for every example given, its index in that order.
 * @example-skip a fragment: `train` comes from the caller's code
 * @example `const { ordered, position } = cacheOrder([...train, ...validation]); position[0] // cache row of train[0]`
 */
export function cacheOrder<E extends Example>(examples: readonly E[]): { ordered: E[]; position: number[] } {
  const perm = examples.map((_, i) => i).sort((i, j) => compareIds(examples[i].inputIds, examples[j].inputIds) || i - j);
  const position = new Array<number>(examples.length);
  perm.forEach((from, to) => (position[from] = to));
  return { ordered: perm.map((i) => examples[i]), position };
}
