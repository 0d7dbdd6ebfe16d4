import { expect, test } from 'vitest';
import { erf, readFloat64, tensor, withBackend } from '@llm-modules/tensor';

// erf values from tables (Abramowitz & Stegun; Python's math.erf agrees to the last digit).
const TABLE: [number, number][] = [
  [0.5, 0.5204998778130465],
  [1, 0.8427007929497149],
  [1.5, 0.9661051464753108],
  [2, 0.9953222650189527],
  [2.5, 0.999593047982555],
  [3, 0.9999779095030014],
  [-2.99, -0.9999764743969194],
];

test('the reference backend computes erf to float64 precision across the range', async () => {
  const got = await withBackend('reference', () => readFloat64(erf(tensor(Float64Array.from(TABLE.map((r) => r[0])), [TABLE.length]))));
  TABLE.forEach(([, want], i) => expect(Math.abs(got[i] - want)).toBeLessThanOrEqual(4e-16));
});
