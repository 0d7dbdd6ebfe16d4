/** @llm-modules/autograd/testing: the arbitraries respect their constraints, checkGrads catches wrong rules. */
import { describe, expect, it } from 'vitest';
import * as fc from 'fast-check';
import * as T from '@llm-modules/tensor';
import type { Tensor } from '@llm-modules/tensor';
import { customVjp, stopGradient } from '../src/index.js';
import { arbBroadcastableShapes, arbShape, arbTensor, checkGrads, makeTensor, type Domain } from '../src/testing.js';

const values = async (t: Tensor) => Array.from(await T.readFloat64(t));

describe('arbitraries', () => {
  it('arbShape respects rank and dim bounds', () => {
    fc.assert(
      fc.property(arbShape({ minRank: 1, maxRank: 3, minDim: 2, maxDim: 5 }), (s) => s.length >= 1 && s.length <= 3 && s.every((d) => d >= 2 && d <= 5)),
    );
  });

  it('arbBroadcastableShapes broadcast together, and usually need broadcasting', () => {
    const samples = fc.sample(arbBroadcastableShapes({ count: 3 }), { numRuns: 200, seed: 3 });
    let broadcasting = 0;
    for (const shapes of samples) {
      const out = T.broadcastShapes('test', ...shapes);
      if (shapes.some((s) => s.length !== out.length || s.some((d, k) => d !== out[k]))) broadcasting++;
    }
    expect(broadcasting).toBeGreaterThan(100);
  });

  const inDomain: [Domain, (v: number) => boolean][] = [
    ['real', (v) => v > -3 && v < 3],
    ['small', (v) => v > -1 && v < 1],
    ['positive', (v) => v >= 0.5 && v <= 2],
    ['awayFromZero', (v) => Math.abs(v) >= 0.5 && Math.abs(v) <= 2],
    ['unit', (v) => v > 0 && v < 1],
    [{ min: 3, max: 4 }, (v) => v >= 3 && v <= 4],
  ];
  for (const [domain, ok] of inDomain) {
    it(`arbTensor domain ${JSON.stringify(domain)}: float64 values in range`, async () => {
      await fc.assert(
        fc.asyncProperty(arbTensor({ domain }), async (t) => {
          expect(t.dtype).toBe('float32');
          expect((await values(t)).every(ok)).toBe(true);
        }),
        { numRuns: 30 },
      );
    });
  }

  it('distinct values are at least half a grid step apart (no ties for max)', async () => {
    await fc.assert(
      fc.asyncProperty(arbTensor({ domain: 'distinct', shape: arbShape({ minRank: 1 }) }), async (t) => {
        const v = (await values(t)).sort((a, b) => a - b);
        for (let i = 1; i < v.length; i++) expect(v[i] - v[i - 1]).toBeGreaterThanOrEqual(4 / v.length / 2 - 1e-12);
      }),
      { numRuns: 30 },
    );
  });

  it('indices, labels (with ignored positions), bool and padding masks', async () => {
    const idx = fc.sample(arbTensor({ domain: 'indices', bound: 3, shape: [50] }), { numRuns: 1, seed: 1 })[0];
    expect(idx.dtype).toBe('int32');
    expect((await values(idx)).every((v) => Number.isInteger(v) && v >= 0 && v < 3)).toBe(true);
    const labels = await values(fc.sample(arbTensor({ domain: 'labels', bound: 4, shape: [200] }), { numRuns: 1, seed: 1 })[0]);
    expect(labels.every((v) => v === -100 || (v >= 0 && v < 4))).toBe(true);
    expect(labels.filter((v) => v === -100).length).toBeGreaterThan(20);
    const mask = fc.sample(arbTensor({ domain: 'mask', shape: [4, 5] }), { numRuns: 1, seed: 1 })[0];
    expect(mask.dtype).toBe('bool');
    const m = await values(mask);
    for (let r = 0; r < 4; r++) expect(m[r * 5]).toBe(1);
  });

  it('a tensor prints as code that rebuilds it', () => {
    const t = makeTensor([2], 'small', 1);
    expect(fc.stringify(t)).toMatch(/^tensor\(Float64Array\.from\(\[-?0\.\d+, -?0\.\d+\]\), \[2\]\)$/);
  });
});

describe('checkGrads', () => {
  const x = () => makeTensor([2, 3], 'real', 2);

  it('passes correct rules at orders 1–3 and reports each order', async () => {
    const results = await checkGrads((a: Tensor) => T.mul(T.tanh(a), T.exp(T.mul(a, 0.3))), [x()], { order: 3 });
    expect(results.map((r) => r.order)).toEqual([1, 2, 3]);
    for (const r of results) expect(Math.abs(r.numeric - r.analytic)).toBeLessThanOrEqual(r.tolerance);
  });

  it('catches a first-order error, naming the argument', async () => {
    const bad = customVjp((a: Tensor, b: Tensor) => T.mul(a, b), undefined, ([a]: [Tensor, Tensor], g: Tensor) => [g, T.mul(g, a)]);
    await expect(checkGrads(bad, [x(), x()])).rejects.toThrow(/BAD arg0 \[2, 3\][\s\S]*ok  arg1/);
  });

  it('catches a rule that is right at first order but not differentiable correctly (order 2)', async () => {
    // bwd uses cos(x) as a constant: first derivatives are right, second derivatives are not.
    const sinFrozen = customVjp((a: Tensor) => T.sin(a), undefined, ([a]: [Tensor], g: Tensor) => [T.mul(g, stopGradient(T.cos(a)))]);
    await expect(checkGrads(sinFrozen, [x()], { order: 1 })).resolves.toHaveLength(1);
    await expect(checkGrads(sinFrozen, [x()], { order: 2 })).rejects.toThrow(/checkGrads \(order 2\)/);
  });

  it('holds int arguments fixed and honours argnums', async () => {
    const ids = T.tensor(new Int32Array([1, 0, 1]), [3]);
    await checkGrads((t: Tensor, i: Tensor) => T.gather(T.sin(t), i), [makeTensor([2, 2], 'real', 3), ids]);
    const bad = customVjp((a: Tensor, b: Tensor) => T.mul(a, b), undefined, ([, b]: [Tensor, Tensor], g: Tensor) => [T.mul(g, b), null]);
    await expect(checkGrads(bad, [x(), x()], { argnums: [0] })).resolves.toHaveLength(1);
    await expect(checkGrads(bad, [x(), x()])).rejects.toThrow(/BAD arg1/);
  });

  it('checks float32 gradients from the cpu backend against float64 differences', async () => {
    const f = (a: Tensor) => T.softmax(T.mul(a, a), -1);
    await checkGrads(f, [x()], { backend: 'cpu', atol: 1e-4, rtol: 1e-3 });
    // float32 rounding is visible at float64 tolerances
    await expect(checkGrads(f, [x()], { backend: 'cpu', atol: 1e-12, rtol: 1e-12 })).rejects.toThrow(/checkGrads/);
    expect(T.getBackend().name).not.toBe('cpu'); // the previous backend is restored
  });
});
