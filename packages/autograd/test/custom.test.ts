/** customVjp and checkpoint: semantics, errors, and gradients against finite differences. */
import { beforeAll, describe, expect, it } from 'vitest';
import * as T from '@llm-modules/tensor';
import type { Tensor } from '@llm-modules/tensor';
import { checkpoint, customVjp, grad, treeLeaves, valueAndGrad, vjp } from '../src/index.js';
import { checkGrads, makeTensor } from '../src/testing.js';

beforeAll(() => T.setBackend('reference'));

const f64 = (values: number[], shape?: number[]) => T.tensor(Float64Array.from(values), shape ?? [values.length]);
const read = async (t: Tensor) => Array.from(await T.readFloat64(t));

describe('customVjp', () => {
  it('the backward rule is the one given (straight-through rounding)', async () => {
    const round = (x: Tensor) => T.cast(T.cast(T.add(x, 0.5), 'int32'), 'float32');
    const steRound = customVjp(round, undefined, (_args: [Tensor], g: Tensor) => [g]);
    const x = f64([0.2, 1.7, 2.4]);
    const [value, g] = valueAndGrad((x: Tensor) => T.sum(T.mul(steRound(x), f64([1, 2, 3]))))(x);
    expect(await read(value)).toEqual([0 + 2 * 2 + 3 * 2]);
    expect(await read(g)).toEqual([1, 2, 3]);
    expect(await read(grad((x: Tensor) => T.sum(round(x)))(x))).toEqual([0, 0, 0]); // without it: no gradient
  });

  it('residuals from fwd reach bwd; several outputs each get their cotangent (zeros elsewhere)', async () => {
    let seen: { keys: string[] } | undefined;
    const f = customVjp(
      (a: Tensor, b: Tensor) => ({ prod: T.mul(a, b), a2: T.mul(a, a) }),
      (a: Tensor, b: Tensor) => [{ prod: T.mul(a, b), a2: T.mul(a, a) }, { a, b }] as [{ prod: Tensor; a2: Tensor }, { a: Tensor; b: Tensor }],
      (r: { a: Tensor; b: Tensor }, ct: { prod: Tensor; a2: Tensor }) => {
        seen = { keys: Object.keys(ct) };
        return [T.add(T.mul(ct.prod, r.b), T.mul(T.mul(ct.a2, r.a), 2)), T.mul(ct.prod, r.a)];
      },
    );
    const [, pullback] = vjp(f, f64([3]), f64([5]));
    const [ga, gb] = pullback({ prod: f64([1]), a2: f64([10]) });
    expect(await read(ga)).toEqual([5 + 60]);
    expect(await read(gb)).toEqual([3]);
    expect(seen?.keys).toEqual(['prod', 'a2']);
    const [ga2] = pullback({ prod: null, a2: f64([1]) });
    expect(await read(ga2)).toEqual([6]);
  });

  it('a null cotangent from bwd means zero; pytree arguments work', async () => {
    const f = customVjp(
      (p: { w: Tensor; b: Tensor }, x: Tensor) => T.add(T.mul(p.w, x), p.b),
      undefined,
      ([p, x]: [{ w: Tensor; b: Tensor }, Tensor], g: Tensor) => [{ w: T.mul(g, x), b: null }, T.mul(g, p.w)],
    );
    const [gp, gx] = grad((p: { w: Tensor; b: Tensor }, x: Tensor) => T.sum(f(p, x)), [0, 1])({ w: f64([2]), b: f64([1]) }, f64([7]));
    expect(await read(gp.w)).toEqual([7]);
    expect(await read(gp.b)).toEqual([0]);
    expect(await read(gx)).toEqual([2]);
  });

  it('errors: closing over a differentiated tensor, malformed bwd results', () => {
    const x = f64([1, 2]);
    expect(() => grad((w: Tensor) => T.sum(customVjp((a: Tensor) => T.mul(a, w), undefined, () => [null])(x)))(x)).toThrow(/closes over a tensor that is being differentiated/);
    const badShape = customVjp((a: Tensor) => T.sin(a), undefined, () => [f64([1])]);
    expect(() => grad((a: Tensor) => T.sum(badShape(a)))(x)).toThrow(/bwd returned shape \[1\] for an argument leaf of shape \[2\]/);
    const notArray = customVjp((a: Tensor) => T.sin(a), undefined, () => f64([1, 1]) as never);
    expect(() => grad((a: Tensor) => T.sum(notArray(a)))(x)).toThrow(/one cotangent tree per argument/);
  });

  it('a hand-written rule that is wrong is caught by checkGrads', async () => {
    const wrongCos = customVjp((a: Tensor) => T.sin(a), undefined, ([a]: [Tensor], g: Tensor) => [T.mul(g, T.sin(a))]);
    await expect(checkGrads(wrongCos, [makeTensor([3], 'real', 1)])).rejects.toThrow(/BAD arg0/);
  });
});

