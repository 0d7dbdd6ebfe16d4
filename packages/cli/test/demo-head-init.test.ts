/**
 * The demo's head started from the teacher's (head-init.ts): Jacobi eigenvectors of a symmetric matrix, and the
 * teacher's head on its top principal directions, which loses nothing when the head has no more directions.
 */
import { describe, expect, it } from 'vitest';
import { symmetricEigen, teacherHeadRows } from '../src/demo/head-init.js';

const matVec = (m: ArrayLike<number>, n: number, x: number[]) => Array.from({ length: n }, (_, i) => x.reduce((s, xj, j) => s + m[i * n + j] * xj, 0));
const column = (v: Float64Array, n: number, j: number) => Array.from({ length: n }, (_, k) => v[k * n + j]);

describe('head-init', () => {
  it('symmetricEigen: A·v = λ·v for every column, orthonormal, sorted by descending λ', () => {
    const n = 5;
    const a = new Float64Array(n * n);
    let seed = 7;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = rand();
    const { values, vectors } = symmetricEigen(a, n);
    for (let j = 0; j < n; j++) {
      const v = column(vectors, n, j);
      matVec(a, n, v).forEach((x, i) => expect(x).toBeCloseTo(values[j] * v[i], 9));
      for (let k = 0; k < n; k++) expect(column(vectors, n, k).reduce((s, x, i) => s + x * v[i], 0)).toBeCloseTo(j === k ? 1 : 0, 9);
    }
    expect([...values].sort((x, y) => y - x)).toEqual(values);
    expect(values.reduce((s, x) => s + x, 0)).toBeCloseTo([0, 1, 2, 3, 4].reduce((s, i) => s + a[i * n + i], 0), 9); // the trace
  });

  it('teacherHeadRows keeps the head exactly when it has at most ds directions: (W·Q)·Qᵀ = W, and row dot products stay', () => {
    // W [6, 4] of rank 2: rows are combinations of two directions of R⁴
    const d1 = [1, 2, 0, -1];
    const d2 = [0, 1, 3, 1];
    const coef = [[1, 0], [0, 1], [2, -1], [-1, 1], [0.5, 0.5], [3, 2]];
    const w = Float32Array.from(coef.flatMap(([a, b]) => d1.map((x, i) => a * x + b * d2[i])));
    const rows = teacherHeadRows(w, 6, 4, 2); // [6, 2]
    const dot = (x: ArrayLike<number>, i: number, j: number, d: number) => Array.from({ length: d }, (_, k) => x[i * d + k] * x[j * d + k]).reduce((s, v) => s + v, 0);
    for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) expect(dot(rows, i, j, 2)).toBeCloseTo(dot(w, i, j, 4), 3); // W·Wᵀ = (WQ)(WQ)ᵀ
    expect(() => teacherHeadRows(w, 6, 4, 5)).toThrow('a 5-wide student head cannot hold more than the teacher\'s 4 directions');
  });
});
