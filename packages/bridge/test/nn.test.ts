/** Shared pieces: dropout, PyTorch-default init, masks, attention with dropout = without when inactive. */
import { describe, expect, it } from 'vitest';
import { evaluate, full, prngKey, randomNormal, setBackend } from '@llm-modules/tensor';
import { attend, crossMask, dropout, enhanced, resolveOptions, torchLinear } from '../src/index.js';

describe('nn', () => {
  it('dropout zeroes about p of the values and scales the rest by 1/(1 − p); identity at p = 0', async () => {
    setBackend('cpu');
    const y = await dropout(full([100_000], 1), 0.1, prngKey(0)).data();
    const zeros = y.filter((v) => v === 0).length / y.length;
    expect(zeros).toBeGreaterThan(0.095);
    expect(zeros).toBeLessThan(0.105);
    expect(y.filter((v) => v !== 0).every((v) => Math.abs(v - 1 / 0.9) < 1e-6)).toBe(true);
    const x = full([3], 2);
    expect(dropout(x, 0, prngKey(0))).toBe(x);
  });

  it("torchLinear is PyTorch's default nn.Linear init: uniform in ±1/√in", async () => {
    const p = torchLinear(prngKey(1), 'l', 64, 32);
    const w = await p['l.weight'].data();
    const b = await p['l.bias'].data();
    expect(p['l.weight'].shape).toEqual([32, 64]);
    const bound = 1 / 8;
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.95 * bound);
    expect(Math.max(...b.map(Math.abs))).toBeLessThanOrEqual(bound);
  });

  it('crossMask: padding keys hidden; causal adds j ≤ q0 + i', async () => {
    const mask = crossMask(full([1, 4], 1), 1, 2, 4, true)!;
    expect(await mask.array()).toEqual([[[[1, 1, 0, 0], [1, 1, 1, 0]]]]);
    expect(crossMask(null, 0, 2, 2, false)).toBeNull();
  });

  it('attention dropout only acts in training with a key; enhanced in training mode with dropout 0 equals eval', async () => {
    const q = randomNormal(prngKey(2), [1, 3, 8]);
    const kv = randomNormal(prngKey(3), [1, 3, 8]);
    const [a, b, c] = [attend(q, kv, kv, { heads: 2, mask: null }), attend(q, kv, kv, { heads: 2, mask: null, dropout: 0.5 }), attend(q, kv, kv, { heads: 2, mask: null, dropout: 0.5, key: prngKey(4) })];
    await evaluate(a, b, c);
    expect(await b.data()).toEqual(await a.data());
    expect(await c.data()).not.toEqual(await a.data());
    const options = resolveOptions(enhanced, { heads: 2, adapterDim: 4, dropout: 0 });
    const dims = { teacher: 12, student: 8, studentLayers: 2 };
    const p = enhanced.init(dims, options, prngKey(5));
    const H = randomNormal(prngKey(6), [2, 4, 12]);
    const [e, t] = [enhanced.apply(p, H, { options, dims }), enhanced.apply(p, H, { options, dims, training: true, key: prngKey(7) })];
    const withDrop = enhanced.apply(p, H, { options: { ...options, dropout: 0.1 }, dims, training: true, key: prngKey(7) });
    await evaluate(e, t, withDrop);
    expect(await t.data()).toEqual(await e.data());
    expect(await withDrop.data()).not.toEqual(await e.data());
  });
});