describe('checkpoint', () => {
  const w = () => makeTensor([3, 3], 'small', 11);
  const x = () => makeTensor([2, 3], 'small', 12);

  it('computes the same values; gradients (arguments and closed-over parameters) match finite differences', async () => {
    const body = (h: Tensor, w: Tensor) => T.tanh(T.add(h, T.matmul(T.sin(h), w)));
    const ck = checkpoint(body);
    expect(await read(ck(x(), w()))).toEqual(await read(body(x(), w())));
    await checkGrads((h: Tensor, w: Tensor) => ck(ck(h, w), w), [x(), w()], { order: 2 });
    // w closed over instead of passed: still differentiated
    await checkGrads((h: Tensor, w: Tensor) => checkpoint((g: Tensor) => body(g, w))(h), [x(), w()], { order: 2 });
  });

  it('recomputes the forward in the backward pass, once for several outputs', async () => {
    let calls = 0;
    const f = checkpoint((h: Tensor) => {
      calls++;
      const t = T.tanh(h);
      return [T.mul(t, 2), T.sum(t)];
    });
    const [value, g] = valueAndGrad((h: Tensor) => {
      const [a, b] = f(h);
      return T.add(T.sum(a), b);
    })(x());
    expect(calls).toBe(2); // forward + one recomputation for both outputs
    const t = (await read(x())).map(Math.tanh);
    expect((await read(value))[0]).toBeCloseTo(3 * t.reduce((s, v) => s + v, 0), 12);
    (await read(g)).forEach((gi, i) => expect(gi).toBeCloseTo(3 * (1 - t[i] * t[i]), 12));
  });

  it('an impure f is reported when the recomputation differs', () => {
    let rows = 1;
    const impure = checkpoint((h: Tensor) => T.sum(T.reshape(h, [(rows *= 2), -1]), 1)); // [2] then [4]
    expect(() => grad((h: Tensor) => T.sum(impure(h)))(makeTensor([4], 'small', 1))).toThrow(/f must be pure/);
  });

  it('the backward graph does not reference the forward intermediates', () => {
    const inner: Tensor[] = [];
    const f = checkpoint((h: Tensor, w: Tensor) => {
      const a = T.tanh(T.matmul(h, w));
      inner.push(a);
      return T.mul(a, a);
    });
    const g = grad((h: Tensor, w: Tensor) => T.sum(f(h, w)), [0, 1])(x(), w());
    const reachable = new Set<Tensor>();
    const stack = [...treeLeaves(g)];
    while (stack.length) {
      const t = stack.pop()!;
      if (reachable.has(t)) continue;
      reachable.add(t);
      stack.push(...t.inputs);
    }
    expect(inner).toHaveLength(2);
    expect(reachable.has(inner[0])).toBe(false); // the first forward's activation is not kept
    expect(reachable.has(inner[1])).toBe(true); // the recomputed one is used
  });
});
