/**
 * The fused attention primitives of the tensor package (`fusedAttention`: forward `attention`, backward
 * `attentionGrad`, each with its own gradient rule) against the composite they replace
 * (`attentionReference`: matmul, where, max, exp, sum, div): values, gradients and gradients of
 * gradients, on the float64 reference backend and in float32 on the CPU backends (fused SIMD kernels).
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as T from '@llm-modules/tensor';
import type { BackendName, Tensor } from '@llm-modules/tensor';
import { grad, valueAndGrad } from '../src/index.js';
import { keptBytes } from '../../tensor/src/ops/attention/cpu-cache.js';
import { maxDiff } from './fused-helpers.js';

const BACKENDS: BackendName[] = ['reference', 'cpu', 'webasm', 'threads'];
const available = new Set(await T.listBackends());

const rand = (shape: number[], seed: number) => T.randomUniform(T.prngKey(seed), shape, { min: -1, max: 1 });
/** A [rows, tk] key mask, row r real on [s, e). */
const keys = (tk: number, ...runs: [number, number][]) =>
  T.tensor(Int32Array.from(runs.flatMap(([s, e]) => Array.from({ length: tk }, (_, j) => +(j >= s && j < e)))), [runs.length, tk]);


afterEach(() => T.setBackend('cpu'));

describe.each(BACKENDS.filter((b) => available.has(b)))('fused attention vs composite on %s', (backend) => {
  const tol = backend === 'reference' ? 1e-10 : 2e-5;
  const cases: [string, number[], number, number, number, T.AttentionOptions][] = [
    ['causal', [2, 3], 9, 9, 8, {}],
    ['causal, KV prefix, scale 1', [1, 2], 5, 11, 4, { scale: 1 }],
    ['sliding window', [1, 2], 12, 12, 6, { window: 4 }],
    ['no mask', [2, 1], 6, 7, 5, { causal: false }],
    ['right-padded keys (a trainer batch)', [2, 3], 9, 9, 8, { keyMask: keys(9, [0, 9], [0, 4]) }],
    ['decoding: offset 5 into 10 keys, left padding', [2, 2], 2, 10, 4, { offset: 5, keyMask: keys(10, [0, 7], [3, 7]) }],
    ['cross-attention: no causal mask, padded keys', [2, 2], 6, 8, 4, { causal: false, keyMask: keys(8, [0, 8], [0, 3]) }],
    ['pad queries that see no key (uniform rows)', [2, 1], 5, 5, 4, { window: 2, keyMask: keys(5, [0, 5], [2, 5]) }],
  ];
  for (const [name, bh, tq, tk, d, opts] of cases) {
    it(`${name}: values, gradients and second-order gradients agree`, async () => {
      T.setBackend(backend);
      const [q, k, v, w] = [rand([...bh, tq, d], 1), rand([...bh, tk, d], 2), rand([...bh, tk, d], 3), rand([...bh, tq, d], 4)];
      const loss = (f: typeof T.fusedAttention) => (a: Tensor, b: Tensor, c: Tensor) => T.sum(T.mul(T.tanh(f(a, b, c, opts)), w));
      const fused = loss(T.fusedAttention);
      const composite = loss(T.attentionReference);
      expect(maxDiff(await fused(q, k, v).data(), await composite(q, k, v).data())).toBeLessThan(tol);
      const gf = grad(fused, [0, 1, 2])(q, k, v) as Tensor[];
      const gc = grad(composite, [0, 1, 2])(q, k, v) as Tensor[];
      for (let i = 0; i < 3; i++) expect(maxDiff(await gf[i].data(), await gc[i].data()), `d${'qkv'[i]}`).toBeLessThan(tol);
      // second order: d/dq of Σ(dq)², through attentionGrad's own rule
      const second = (f: typeof fused) => grad((a: Tensor, b: Tensor, c: Tensor) => T.sum(T.mul((grad(f, 0)(a, b, c) as Tensor), (grad(f, 0)(a, b, c) as Tensor))), [0, 1])(q, k, v) as Tensor[];
      const [sf, sc] = [second(fused), second(composite)];
      for (let i = 0; i < 2; i++) expect(maxDiff(await sf[i].data(), await sc[i].data()), `second order ${i}`).toBeLessThan(backend === 'reference' ? 1e-9 : 1e-3);
    });
  }
});

describe('autodiff and the probabilities the fused forward keeps', () => {
  const findOp = (t: Tensor, op: string): Tensor => (t.op === op ? t : findOp(t.inputs[0], op));
  const loss = (a: Tensor, b: Tensor, c: Tensor) => T.sum(T.fusedAttention(a, b, c));

  it.skipIf(!available.has('webasm'))('P is kept for a forward built for differentiation, and freed by its backward', async () => {
    T.setBackend('webasm');
    const [q, k, v] = [1, 2, 3].map((s) => rand([1, 2, 40, 16], s));
    const base = keptBytes();
    await T.fusedAttention(q, k, v).data();
    expect(keptBytes()).toBe(base); // inference
    const [, gs] = valueAndGrad(loss, [0, 1, 2])(q, k, v);
    const forward = findOp((gs as Tensor[])[0], 'attentionGrad').inputs[3];
    expect(forward.op).toBe('attention');
    await T.evaluate(forward); // the forward alone, kept alive: built for differentiation, so it keeps P
    expect(keptBytes()).toBeGreaterThanOrEqual(base + 4 * 2 * 40 * 40);
    await Promise.all((gs as Tensor[]).map((g) => g.data())); // the backward reads P and frees it
    expect(keptBytes()).toBe(base);
  });

  it('only a forward built from differentiated inputs is marked to keep P (a frozen teacher’s is not)', () => {
    const [q, k, v] = [1, 2, 3].map((s) => rand([1, 2, 8, 4], s));
    const marks: boolean[] = [];
    const mark = (t: Tensor) => marks.push(findOp(t, 'attention').attrs.keep as boolean);
    mark(T.fusedAttention(q, k, v));
    grad((a: Tensor) => {
      const student = T.fusedAttention(a, k, v);
      const teacher = T.fusedAttention(T.stopGradient(a), k, v);
      mark(student);
      mark(teacher);
      return T.sum(T.mul(student, teacher));
    })(q);
    expect(marks).toEqual([false, true, false]);
  });

  it.skipIf(!available.has('webasm'))('a forward output released before its backward ran frees its P at once', async () => {
    T.setBackend('webasm');
    const [q, k, v] = [1, 2, 3].map((s) => rand([1, 2, 40, 16], s));
    const base = keptBytes();
    const [value, gs] = valueAndGrad(loss, [0, 1, 2])(q, k, v);
    await value.data(); // the forward kept P, then its output was released at the end of this evaluation
    expect(keptBytes()).toBe(base);
    await Promise.all((gs as Tensor[]).map((g) => g.data())); // recomputes the forward (keeping P) and frees it
    expect(keptBytes()).toBe(base);
  });
});
