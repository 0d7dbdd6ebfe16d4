import { describe, expect, it } from 'vitest';
import { evaluate, matmul, profileReport, resetProfile, setProfiling, tensor } from '../src/index.js';
import { record } from '../src/profile.js';

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
    expect(row!.trim().split(/\s+/)[3]).toBe('2'); // calls
    await evaluate(matmul(tensor([1], [1, 1]), tensor([2], [1, 1])));
    expect(profileReport().split('\n').find((l) => l.startsWith('matmul'))!.trim().split(/\s+/)[3]).toBe('2');
  });

  it('shows the first call of each row apart from the mean of the later ones', () => {
    resetProfile();
    for (const ms of [5, 1, 3]) record('probe', ms, 10);
    const cols = profileReport().split('\n').find((l) => l.startsWith('probe'))!.trim().split(/\s+/);
    // total 9 ms over 3 calls; the first took 5 ms, the other two (1 + 3) / 2 = 2 ms = 2000 µs each
    expect(cols.slice(1)).toEqual(['9.0', '100.0', '3', '0.0', '5.00', '2000.0']);
    resetProfile();
  });
});
