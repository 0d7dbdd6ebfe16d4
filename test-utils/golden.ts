/** Shared by the golden-value tests (transformer, bridge): the goldens' array format and the error measures. */

/** An array of a golden.json file, as the reference implementation wrote it. */
export interface GoldenArray {
  shape: number[];
  dtype: 'float32' | 'int64';
  data: number[];
}

/**
 * max |actual − expected| over the positions whose attention mask is 1 (the trailing dims of each [B, T]
 * position compared in full), and max |expected| there.
 */
export function maxDiffValid(actual: ArrayLike<number>, expected: GoldenArray, mask: GoldenArray): { maxAbs: number; maxRef: number } {
  const [B, T] = mask.shape;
  const inner = expected.data.length / (B * T);
  let maxAbs = 0;
  let maxRef = 0;
  for (let p = 0; p < B * T; p++) {
    if (!mask.data[p]) continue;
    for (let i = p * inner; i < (p + 1) * inner; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(actual[i] - expected.data[i]));
      maxRef = Math.max(maxRef, Math.abs(expected.data[i]));
    }
  }
  return { maxAbs, maxRef };
}

/** max |a − e| and max |e| over every element. */
export function maxDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): { maxAbs: number; maxRef: number } {
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(actual[i] - expected[i]));
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  return { maxAbs, maxRef };
}
