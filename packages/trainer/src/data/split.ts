/**
 * Dataset preparation: a seeded shuffle, an optional subset, a length rule, and a fixed train/validation
 * split. The split is made once (not redrawn per epoch as the released code does once validation loss
 * falls below 1.8), so validation rows are never trained on.
 */
import { prngKey, randomBits, foldIn } from '@llm-modules/tensor';
import type { Example } from './format.js';

/** A seeded Fisher–Yates permutation of 0..n-1 (Threefry stream of the seed). */
export function permutation(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const u = randomBits(foldIn(prngKey(seed), 0x5eed), n);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(u[i] * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

export interface SplitOptions {
  seed?: number;
  /** keep this fraction of the rows after shuffling (the paper: 0.3) */
  subset?: number;
  /** the last fraction of the kept rows becomes validation (the paper: 0.1) */
  validation?: number;
  /** longest example in tokens */
  maxLength?: number;
  /** what to do with longer examples: drop them (the paper) or cut them */
  overLength?: 'drop' | 'truncate';
  /** after the length rule, cut every kept example to this many tokens (released: 2048, the student's positions) */
  cutTo?: number;
}

export interface Split<T> {
  train: T[];
  validation: T[];
  /** examples dropped by the length rule */
  dropped: number;
}

/**
 * Shuffle (seeded), take a subset, apply the length rule, then split off the last `validation` share.
 * @example-skip a fragment: `examples` comes from the caller's code
 * @example `const { train, validation } = splitExamples(examples, { seed: 0, subset: 0.3, validation: 0.1, maxLength: 4096 })`
 */
export function splitExamples(examples: readonly Example[], opts: SplitOptions = {}): Split<Example> {
  const { seed = 0, subset = 1, validation = 0.1, maxLength = Infinity, overLength = 'drop', cutTo = Infinity } = opts;
  if (!(subset > 0 && subset <= 1)) throw new Error(`subset must be in (0, 1], got ${subset}`);
  if (!(validation >= 0 && validation < 1)) throw new Error(`validation must be in [0, 1), got ${validation}`);
  const order = permutation(examples.length, seed).slice(0, Math.round(examples.length * subset));
  const kept: Example[] = [];
  let dropped = 0;
  for (const i of order) {
    const ex = examples[i];
    const keep = Math.min(maxLength, cutTo);
    if (ex.inputIds.length > maxLength && overLength === 'drop') dropped++;
    else kept.push(ex.inputIds.length <= keep ? ex : { inputIds: ex.inputIds.slice(0, keep), lossMask: ex.lossMask.slice(0, keep) });
  }
  const nVal = Math.round(kept.length * validation);
  return { train: kept.slice(0, kept.length - nVal), validation: kept.slice(kept.length - nVal), dropped };
}
