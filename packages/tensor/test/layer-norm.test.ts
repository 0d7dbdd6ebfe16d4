/**
 * The fused LayerNorm primitives (`layerNorm`, backward `layerNormGrad` → packed [dx | dweight | dbias])
 * on every CPU backend (cpu: JavaScript loops; webasm / threads: the WebAssembly SIMD kernels), and with
 * the fast paths off (the gpu.js kernels), against naive float64 loops written here from the math (dx
 * through the full Jacobian of x̂), and the forward against the composite `layerNormReference`.
 * Shapes: C = 1, C = 3 and 67 (the scalar tail), 64, rank 1 / 2 / 3, a transposed (non-contiguous) x,
 * rows with a large common offset (cancellation), a GPT-Neo step's [8, 64, 64], and [1100, 67], which
 * the threads backend splits by rows (partial dweight / dbias sums).
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import type { BackendName, Tensor } from '../src/index.js';

const AVAILABLE = new Set(await T.listBackends());
const BACKENDS = (['cpu', 'webasm', 'threads'] as BackendName[]).filter((b) => AVAILABLE.has(b));
const EPS = 1e-5;

function randoms(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + (hi - lo) * (s / 2 ** 32);
  });
}

/**
 * float64 LayerNorm of rows of C (x in C order) and the gradients for cotangent g, each value with a
 * magnitude bound (Σ of the absolute values of its terms) that scales the tolerance.
 */
function naive(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, g: ArrayLike<number>, C: number, eps = EPS) {
  const R = x.length / C;
  const y = new Float64Array(R * C);
  const yb = new Float64Array(R * C);
  const grad = new Float64Array((R + 2) * C);
  const gb = new Float64Array((R + 2) * C);
  for (let n = 0; n < R; n++) {
    const row = Array.from({ length: C }, (_, c) => x[n * C + c]);
    const mu = row.reduce((s, v) => s + v, 0) / C;
    const r = 1 / Math.sqrt(row.reduce((s, v) => s + (v - mu) ** 2, 0) / C + eps);
    const xh = row.map((v) => (v - mu) * r);
    for (let c = 0; c < C; c++) {
      y[n * C + c] = xh[c] * w[c] + b[c];
      yb[n * C + c] = Math.abs(xh[c] * w[c]) + Math.abs(b[c]);
      grad[R * C + c] += g[n * C + c] * xh[c];
      gb[R * C + c] += Math.abs(g[n * C + c] * xh[c]);
      grad[(R + 1) * C + c] += g[n * C + c];
      gb[(R + 1) * C + c] += Math.abs(g[n * C + c]);
    }
    // dx_k = Σ_i g_i·w_i·∂x̂_i/∂x_k, ∂x̂_i/∂x_k = r·(δ_ik − 1/C − x̂_i·x̂_k/C); the bound is the size of
    // the terms a float32 kernel cancels: r·(|a_k| + mean|a| + |x̂_k|·mean|a·x̂|), a = g·w
    const a = xh.map((_, i) => g[n * C + i] * w[i]);
    const meanAbs = (f: (i: number) => number) => a.reduce((s, _, i) => s + Math.abs(f(i)), 0) / C;
    const [ma, mx] = [meanAbs((i) => a[i]), meanAbs((i) => a[i] * xh[i])];
    for (let k = 0; k < C; k++) {
      for (let i = 0; i < C; i++) grad[n * C + k] += a[i] * r * ((i === k ? 1 : 0) - 1 / C - (xh[i] * xh[k]) / C);
      gb[n * C + k] = r * (Math.abs(a[k]) + ma + Math.abs(xh[k]) * mx);
    }
  }
  return { y, yb, grad, gb };
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, bound: ArrayLike<number>, rel: number, ctx: string): void {
  expect(got.length, ctx).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= rel * (Math.abs(want[i]) + bound[i]) + 1e-30)) {
      throw new Error(`${ctx}: at ${i} got ${got[i]}, expected ${want[i]} (bound ${bound[i]})`);
    }
  }
}

