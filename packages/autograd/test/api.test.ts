/** grad / valueAndGrad / vjp over pytrees, and the explicit no-gradient rules. Expected values are worked out by hand. */
import { beforeAll, describe, expect, it } from 'vitest';
import * as T from '@llm-modules/tensor';
import type { Tensor } from '@llm-modules/tensor';
import { grad, stopGradient, treeLeaves, valueAndGrad, vjp } from '../src/index.js';

const f64 = (values: number[], shape?: number[]) => T.tensor(Float64Array.from(values), shape ?? [values.length]);
const read = async (t: Tensor) => Array.from(await T.readFloat64(t));
const close = async (t: Tensor, expected: number[], digits = 12) => {
  const got = await read(t);
  expect(got.length).toBe(expected.length);
  got.forEach((v, i) => expect(v).toBeCloseTo(expected[i], digits));
};

beforeAll(() => T.setBackend('reference'));

describe('grad and valueAndGrad', () => {
  it('differentiates a function of a Hugging Face-keyed parameter tree', async () => {
    const params = { 'transformer.h.0.mlp.c_fc.weight': f64([1, 2, 3], [3]), 'transformer.h.0.mlp.c_fc.bias': f64([0.5]), 'lm_head.weight': f64([2]) };
    // L = Σ (w·x + b)² · s   with x = [1, -1, 2]
    const x = f64([1, -1, 2]);
    const loss = (p: typeof params, x: Tensor) => {
      const y = T.add(T.mul(p['transformer.h.0.mlp.c_fc.weight'], x), p['transformer.h.0.mlp.c_fc.bias']);
      return T.mul(T.sum(T.mul(y, y)), p['lm_head.weight']);
    };
    const [value, g] = valueAndGrad(loss)(params, x);
    await T.evaluate(value, ...treeLeaves(g));
    // y = [1.5, -1.5, 6.5]; L = 2·(2.25 + 2.25 + 42.25) = 93.5
    await close(value, [93.5]);
    expect(Object.keys(g)).toEqual(Object.keys(params));
    await close(g['transformer.h.0.mlp.c_fc.weight'], [2 * 2 * 1.5 * 1, 2 * 2 * -1.5 * -1, 2 * 2 * 6.5 * 2]); // 2s·y·x
    await close(g['transformer.h.0.mlp.c_fc.bias'], [2 * 2 * (1.5 - 1.5 + 6.5)]); // 2s·Σy
    await close(g['lm_head.weight'], [46.75]); // Σy²
  });

  it('argnums picks arguments; an array gives a tuple', async () => {
    const f = (a: Tensor, b: Tensor, c: Tensor) => T.sum(T.mul(T.mul(a, b), c));
    const [a, b, c] = [f64([2]), f64([3]), f64([5])];
    await close(grad(f)(a, b, c), [15]);
    await close(grad(f, 2)(a, b, c), [6]);
    const [ga, gc] = grad(f, [0, 2])(a, b, c);
    await close(ga, [15]);
    await close(gc, [6]);
    expect(() => grad(f, 3)(a, b, c)).toThrow(/argnums 3 is out of range/);
    expect(() => grad(f, [1, 1])(a, b, c)).toThrow(/repeats an argument/);
  });

  it('nested arrays and objects keep their structure; static leaves give null', async () => {
    const tree = { layers: [{ w: f64([1, 2]) }, { w: f64([3, 4]) }], name: 'mlp', scale: 2 };
    const g = grad((t: typeof tree) => T.sum(T.mul(T.mul(t.layers[0].w, t.layers[1].w), t.scale)))(tree);
    await close(g.layers[0].w, [6, 8]);
    await close(g.layers[1].w, [2, 4]);
    expect(g.name).toBeNull();
    expect(g.scale).toBeNull();
  });

  it('hasAux returns the auxiliary tree next to the loss', async () => {
    const f = (x: Tensor) => [T.sum(T.mul(x, x)), { mean: T.mean(x), tag: 'aux' }] as const;
    const [[loss, aux], g] = valueAndGrad(f, 0, { hasAux: true })(f64([1, 3])) as unknown as [[Tensor, { mean: Tensor; tag: string }], Tensor];
    await close(loss, [10]);
    await close(aux.mean, [2]);
    expect(aux.tag).toBe('aux');
    await close(g, [2, 6]);
    const [g2, aux2] = grad(f, 0, { hasAux: true })(f64([1, 3])) as unknown as [Tensor, { tag: string }];
    await close(g2, [2, 6]);
    expect(aux2.tag).toBe('aux');
  });

  it('rejects a non-scalar loss with a clear message', () => {
    expect(() => grad((x: Tensor) => T.mul(x, 2))(f64([1, 2]))).toThrow(/must return a scalar.*shape \[2\].*use vjp/);
    expect(() => grad((_x: Tensor) => 3 as unknown as Tensor)(f64([1]))).toThrow(/must return a scalar/);
  });

  it('a size-1 output of any rank is a scalar loss', async () => {
    await close(grad((x: Tensor) => T.reshape(T.sum(T.mul(x, x)), [1, 1]))(f64([3])), [6]);
  });

  it('f(x, x): each argument gets its own partial derivative', async () => {
    const x = f64([2]);
    const [ga, gb] = grad((a: Tensor, b: Tensor) => T.sum(T.mul(T.mul(a, a), b)), [0, 1])(x, x);
    await close(ga, [8]); // 2ab
    await close(gb, [4]); // a²
  });

  it('an output that is an input unchanged, and inputs that are never used', async () => {
    const [y, pullback] = vjp((a: Tensor, b: Tensor) => ({ same: a, other: T.mul(a, 3), constant: T.tensor([7]) }), f64([1, 2]), f64([5]));
    const [ga, gb] = pullback({ same: f64([1, 10]), other: f64([100, 1000]), constant: null });
    await close(ga, [301, 3010]);
    await close(gb, [0]);
    await close(y.same, [1, 2]);
  });

  it('the pullback still works after the output was evaluated, and can be called twice', async () => {
    const [y, pullback] = vjp((x: Tensor) => T.sin(T.mul(x, x)), f64([0.5, 1.5]));
    await y.data();
    const [g1] = pullback(f64([1, 1]));
    const [g2] = pullback(f64([2, 0]));
    await close(g1, [2 * 0.5 * Math.cos(0.25), 2 * 1.5 * Math.cos(2.25)]);
    await close(g2, [2 * 2 * 0.5 * Math.cos(0.25), 0]);
  });

  it('cotangent trees are checked against the output tree', () => {
    const [, pullback] = vjp((x: Tensor) => ({ a: x, b: [x, x] }), f64([1]));
    expect(() => pullback({ a: f64([1, 2]), b: null } as never)).toThrow(/cotangent at \.a has shape \[2\]/);
    expect(() => pullback({ a: null, b: [null] } as never)).toThrow(/expected an array of 2 at \.b/);
    expect(() => pullback({ a: null, c: null } as never)).toThrow(/unexpected keys c/);
    expect(() => pullback({ a: T.tensor(new Int32Array([1]), [1]), b: null } as never)).toThrow(/must be float32, got int32/);
  });
});

