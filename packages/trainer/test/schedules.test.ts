import { expect, test } from 'vitest';
import { constant, warmupCosine, warmupLinear, accumulate, scaleTree } from '@llm-modules/trainer';
import { tensor } from '@llm-modules/tensor';

test('warm-up then cosine: 0 → peak linearly, half-way down at the midpoint, minLr at the end', () => {
  const s = warmupCosine({ peak: 1, warmupSteps: 10, totalSteps: 110, minLr: 0.1 });
  expect(s(5)).toBeCloseTo(0.5);
  expect(s(10)).toBeCloseTo(1);
  expect(s(60)).toBeCloseTo(0.55); // cos(π/2) = 0 → (peak + min) / 2
  expect(s(110)).toBeCloseTo(0.1);
  expect(s(500)).toBeCloseTo(0.1);
});

test('warm-up then linear decay, and constant', () => {
  const s = warmupLinear({ peak: 2, warmupSteps: 4, totalSteps: 8 });
  expect([s(1), s(4), s(6), s(8)]).toEqual([0.5, 2, 1, 0]);
  expect(constant(3e-4)(1234)).toBe(3e-4);
});

test('accumulate sums micro-batch gradients; scaleTree averages them', async () => {
  const g = scaleTree(accumulate([{ w: tensor([1, 2]) }, { w: tensor([3, 4]) }]), 0.5);
  expect(Array.from(await g.w.data())).toEqual([2, 3]);
});