interface Case {
  name: string;
  shape: number[];
  /** x given as the transpose of a [C, R] tensor (rank 2 only) */
  transposed?: boolean;
  /** common offset added to every x value (values offset + noise·spread) */
  offset?: number;
  spread?: number;
}

const CASES: Case[] = [
  { name: 'C = 1 (x̂ = 0: dx = 0, dweight = 0)', shape: [5, 1] },
  { name: 'C = 3 (scalar tail only)', shape: [4, 3] },
  { name: 'rank 1, C = 7', shape: [7] },
  { name: 'rank 3, C = 64', shape: [2, 3, 64] },
  { name: 'C = 67 (vectors and a tail of 3)', shape: [5, 67] },
  { name: 'transposed x [6, 13]', shape: [6, 13], transposed: true },
  { name: 'transposed x [9, 64]', shape: [9, 64], transposed: true },
  { name: 'large offset 1e3, noise 1e-2 (cancellation)', shape: [6, 64], offset: 1e3, spread: 1e-2 },
  { name: 'large offset 1e3, noise 1e-2, C = 67', shape: [3, 67], offset: -1e3, spread: 1e-2 },
  { name: 'GPT-Neo step [8, 64, 64]', shape: [8, 64, 64] },
  { name: '[1100, 67]: rows split over the threads (threads backend)', shape: [1100, 67] },
];

/** The inputs of case c (x in C order as the reference sees it) and the tensors on the current backend. */
function inputs(c: Case, seed: number) {
  const C = c.shape[c.shape.length - 1];
  const size = c.shape.reduce((a, d) => a * d, 1);
  const xv = randoms(size, seed, -(c.spread ?? 2), c.spread ?? 2).map((v) => v + (c.offset ?? 0));
  const [wv, bv, gv] = [randoms(C, seed + 1, 0.5, 1.5), randoms(C, seed + 2), randoms(size, seed + 3)];
  const R = size / C;
  const x = c.transposed ? T.transpose(T.tensor(Float32Array.from({ length: size }, (_, k) => xv[(k % R) * C + Math.floor(k / R)]), [C, R])) : T.tensor(xv, c.shape);
  return { xv, wv, bv, gv, x, w: T.tensor(wv, [C]), b: T.tensor(bv, [C]), g: T.tensor(gv, c.shape) };
}

/** y, and [dx | dweight | dbias] through the forward's gradient rule (the fused backward). */
async function fused(x: Tensor, w: Tensor, b: Tensor, g: Tensor): Promise<[Float32Array, Float32Array]> {
  const y = T.layerNorm(x, w, b);
  expect(y.op).toBe('layerNorm');
  const grads = T.PRIMITIVES.get('layerNorm')!.vjp!(g, y, y.inputs) as Tensor[];
  let back = grads[0];
  while (back.op !== 'layerNormGrad' && back.inputs.length) back = back.inputs[0];
  expect(back.op).toBe('layerNormGrad');
  const flat = T.concat(grads.map((t) => T.reshape(t, [-1])), 0);
  return [(await y.data()) as Float32Array, (await flat.data()) as Float32Array];
}

afterEach(() => T.setFastPaths(true));

