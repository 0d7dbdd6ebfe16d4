/**
 * The JavaScript reduction and copy paths of backends/cpu/host.ts on their edge cases: row lengths that are not a
 * multiple of the four partial sums / maxima, odd numbers of folded rows, NaN and −∞ in max, short strided
 * runs (copied by a loop) next to long ones (TypedArray.set) — against the gpu.js kernels (fast paths off).
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';

afterEach(() => T.setFastPaths(true));

const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 43758.5453 % 7);

async function both(build: () => T.Tensor): Promise<[number[], number[]]> {
  T.setBackend('cpu');
  T.setFastPaths(true);
  const fast = Array.from(await build().data());
  T.setFastPaths(false);
  const kernel = Array.from(await build().data());
  T.setFastPaths(true);
  return [fast, kernel];
}

describe('host reductions and copies', () => {
  it.each([1, 2, 3, 4, 5, 7, 8, 9, 64, 67])('sum / max / argmax over rows of %i', async (R) => {
    const x = values(5 * R, R);
    for (const op of [T.sum, T.max, T.argmax] as const) {
      const [fast, kernel] = await both(() => op(T.tensor(x, [5, R]), -1));
      fast.forEach((v, i) => expect(v).toBeCloseTo(kernel[i], 4));
    }
  });

  it('max: NaN only when a row starts with NaN (the kernel’s v > m scan); −∞ rows stay −∞', async () => {
    const x = new Float32Array([NaN, 1, 2, 3, 4, 5, 1, NaN, 2, 9, 3, 0, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity]);
    const [fast, kernel] = await both(() => T.max(T.tensor(x, [3, 6]), -1));
    expect(fast).toEqual(kernel);
    expect(fast[0]).toBeNaN();
    expect(fast[1]).toBe(9);
    expect(fast[2]).toBe(-Infinity);
  });

  it.each([1, 2, 3, 5, 8])('sum over %i leading rows (bias gradients)', async (R) => {
    const x = values(R * 70, R);
    const [fast, kernel] = await both(() => T.sum(T.tensor(x, [R, 70]), 0));
    fast.forEach((v, i) => expect(v).toBeCloseTo(kernel[i], 4));
  });

  it.each([[16], [63], [64], [65]])('copies of permuted views, pads and concats with runs of %i', async (n) => {
    const x = T.tensor(values(3 * 4 * n, n), [3, 4, n]);
    for (const build of [
      () => T.reshape(T.permute(x, [1, 0, 2]), [12 * n]),
      () => T.pad(x, [[0, 1], [1, 0], [0, 2]], 0.5),
      () => T.concat([x, T.mul(x, 2)], 2),
      () => T.gather(x, T.tensor(new Int32Array([2, 0, 2]), [3]), 0),
    ]) {
      const [fast, kernel] = await both(build);
      expect(fast).toEqual(kernel);
    }
  });
});
