/**
 * Gradients of gradients against finite differences of function values (float64, reference backend)
 * and against closed forms: tanh, softmax cross-entropy, and an MLP's Hessian-vector product.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as T from '@llm-modules/tensor';
import type { Tensor } from '@llm-modules/tensor';
import { grad, treeFlatten, treeUnflatten } from '../src/index.js';
import { makeTensor, mulberry32 } from '../src/testing.js';
import { crossEntropy, mlp } from './composites.js';

beforeAll(() => T.setBackend('reference'));

const f64 = (values: ArrayLike<number>, shape: number[]) => T.tensor(Float64Array.from(values), shape);
const read = async (t: Tensor) => Array.from(await T.readFloat64(t));
const scalar = async (t: Tensor) => (await read(t))[0];

/** Value of a scalar function of a flat float64 vector. */
type VecFn = (x: Float64Array) => Promise<number>;

/** Hessian-vector product by mixed central differences of function values only: (H·v)ᵢ ≈ ∂²f/∂xᵢ∂v. */
async function fdHvp(f: VecFn, x: Float64Array, v: Float64Array, h = 1e-4): Promise<number[]> {
  const at = (di: number, i: number, dv: number) => f(x.map((xj, j) => xj + (j === i ? di * h : 0) + dv * h * v[j]));
  const out: number[] = [];
  for (let i = 0; i < x.length; i++) out.push(((await at(1, i, 1)) - (await at(1, i, -1)) - (await at(-1, i, 1)) + (await at(-1, i, -1))) / (4 * h * h));
  return out;
}

describe('second derivatives', () => {
  it('tanh: d²/dx² and d³/dx³ match closed forms and second differences', async () => {
    const d1 = (x: Tensor) => grad((y: Tensor) => T.sum(T.tanh(y)))(x);
    const d2 = (x: Tensor) => grad((y: Tensor) => T.sum(d1(y)))(x);
    const d3 = (x: Tensor) => grad((y: Tensor) => T.sum(d2(y)))(x);
    const xs = [-2.5, -0.7, 0, 0.3, 1.9];
    const x = f64(xs, [xs.length]);
    const [g2, g3] = [await read(d2(x)), await read(d3(x))];
    const h = 1e-4;
    xs.forEach((v, i) => {
      const t = Math.tanh(v);
      expect(g2[i]).toBeCloseTo(-2 * t * (1 - t * t), 12);
      expect(g3[i]).toBeCloseTo(-2 * (1 - t * t) * (1 - 3 * t * t), 12);
      const second = (Math.tanh(v + h) - 2 * t + Math.tanh(v - h)) / (h * h);
      expect(g2[i]).toBeCloseTo(second, 6);
    });
  });

  it('softmax cross-entropy: Hessian-vector product = p⊙v − p(p·v) per row, and matches finite differences', async () => {
    const [N, C] = [3, 4];
    const z = makeTensor([N, C], 'real', 7);
    const labels = T.tensor(new Int32Array([2, -100, 0]), [N]);
    const v = makeTensor([N, C], 'small', 8);
    const loss = (z: Tensor) => crossEntropy(z, labels);
    const hvp = grad((z: Tensor) => T.sum(T.mul(grad(loss)(z), v)))(z);
    const got = await read(hvp);
    const [zv, vv] = [await T.readFloat64(z), await T.readFloat64(v)];
    // closed form: valid rows are 0 and 2 (row 1 is ignored), the mean divides by 2
    for (let r = 0; r < N; r++) {
      const row = Array.from(zv.slice(r * C, r * C + C));
      const m = Math.max(...row);
      const e = row.map((a) => Math.exp(a - m));
      const p = e.map((a) => a / e.reduce((s, b) => s + b, 0));
      const pv = p.reduce((s, pi, i) => s + pi * vv[r * C + i], 0);
      for (let i = 0; i < C; i++) {
        const expected = r === 1 ? 0 : (p[i] * vv[r * C + i] - p[i] * pv) / 2;
        expect(got[r * C + i]).toBeCloseTo(expected, 12);
      }
    }
    const fd = await fdHvp(async (x) => scalar(loss(f64(x, [N, C]))), zv, vv);
    fd.forEach((e, i) => expect(got[i]).toBeCloseTo(e, 6));
  });

  it('MLP: Hessian-vector product over a parameter tree matches mixed finite differences', async () => {
    const [B, I, H, O] = [3, 2, 4, 2];
    const params = { w1: makeTensor([I, H], 'small', 1), b1: makeTensor([H], 'small', 2), w2: makeTensor([H, O], 'small', 3) };
    const x = makeTensor([B, I], 'real', 4);
    const { leaves, def } = treeFlatten(params);
    const rand = mulberry32(5);
    const v = treeUnflatten<typeof params>(def, leaves.map((l) => f64(Array.from({ length: l.size }, () => 2 * rand() - 1), [...l.shape])));
    const loss = (p: typeof params) => mlp(p, x);
    const inner = (p: typeof params) => {
      const g = grad(loss)(p);
      return T.add(T.add(T.sum(T.mul(g.w1, v.w1)), T.sum(T.mul(g.b1, v.b1))), T.sum(T.mul(g.w2, v.w2)));
    };
    const hv = grad(inner)(params);
    const got = [...(await read(hv.w1)), ...(await read(hv.b1)), ...(await read(hv.w2))];
    const flatX = Float64Array.from([...(await T.readFloat64(params.w1)), ...(await T.readFloat64(params.b1)), ...(await T.readFloat64(params.w2))]);
    const flatV = Float64Array.from([...(await T.readFloat64(v.w1)), ...(await T.readFloat64(v.b1)), ...(await T.readFloat64(v.w2))]);
    const unflat = (a: Float64Array) => {
      let k = 0;
      return treeUnflatten<typeof params>(def, leaves.map((l) => f64(a.slice(k, (k += l.size)), [...l.shape])));
    };
    const fd = await fdHvp(async (a) => scalar(loss(unflat(a))), flatX, flatV);
    expect(got.length).toBe(fd.length);
    fd.forEach((e, i) => expect(got[i]).toBeCloseTo(e, 6));
    expect(got.some((g) => Math.abs(g) > 1e-3)).toBe(true); // the check is not vacuous
  });
});
