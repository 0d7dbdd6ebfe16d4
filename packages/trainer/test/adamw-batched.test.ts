/**
 * AdamW updates small parameters in batches (one flat vector per (rate, decay)):
 * every parameter must come out as the per-tensor formula gives it, whatever its size or group (to float32
 * rounding: a fused kernel keeps its intermediates in higher precision, and fusion groups differ).
 */
import { describe, expect, test } from 'vitest';
import { add, div, evaluate, mul, randomNormal, prngKey, setBackend, sqrt, sub, type Tensor } from '@llm-modules/tensor';
import { adamw } from '@llm-modules/trainer';

/** One AdamW step of one tensor, written out (the formula of adamw.ts before batching). */
function reference(p: Tensor, g: Tensor, m: Tensor, v: Tensor, t: number, lr: number, wd: number): Tensor[] {
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  const m1 = add(mul(m, b1), mul(g, 1 - b1));
  const v1 = add(mul(v, b2), mul(mul(g, g), 1 - b2));
  const denom = add(div(sqrt(v1), Math.sqrt(1 - b2 ** t)), eps);
  return [sub(wd ? mul(p, 1 - lr * wd) : p, mul(div(m1, denom), lr / (1 - b1 ** t))), m1, v1];
}

async function close(got: Tensor, want: Tensor): Promise<void> {
  const [a, b] = [await got.data(), await want.data()];
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(2e-7 * Math.max(1, Math.abs(b[i])));
}

describe.each(['cpu', 'webasm'] as const)('AdamW batching (%s)', (backend) => {
  test('two steps over 30 tensors of mixed sizes and two groups match the per-tensor formula', async () => {
    setBackend(backend);
    const shapes = [[64], [3, 5], [8192], [7], [16, 16], [1], [300, 30], ...Array.from({ length: 23 }, (_, i) => [i + 2, 3])];
    const params: Record<string, Tensor> = {};
    shapes.forEach((s, i) => (params[`${i % 3 === 0 ? 'head.' : 'body.'}w${i}`] = randomNormal(prngKey(i), s)));
    const opt = adamw({ lr: 1e-2, weightDecay: 0.1, groups: [{ match: 'head.', lr: 3e-2, weightDecay: 0 }] });
    let state = opt.init(params);
    let p = params;
    const refs: Record<string, Tensor[]> = {};
    for (const k of Object.keys(params)) refs[k] = [params[k], mul(params[k], 0), mul(params[k], 0)];
    for (let step = 1; step <= 2; step++) {
      const grads: Record<string, Tensor> = {};
      for (const [i, k] of Object.keys(params).entries()) grads[k] = randomNormal(prngKey(1000 * step + i), params[k].shape);
      const [next, nextState] = opt.update(grads, state, p);
      p = next as Record<string, Tensor>;
      state = nextState;
      for (const k of Object.keys(params)) {
        const head = k.startsWith('head.');
        refs[k] = reference(refs[k][0], grads[k], refs[k][1], refs[k][2], step, head ? 3e-2 : 1e-2, head ? 0 : 0.1);
      }
    }
    const m = state.m as Record<string, Tensor>;
    const v = state.v as Record<string, Tensor>;
    await evaluate(...Object.values(p), ...Object.values(m), ...Object.values(v), ...Object.values(refs).flat());
    for (const k of Object.keys(params)) {
      expect(p[k].shape).toEqual(params[k].shape);
      expect(m[k].shape).toEqual(params[k].shape);
      await close(p[k], refs[k][0]);
      await close(m[k], refs[k][1]);
      await close(v[k], refs[k][2]);
    }
  });
});
