/**
 * The fused softmax cross-entropy primitives of the tensor package (`softmaxCrossEntropy`, backward
 * `softmaxCrossEntropyGrad`, each with its own gradient rule) against the composite formula they replace
 * (logSoftmax and a one-hot mask, as the transformer loss was written): values, gradients and gradients
 * of gradients, with ignored rows, out-of-range labels and large logits, on the float64 reference backend
 * and in float32 on the CPU backends (fast paths) and headlessgl where available.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as T from '@llm-modules/tensor';
import type { BackendName, Tensor } from '@llm-modules/tensor';
import { grad } from '../src/index.js';
import { maxDiff, values } from './fused-helpers.js';

const BACKENDS: BackendName[] = ['reference', 'cpu', 'webasm', 'threads', 'headlessgl'];
const available = new Set(await T.listBackends());

/** The composite: −Σ_c logSoftmax(x)·onehot(label) per row, 0 where the label is ignored or out of range. */
function composite(logits: Tensor, labels: Tensor, ignoreIndex = -100): Tensor {
  const [N, C] = logits.shape;
  const lab = T.reshape(labels, [N, 1]);
  const onehot = T.cast(T.equal(T.reshape(T.arange(C), [1, C]), lab), 'float32');
  const picked = T.sum(T.mul(T.logSoftmax(logits, -1), onehot), [1]);
  const counted = T.mul(T.cast(T.notEqual(labels, ignoreIndex), 'float32'), T.cast(T.mul(T.cast(T.greaterEqual(labels, 0), 'float32'), T.cast(T.less(labels, C), 'float32')), 'float32'));
  return T.mul(T.neg(picked), counted);
}


afterEach(() => T.setBackend('cpu'));

describe.each(BACKENDS.filter((b) => available.has(b)))('fused softmax cross-entropy vs composite on %s', (backend) => {
  const f32 = backend !== 'reference';
  const cases: [string, number, number, number, number[]][] = [
    // name, N, C, logit scale, labels (−100 ignored; others out of range)
    ['small rows, ignored and out-of-range labels', 6, 5, 3, [0, 4, -100, 2, 5, -1]],
    ['a longer vocabulary', 9, 130, 5, [3, 129, -100, 0, 64, 64, -100, 1, 7]],
    ['large logits (±1e4): stable', 4, 7, 1e4, [6, 0, -100, 3]],
  ];
  for (const [name, n, c, scale, lv] of cases) {
    it(`${name}: values, gradients and second-order gradients agree`, async () => {
      T.setBackend(backend);
      const x = T.mul(T.randomUniform(T.prngKey(n + c), [n, c], { min: -1, max: 1 }), scale);
      const labels = T.tensor(new Int32Array(lv), [n]);
      const w = T.randomUniform(T.prngKey(5), [n], { min: 0.5, max: 1.5 });
      const loss = (f: typeof composite) => (a: Tensor) => T.sum(T.mul(f(a, labels), w));
      const [fused, comp] = [loss(T.softmaxCrossEntropy), loss(composite)];
      // values per row: 0 on ignored and out-of-range rows
      const rowsF = await values(T.softmaxCrossEntropy(x, labels));
      const rowsC = await values(composite(x, labels));
      // float32 logits of 1e4 carry an absolute error of ~1e-3 in any logsumexp (and so in the probabilities)
      const tol = f32 ? (scale > 100 ? 3e-3 : 2e-5) : 1e-10;
      expect(maxDiff(rowsF, rowsC)).toBeLessThan(tol);
      lv.forEach((l, i) => (l === -100 || l < 0 || l >= c) && expect(rowsF[i]).toBe(0));
      expect(maxDiff(await values(fused(x)), await values(comp(x)))).toBeLessThan(tol);
      const [gf, gc] = [grad(fused)(x) as Tensor, grad(comp)(x) as Tensor];
      const gfv = Float64Array.from(await values(gf));
      expect(maxDiff(gfv, await values(gc))).toBeLessThan(tol);
      expect(Array.from(gfv).every(Number.isFinite)).toBe(true);
      // each counted row's gradient sums to 0 (softmax − onehot); ignored rows are 0
      for (let i = 0; i < n; i++) {
        const row = gfv.subarray(i * c, (i + 1) * c);
        const s = row.reduce((a, v) => a + v, 0);
        if (lv[i] >= 0 && lv[i] < c) expect(Math.abs(s)).toBeLessThan(f32 ? tol : 1e-12);
        else expect(Array.from(row).every((v) => v === 0)).toBe(true);
      }
      // second order: d/dx of Σ(dx)², through softmaxCrossEntropyGrad's own rule
      const second = (f: (a: Tensor) => Tensor) => grad((a: Tensor) => T.sum(T.mul(grad(f)(a) as Tensor, grad(f)(a) as Tensor)))(x) as Tensor;
      if (scale < 100) expect(maxDiff(await values(second(fused)), await values(second(comp)))).toBeLessThan(f32 ? 1e-4 : 1e-10);
    });
  }
});
