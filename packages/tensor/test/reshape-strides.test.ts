import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { reshapeStrides } from '../src/primitives/movement.js';
import { contiguousStrides } from '../src/shape.js';

/** Storage index of each element of a strided view, in C order. */
function indices(shape: readonly number[], strides: readonly number[], offset = 0): number[] {
  const out: number[] = [];
  const walk = (d: number, at: number): void => {
    if (d === shape.length) return void out.push(at);
    for (let i = 0; i < shape[d]; i++) walk(d + 1, at + i * strides[d]);
  };
  walk(0, offset);
  return out;
}

describe('reshapeStrides (no-copy reshape of strided views)', () => {
  test('splitting the heads out of a column slice [B, T, 3D] → [B, T, D] is a view', () => {
    // q = y[:, :, 0:64] of y [8, 64, 192]: strides [12288, 192, 1]
    expect(reshapeStrides([8, 64, 64], [12288, 192, 1], [8, 64, 4, 16])).toEqual([12288, 192, 16, 1]);
  });

  test('merging dims that are not one strided block needs a copy', () => {
    // a transpose [3, 2] of a [2, 3] array cannot be flattened in place
    expect(reshapeStrides([3, 2], [1, 3], [6])).toBeUndefined();
    // the column slice's rows cannot merge with its columns
    expect(reshapeStrides([8, 64, 64], [12288, 192, 1], [8, 4096])).toBeUndefined();
  });

  test('size-1 dims anywhere and empty tensors', () => {
    expect(indices([1, 4, 1], reshapeStrides([4], [3], [1, 4, 1])!)).toEqual([0, 3, 6, 9]);
    expect(reshapeStrides([2, 0], [1, 2], [0, 5])).toEqual(contiguousStrides([0, 5]));
  });

  test('whenever strides are returned they address the same elements in C order (fast-check)', () => {
    const arb = fc
      .array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 })
      .chain((shape) =>
        fc.tuple(
          fc.constant(shape),
          fc.array(fc.integer({ min: -7, max: 7 }), { minLength: shape.length, maxLength: shape.length }),
          fc.shuffledSubarray(factorsOf(shape.reduce((a, b) => a * b, 1)), { minLength: 0 }),
        ),
      );
    fc.assert(
      fc.property(arb, ([shape, strides, picked]) => {
        const n = shape.reduce((a, b) => a * b, 1);
        const rest = n / picked.reduce((a, b) => a * b, 1);
        const to = [...picked, rest, 1];
        const s = reshapeStrides(shape, strides, to);
        const contiguous = indices(shape, contiguousStrides(shape)).every((v, k) => v === indices(shape, strides)[k]);
        if (contiguous) expect(s).toBeDefined(); // a dense block always reshapes in place
        if (s) expect(indices(to, s)).toEqual(indices(shape, strides));
      }),
      { numRuns: 500 },
    );
  });
});

function factorsOf(n: number): number[] {
  const out: number[] = [];
  for (let m = n, p = 2; m > 1; ) {
    if (m % p === 0) {
      out.push(p);
      m /= p;
    } else p++;
  }
  return out;
}