describe('no gradient by explicit rule, never a crash', () => {
  it('int32 and bool arguments get float32 zeros of their shape', async () => {
    const ids = T.tensor(new Int32Array([2, 0, 2]), [3]);
    const mask = T.tensor(new Uint8Array([1, 0, 1]), [3]);
    const table = f64([10, 20, 30]);
    const [gTable, gIds, gMask] = grad((t: Tensor, i: Tensor, m: Tensor) => T.sum(T.where(m, T.gather(t, i), 0)), [0, 1, 2])(table, ids, mask);
    await close(gTable, [0, 0, 2]); // ids 2 and 2 are kept, id 0 is masked out
    expect(gIds.dtype).toBe('float32');
    expect(gIds.shape).toEqual([3]);
    await close(gIds, [0, 0, 0]);
    await close(gMask, [0, 0, 0]);
  });

  it('through argmax, comparisons, casts to int and gather indices: zero', async () => {
    const x = f64([0.5, 2, -1]);
    const f = (x: Tensor) => {
      const best = T.argmax(x); // int32
      const idx = T.cast(T.mul(x, 0), 'int32');
      const picked = T.gather(x, T.reshape(best, [1])); // gradient flows to x through the gathered value only
      const step = T.cast(T.greater(x, 0), 'float32');
      return T.add(T.sum(picked), T.add(T.sum(step), T.sum(T.cast(idx, 'float32'))));
    };
    await close(grad(f)(x), [0, 1, 0]);
  });

  it('stopGradient passes values and blocks gradients', async () => {
    const x = f64([3]);
    const [value, g] = valueAndGrad((x: Tensor) => T.sum(T.mul(x, stopGradient(T.mul(x, x)))))(x);
    await close(value, [27]);
    await close(g, [9]); // d/dx x·c with c = x² held constant
  });

  it('an output that does not depend on the argument gives zero gradients', async () => {
    await close(grad((_x: Tensor) => T.sum(T.tensor([1, 2])))(f64([1, 2, 3])), [0, 0, 0]);
  });
});

describe('the cotangents of slices that cut a tensor into parts', () => {
  // x [2, 7]; L = Σ x[:, 0:2]·a + Σ x[:, 4:7]·b + Σ x[:, 5:7]·c  → dL/dx by hand below
  const x = f64(Array.from({ length: 14 }, (_, i) => i), [2, 7]);
  const a = f64([1, 2], [1, 2]);
  const b = f64([3, 4, 5], [1, 3]);
  const c = f64([10, 20], [1, 2]);
  const part = (t: Tensor, lo: number, hi: number, w: Tensor) => T.sum(T.mul(T.slice(t, [0, lo], [2, hi]), w));

  it('disjoint slices along one axis: one concat, zeros in the gap', async () => {
    const [g] = grad((t: Tensor) => T.add(part(t, 0, 2, a), part(t, 4, 7, b)), [0])(x);
    expect(g.op).toBe('concat'); // not pads and a full-size addition
    await close(g, [1, 2, 0, 0, 3, 4, 5, 1, 2, 0, 0, 3, 4, 5]);
  });

  it('overlapping slices still add up', async () => {
    const [g] = grad((t: Tensor) => T.add(T.add(part(t, 0, 2, a), part(t, 4, 7, b)), part(t, 5, 7, c)), [0])(x);
    expect(g.op).toBe('add');
    await close(g, [1, 2, 0, 0, 3, 14, 25, 1, 2, 0, 0, 3, 14, 25]);
  });
});

describe('broadcast subtrahends and divisors', () => {
  it('negate their summed cotangent instead of a full-size −g (the same values)', async () => {
    const a = f64([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = f64([10, 20], [2, 1]);
    const w = f64([1, 2, 3, 4, 5, 6], [2, 3]);
    const [gb] = grad((y: Tensor) => T.sum(T.mul(T.sub(a, y), w)), [0])(b);
    expect(gb.op).toBe('neg'); // applied to the [2, 1] sum, not to the [2, 3] cotangent
    await close(gb, [-6, -15]);
    // d/dy Σ w·a/y = −Σ w·a / y²
    const [gd] = grad((y: Tensor) => T.sum(T.mul(T.div(a, y), w)), [0])(b);
    expect(gd.op).toBe('neg');
    await close(gd, [-(1 + 4 + 9) / 100, -(16 + 25 + 36) / 400]);
  });
});
