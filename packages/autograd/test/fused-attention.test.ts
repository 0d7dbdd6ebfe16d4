/**
 * The fused attention primitives of the tensor package (`fusedAttention`: forward `attention`, backward
 * `attentionGrad`, each with its own gradient rule) against the composite they replace
 * (`attentionReference`: matmul, where, max, exp, sum, div): values, gradients and gradients of
 * gradients, on the float64 reference backend and in float32 on the CPU backends (fused SIMD kernels).
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as T from '@llm-modules/tensor';
import type { BackendName, Tensor } from '@llm-modules/tensor';
import { grad } from '../src/index.js';
import { maxDiff } from './fused-helpers.js';

const BACKENDS: BackendName[] = ['reference', 'cpu', 'webasm', 'threads'];
const available = new Set(await T.listBackends());

const rand = (shape: number[], seed: number) => T.randomUniform(T.prngKey(seed), shape, { min: -1, max: 1 });


afterEach(() => T.setBackend('cpu'));

describe.each(BACKENDS.filter((b) => available.has(b)))('fused attention vs composite on %s', (backend) => {
  const tol = backend === 'reference' ? 1e-10 : 2e-5;
  const cases: [string, number[], number, number, number, T.AttentionOptions][] = [
    ['causal', [2, 3], 9, 9, 8, {}],
    ['causal, KV prefix, scale 1', [1, 2], 5, 11, 4, { scale: 1 }],
    ['sliding window', [1, 2], 12, 12, 6, { window: 4 }],
    ['no mask', [2, 1], 6, 7, 5, { causal: false }],
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
