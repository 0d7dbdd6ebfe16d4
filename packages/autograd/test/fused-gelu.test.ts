/**
 * The fused GELU (tanh approximation) primitives of the tensor package (`geluTanh`, backward
 * `geluTanhGrad`, each with its own gradient rule) against the composite they replace (mul / add / tanh,
 * as the transformer's gelu_new was written): values, gradients and gradients of gradients, on the
 * float64 reference backend and in float32 on the CPU backends (JavaScript on cpu, WebAssembly SIMD on
 * webasm / threads).
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as T from '@llm-modules/tensor';
import type { BackendName, Tensor } from '@llm-modules/tensor';
import { grad } from '../src/index.js';
import { maxDiff, values } from './fused-helpers.js';
import { geluTanh as composite } from './composites.js';

const BACKENDS: BackendName[] = ['reference', 'cpu', 'webasm', 'threads'];
const available = new Set(await T.listBackends());


afterEach(() => T.setBackend('cpu'));

describe.each(BACKENDS.filter((b) => available.has(b)))('fused GELU (tanh) vs composite on %s', (backend) => {
  const f32 = backend !== 'reference';
  // [8, 64, 256] is a GPT-Neo MLP's activation in the benchmarks' training step (SIMD, threaded)
  for (const shape of [[7], [3, 50], [8, 64, 256]]) {
    it(`[${shape}]: values, gradients and second-order gradients agree`, async () => {
      T.setBackend(backend);
      const x = T.mul(T.randomUniform(T.prngKey(shape.length), shape, { min: -1, max: 1 }), 6);
      const out = T.randomUniform(T.prngKey(9), shape, { min: -1, max: 1 }); // weights of the loss
      const loss = (f: (x: Tensor) => Tensor) => (a: Tensor) => T.sum(T.mul(f(a), out));
      const [fused, comp] = [loss(T.geluTanh), loss(composite)];
      expect(maxDiff(await values(T.geluTanh(x)), await values(composite(x)))).toBeLessThan(f32 ? 2e-6 : 1e-12);
      expect(maxDiff(await values(grad(fused)(x) as Tensor), await values(grad(comp)(x) as Tensor))).toBeLessThan(f32 ? 2e-6 : 1e-12);
      // second order, through geluTanhGrad's own rule: d/dx of Σ(dx)²
      const second = (f: typeof fused) => grad((a: Tensor) => {
        const dx = grad(f)(a) as Tensor;
        return T.sum(T.mul(dx, dx));
      })(x) as Tensor;
      expect(maxDiff(await values(second(fused)), await values(second(comp)))).toBeLessThan(f32 ? 1e-5 : 1e-12);
    });
  }
});
