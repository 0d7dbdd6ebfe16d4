/**
 * The demo's head started from the teacher's (head-init.ts): Jacobi eigenvectors of a symmetric matrix, the
 * teacher's head on its top principal directions, which loses nothing when the head has no more directions, and the
 * same-position input projection `Qᵀ` that carries the teacher's prediction into those coordinates.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '@llm-modules/loaders';
import { argmax, matmul, tensor, transpose } from '@llm-modules/tensor';
import { loadPretrained } from '@llm-modules/transformer';
import { defaultDemoDir } from '../src/commands/demo.js';
import { symmetricEigen, teacherHeadRows, teacherInputProjection, teacherStarts } from '../src/demo/head-init.js';
import { contestant } from '../src/demo/variants.js';
import { encode } from '../src/demo/teacher.js';
import { allFacts, promptText } from '../src/demo/world.js';

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

  it('teacherInputProjection: orthonormal rows Qᵀ, and (W·Q)·(Qᵀh) = W·h when W has at most ds directions', () => {
    const d1 = [1, 2, 0, -1];
    const d2 = [0, 1, 3, 1];
    const coef = [[1, 0], [0, 1], [2, -1], [-1, 1], [0.5, 0.5], [3, 2]];
    const w = Float32Array.from(coef.flatMap(([a, b]) => d1.map((x, i) => a * x + b * d2[i])));
    const qt = teacherInputProjection(w, 6, 4, 2); // [2, 4]
    const rows = teacherHeadRows(w, 6, 4, 2); // [6, 2]
    for (let j = 0; j < 2; j++) for (let k = 0; k < 2; k++) expect([0, 1, 2, 3].reduce((s, i) => s + qt[j * 4 + i] * qt[k * 4 + i], 0)).toBeCloseTo(j === k ? 1 : 0, 6);
    const h = [0.3, -1.2, 2, 0.7];
    const z = [0, 1].map((j) => h.reduce((s, x, i) => s + qt[j * 4 + i] * x, 0)); // Qᵀh
    for (let r = 0; r < 6; r++) expect(rows[r * 2] * z[0] + rows[r * 2 + 1] * z[1]).toBeCloseTo(h.reduce((s, x, i) => s + w[r * 4 + i] * x, 0), 4);
  });

  it("the shipped teacher's answers survive its head's top 48 directions; teacherStarts fills a gated-tokens contestant's head and input projection", async () => {
    const dir = join(defaultDemoDir(), 'teacher');
    const teacher = await loadPretrained(dir);
    const tok = await loadTokenizer(dir);
    const facts = allFacts();
    const prompts = facts.map((f) => encode(tok, promptText(f)));
    const T = prompts[0].length;
    const h = teacher.model.apply(teacher.params, tensor(Int32Array.from(prompts.flat()), [facts.length, T])).lastHiddenState; // [N, T, 64]
    const c = contestant('gated-tokens+kd', teacher, { hidden: 48, layers: 2, heads: 4 }, 32);
    const p = c.init(1);
    const started = await teacherStarts(teacher, p, { head: c.headName, input: c.inputProjName });
    expect(Object.keys(started).sort()).toEqual([c.headName, c.inputProjName].sort());
    expect(started[c.inputProjName!].shape).toEqual(p[c.inputProjName!].shape); // [48, 64]
    // the teacher's logits through the student's head start: (W·Q)·(Qᵀh) at '=' of every fact
    const logits = matmul(matmul(h, transpose(started[c.inputProjName!])), transpose(started[c.headName!])); // [N, T, V]
    const best = (await argmax(logits, -1).data()) as Int32Array;
    const right = facts.filter((f, n) => best[n * T + T - 1] === encode(tok, String(f.answer))[0]).length / facts.length;
    expect(right).toBeGreaterThan(0.95); // 0.971 (the teacher itself: 0.973)
    // the control's student alone has its tied table and head named too
    const control = contestant('student-only+head', teacher, { hidden: 48, layers: 2, heads: 4 }, 32);
    expect(control.init(0)[control.headName!].shape).toEqual([347, 48]);
  }, 60_000);
});

