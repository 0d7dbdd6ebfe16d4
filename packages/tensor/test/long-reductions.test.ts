/** Reductions longer than 65,536 elements split into two levels; checked against float64 loops. */
import { describe, expect, it } from 'vitest';
import { argmax, max, sum, tensor, type Tensor } from '../src/index.js';
import { chunkOf } from '../src/primitives/reduce.js';

function rows(n: number, r: number, seed: number): Float32Array {
  const out = new Float32Array(n * r);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 4 - 2;
  }
  return out;
}

/** Every op node reachable from `t`. */
function ops(t: Tensor, seen = new Set<Tensor>()): string[] {
  if (seen.has(t)) return [];
  seen.add(t);
  return [t.op, ...t.inputs.flatMap((i) => ops(i, seen))];
}

describe('two-level reductions', () => {
  it('split a length with a large divisor without padding (a 151,646-way vocabulary is 11 × 13,786)', () => {
    expect(chunkOf(151_646)).toBe(13_786);
    expect(chunkOf(151_936)).toBe(37_984);
    expect(chunkOf(65_537)).toBe(4096); // prime: padded to 17 × 4096
    expect(ops(sum(tensor(rows(2, 151_646, 1), [2, 151_646]), -1))).not.toContain('pad');
    expect(ops(sum(tensor(rows(1, 65_537, 1), [65_537]), -1))).toContain('pad');
  });

  for (const R of [151_646, 65_537]) {
    it(`sum, max and argmax over ${R} elements match float64 loops`, async () => {
      const n = 3;
      const data = rows(n, R, R);
      data[R + 12_345] = 9; // row 1's maximum, inside a late block
      const x = tensor(data, [n, R]);
      const [s, m, a] = await Promise.all([sum(x, -1).data(), max(x, -1, true).data(), argmax(x, -1).data()]);
      for (let i = 0; i < n; i++) {
        let ref = 0;
        let best = -Infinity;
        let at = 0;
        for (let j = 0; j < R; j++) {
          const v = data[i * R + j];
          ref += v;
          if (v > best) [best, at] = [v, j];
        }
        expect(Math.abs(s[i] - ref)).toBeLessThan(1e-5 * R);
        expect(m[i]).toBe(best);
        expect(a[i]).toBe(at);
      }
      expect(a[1]).toBe(12_345);
    });
  }
});