describe.each(BACKENDS)('fused LayerNorm on %s against float64', (backend) => {
  for (const [k, c] of CASES.entries()) {
    for (const fast of [true, false]) {
      // the gpu.js kernels loop over every row per dweight element: only the small shapes
      if (!fast && c.shape.reduce((a, d) => a * d, 1) > 5000) continue;
      it(`${c.name}${fast ? '' : ' (gpu.js kernels)'}`, async () => {
        T.setBackend(backend);
        T.setFastPaths(fast);
        const t = inputs(c, 17 * k + 3);
        const ref = naive(t.xv, t.wv, t.bv, t.gv, c.shape[c.shape.length - 1]);
        const [y, grad] = await fused(t.x, t.w, t.b, t.g);
        expectClose(y, ref.y, ref.yb, 2e-6, `forward, ${c.name}`);
        expectClose(grad, ref.grad, ref.gb, 1e-5, `gradient, ${c.name}`);
      });
    }
  }

  it('the fused forward equals the composite layerNormReference; bias omitted = zero bias', async () => {
    T.setBackend(backend);
    const t = inputs({ name: '', shape: [3, 5, 40] }, 5);
    const [f, r] = [await T.layerNorm(t.x, t.w, t.b).data(), await T.layerNormReference(t.x, t.w, t.b).data()];
    expectClose(f, r, new Float64Array(f.length).fill(1), 2e-6, 'fused vs composite');
    const [f0, r0] = [await T.layerNorm(t.x, t.w).data(), await T.layerNormReference(t.x, t.w).data()];
    expectClose(f0, r0, new Float64Array(f.length).fill(1), 2e-6, 'fused vs composite, no bias');
  });

  it('property: random shapes, scales and offsets match float64', async () => {
    T.setBackend(backend);
    const arb = fc.record({
      lead: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 2 }),
      c: fc.integer({ min: 1, max: 40 }),
      offset: fc.constantFrom(0, 3, -50),
      spread: fc.constantFrom(1e-1, 1, 30),
      seed: fc.integer({ min: 1, max: 1e6 }),
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ lead, c, offset, spread, seed }) => {
        const shape = [...lead, c];
        const t = inputs({ name: '', shape, offset, spread }, seed);
        const ref = naive(t.xv, t.wv, t.bv, t.gv, c);
        const [y, grad] = await fused(t.x, t.w, t.b, t.g);
        expectClose(y, ref.y, ref.yb, 1e-5, `forward ${JSON.stringify(shape)}`);
        expectClose(grad, ref.grad, ref.gb, 5e-5, `gradient ${JSON.stringify(shape)}`);
      }),
      { numRuns: 25, seed: 4242 },
    );
  });
});

describe('fused LayerNorm: public API', () => {
  it('layerNormGrad returns dx, dweight, dbias views of one node', async () => {
    T.setBackend(BACKENDS[0] ?? 'cpu');
    const [dx, dw, db] = T.layerNormGrad(T.tensor([[1, 2, 3]]), T.ones([3]), T.tensor([[1, 0, 0]]));
    expect([dx.shape, dw.shape, db.shape]).toEqual([[1, 3], [3], [3]]);
    expect(Array.from(await db.data())).toEqual([1, 0, 0]);
    const ref = naive([1, 2, 3], [1, 1, 1], [0, 0, 0], [1, 0, 0], 3);
    expectClose(await dx.data(), ref.grad.subarray(0, 3), ref.gb, 1e-5, 'dx');
    expectClose(await dw.data(), ref.grad.subarray(3, 6), ref.gb.subarray(3), 1e-5, 'dweight');
  });

  it('rejects bad shapes, dtypes and eps at build time', () => {
    const x = T.zeros([2, 3]);
    expect(() => T.layerNorm(T.zeros([]), T.ones([1]))).toThrow(/layerNorm: x must be float32 of rank ≥ 1/);
    expect(() => T.layerNorm(T.zeros([2, 3], 'int32'), T.ones([3]))).toThrow(/layerNorm: x must be float32/);
    expect(() => T.layerNorm(T.zeros([2, 0]), T.ones([0]))).toThrow(/layerNorm: needs at least one element per row/);
    expect(() => T.layerNorm(x, T.ones([4]))).toThrow(/layerNorm: weight must be float32 \[3\]/);
    expect(() => T.layerNorm(x, T.ones([1, 3]))).toThrow(/layerNorm: weight must be float32 \[3\]/);
    expect(() => T.layerNorm(x, T.ones([3]), T.zeros([2]))).toThrow(/layerNorm: bias must be float32 \[3\]/);
    expect(() => T.layerNorm(x, T.ones([3]), null, -1)).toThrow(/layerNorm: eps must be a finite number ≥ 0/);
    expect(() => T.layerNormGrad(x, T.ones([3]), T.zeros([3, 2]))).toThrow(/layerNormGrad: g must be float32 \[2, 3\]/);
    expect(() => T.layerNormReference(x, T.ones([2]))).toThrow(/layerNormReference: weight must be/);
  });
});
