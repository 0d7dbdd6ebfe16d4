/**
 * The fused LayerNorm primitives of the tensor package (`layerNorm`, backward `layerNormGrad`, each with
 * its own gradient rule) against the composite they replace (`layerNormReference`: sub / mean / mul /
 * rsqrt / add, as the transformer's norms were written): values, gradients with respect to x, weight and
 * bias, and gradients of gradients, on the float64 reference backend and in float32 on the CPU backends
 * (fast paths: JavaScript on cpu, WebAssembly SIMD on webasm / threads).
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as T from '@llm-modules/tensor';
import type { BackendName, Tensor } from '@llm-modules/tensor';
import { grad } from '../src/index.js';
import { maxDiff, values } from './fused-helpers.js';

const BACKENDS: BackendName[] = ['reference', 'cpu', 'webasm', 'threads'];
const available = new Set(await T.listBackends());


afterEach(() => T.setBackend('cpu'));

describe.each(BACKENDS.filter((b) => available.has(b)))('fused LayerNorm vs composite on %s', (backend) => {
  const f32 = backend !== 'reference';
  const cases: [string, number[]][] = [
    ['rows of 5', [6, 5]],
    ['a GPT-Neo block [2, 9, 64]', [2, 9, 64]],
    ['C = 67, rank 1', [67]],
  ];
  for (const [name, shape] of cases) {
    it(`${name}: values, gradients and second-order gradients agree`, async () => {
      T.setBackend(backend);
      const C = shape[shape.length - 1];
      const x = T.mul(T.randomUniform(T.prngKey(C), shape, { min: -1, max: 1 }), 3);
      const w = T.randomUniform(T.prngKey(7), [C], { min: 0.5, max: 1.5 });
      const b = T.randomUniform(T.prngKey(8), [C], { min: -1, max: 1 });
      const out = T.randomUniform(T.prngKey(9), shape, { min: -1, max: 1 }); // weights of the loss
      const loss = (f: typeof T.layerNorm) => (a: Tensor, c: Tensor, d: Tensor) => T.sum(T.mul(T.tanh(f(a, c, d)), out));
      const [fused, comp] = [loss(T.layerNorm), loss(T.layerNormReference)];
      const tol = f32 ? 2e-5 : 1e-10;
      expect(maxDiff(await values(T.layerNorm(x, w, b)), await values(T.layerNormReference(x, w, b)))).toBeLessThan(tol);
      const [gf, gc] = [grad(fused, [0, 1, 2])(x, w, b) as Tensor[], grad(comp, [0, 1, 2])(x, w, b) as Tensor[]];
      for (let k = 0; k < 3; k++) expect(maxDiff(await values(gf[k]), await values(gc[k])), `gradient ${k}`).toBeLessThan(f32 ? 1e-4 : 1e-10);
      // second order: d/dx of Σ(dx)², through layerNormGrad's own rule
      const second = (f: typeof fused) => grad((a: Tensor) => {
        const dx = grad(f)(a, w, b) as Tensor;
        return T.sum(T.mul(dx, dx));
      })(x) as Tensor;
      expect(maxDiff(await values(second(fused)), await values(second(comp)))).toBeLessThan(f32 ? 1e-3 : 1e-9);
    });
  }
});
