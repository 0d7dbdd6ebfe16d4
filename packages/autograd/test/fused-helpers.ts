/** Shared by the fused-primitive tests: comparing a fused primitive with the composite it replaces. */
import { expect } from 'vitest';
import * as T from '@llm-modules/tensor';
import type { Tensor } from '@llm-modules/tensor';

/** Largest |a − b| / (1 + |b|) over the elements (lengths must match). */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return m;
}

/** A tensor's values: float64 on the reference backend (data() rounds to float32). */
export const values = (t: Tensor): Promise<ArrayLike<number>> => (T.getBackend().name === 'reference' ? T.readFloat64(t) : t.data());
