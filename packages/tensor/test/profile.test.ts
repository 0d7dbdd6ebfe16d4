import { describe, expect, it } from 'vitest';
import { evaluate, matmul, profileReport, resetProfile, setProfiling, tensor } from '../src/index.js';

describe('profile', () => {
  it('counts each kernel run by primitive while on, nothing while off', async () => {
    resetProfile();
    setProfiling(true);
    try {
      const a = tensor([1, 2, 3, 4], [2, 2]);
      await evaluate(matmul(a, a), matmul(a, tensor([1, 0, 0, 1], [2, 2])));
    } finally {
      setProfiling(false);
    }
    const row = profileReport().split('\n').find((l) => l.startsWith('matmul'));
    expect(row).toBeDefined();
    const cols = row!.trim().split(/\s+/);
    expect(cols[3]).toBe('2'); // calls
    // first ms and the mean of the later calls: together they make the total
    const [total, first, laterUs] = [Number(cols[1]), Number(cols[5]), Number(cols[6])];
    expect(Math.abs(first + laterUs / 1000 - total)).toBeLessThan(0.11);
    await evaluate(matmul(tensor([1], [1, 1]), tensor([2], [1, 1])));
    expect(profileReport().split('\n').find((l) => l.startsWith('matmul'))!.trim().split(/\s+/)[3]).toBe('2');
  });
});
