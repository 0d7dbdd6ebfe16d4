/**
 * The WebAssembly reductions, scatter-add and copies (backends/cpu/wasm/reduce.ts, backends/cpu/wasm/copy.ts) are bit-identical
 * to the JavaScript loops they replace (backends/cpu/reduce.ts; the cpu backend still runs them): the kernels
 * against those loops, and whole ops on webasm / threads against the cpu backend
 * (which runs the JavaScript loops), on random shapes, layouts and special values. Exact: Object.is per
 * element, so NaN, ±∞ and −0 count.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import type { BackendName } from '../src/index.js';
import { getRuntime } from '../src/backends/cpu/runtime.js';
import { foldLeading, maxRows, sumRows } from '../src/backends/cpu/reduce.js';

// --- the reference: the JavaScript loops (backends/cpu/reduce.ts) the cpu backend runs, which the kernels replace

function sumRowsRef(rows: Float32Array, n: number, R: number): Float32Array {
  const out = new Float32Array(n);
  sumRows(rows, out, n, R);
  return out;
}

function maxRowsRef(rows: Float32Array, n: number, R: number): Float32Array {
  const out = new Float32Array(n);
  maxRows(rows, out, n, R);
  return out;
}

const foldSumRef = (x: Float32Array, R: number, K: number): Float32Array => Float32Array.from(foldLeading('sum', x, R, K));

const clamp = (v: number, n: number): number => (v < 0 ? 0 : v > n - 1 ? n - 1 : v);
function scatterRef(us: Float32Array, ids: Float32Array, P: number, J: number, Q: number): Float32Array {
  const I = ids.length;
  const acc = new Float64Array(P * J * Q);
  for (let p = 0; p < P; p++) {
    for (let i = 0; i < I; i++) {
      const j = clamp(Math.floor(ids[i] + 0.0), J);
      const dst = (p * J + j) * Q;
      const src = (p * I + i) * Q;
      for (let q = 0; q < Q; q++) acc[dst + q] += us[src + q];
    }
  }
  return Float32Array.from(acc);
}

// --- inputs

/** Mostly finite floats of mixed magnitudes (so that the order of float64 additions shows), some specials. */
const value = fc.oneof(
  { weight: 12, arbitrary: fc.float({ min: -1e4, max: 1e4, noNaN: true }) },
  { weight: 6, arbitrary: fc.float({ min: -3, max: 3, noNaN: true }).map((v) => v * 2 ** 20) },
  { weight: 2, arbitrary: fc.float() },
  { weight: 2, arbitrary: fc.constantFrom(0, -0, 1, -1, NaN, Infinity, -Infinity, 3e38, -3e38, 1e-45) },
);
const floats = (n: number) => fc.array(value, { minLength: n, maxLength: n }).map((a) => Float32Array.from(a));

/** Index of the first element where a and b differ (Object.is), or -1. */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

// --- kernels against the reference

const rt = getRuntime();
const fns = rt.kernels.fns;
/** Floats into a fresh scratch block; returns its byte address. */
function put(x: Float32Array): number {
  const at = rt.alloc(x.length);
  rt.f32.set(x, at >> 2);
  return at;
}
const get = (at: number, n: number): Float32Array => rt.f32.slice(at >> 2, (at >> 2) + n);
const runs = { numRuns: 300 };

describe('wasm reduction kernels are bit-identical to the JavaScript loops', () => {
  const rowsCase = fc.tuple(fc.integer({ min: 1, max: 11 }), fc.integer({ min: 1, max: 75 })).chain(([n, R]) => fc.tuple(fc.constant(n), fc.constant(R), floats(n * R)));

  it('sum_rows: four partial sums, the tail in s0, s0 + s1 + (s2 + s3)', () => {
    fc.assert(
      fc.property(rowsCase, ([n, R, x]) => {
        rt.reset();
        const src = put(x);
        const dst = rt.alloc(n);
        fns.sum_rows(src, dst, n, R);
        expect(firstDiff(get(dst, n), sumRowsRef(x, n, R))).toBe(-1);
      }),
      runs,
    );
  });

  it('max_rows: the v > m scan per lane (NaN only from a row’s first value, the first of ±0)', () => {
    const signed = fc.tuple(fc.integer({ min: 1, max: 11 }), fc.integer({ min: 1, max: 40 })).chain(([n, R]) =>
      fc.tuple(fc.constant(n), fc.constant(R), fc.array(fc.constantFrom(0, -0, NaN, -Infinity, 1, -1, 2), { minLength: n * R, maxLength: n * R }).map((a) => Float32Array.from(a))),
    );
    for (const c of [rowsCase, signed]) {
      fc.assert(
        fc.property(c, ([n, R, x]) => {
          rt.reset();
          const src = put(x);
          const dst = rt.alloc(n);
          fns.max_rows(src, dst, n, R);
          expect(firstDiff(get(dst, n), maxRowsRef(x, n, R))).toBe(-1);
        }),
        runs,
      );
    }
  });

  it('sum_lead: row pairs (x[r] + x[r+1]) into the float64 accumulator, then the leftover row', () => {
    const c = fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 45 })).chain(([R, K]) => fc.tuple(fc.constant(R), fc.constant(K), floats(R * K)));
    fc.assert(
      fc.property(c, ([R, K, x]) => {
        rt.reset();
        const src = put(x);
        const dst = rt.alloc(K);
        fns.sum_lead(src, dst, R, K);
        expect(firstDiff(get(dst, K), foldSumRef(x, R, K))).toBe(-1);
      }),
      runs,
    );
  });
});

// --- whole ops: the wasm paths (webasm, threads) against the JavaScript ones (cpu)

const AVAILABLE = new Set(await T.listBackends());
const WASM_BACKENDS = (['webasm', 'threads'] as BackendName[]).filter((b) => AVAILABLE.has(b));

/** Values of `build()` on each backend (inputs first made into storage of that backend). */
async function onBackends(build: () => T.Tensor): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const b of ['cpu', ...WASM_BACKENDS] as BackendName[]) {
    T.setBackend(b);
    out.push((await build().data()) as Float32Array);
  }
  return out;
}

/** A tensor of the values, computed (×1 keeps −0 and NaN) so that its storage is an output of the backend. */
const stored = (x: Float32Array, shape: number[]): T.Tensor => T.mul(T.tensor(x, shape), 1);

const shapeCase = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 4, maxLength: 4 })).chain(([r, ds]) => {
  const shape = [20, ...ds].slice(0, r + 1);
  const n = shape.reduce((a, b) => a * b, 1);
  return fc.tuple(fc.constant(shape), floats(n), fc.shuffledSubarray(shape.map((_, k) => k)), fc.subarray(shape.map((_, k) => k), { minLength: 1 }));
});

describe('wasm host paths match the cpu backend exactly', () => {
  it.skipIf(!WASM_BACKENDS.length)('sum / max / argmax over any axes of permuted views', async () => {
    await fc.assert(
      fc.asyncProperty(shapeCase, async ([shape, x, perm, axes]) => {
        const order = perm.length === shape.length ? perm : shape.map((_, k) => k);
        for (const op of [T.sum, T.max, T.argmax]) {
          const ax = op === T.argmax ? axes[0] : axes;
          const [cpu, ...rest] = await onBackends(() => op(T.permute(stored(x, shape), order), ax as number[]));
          for (const r of rest) expect(firstDiff(r, cpu)).toBe(-1);
        }
      }),
      { numRuns: 40 },
    );
  });

  it.skipIf(!WASM_BACKENDS.length)('sum / max over leading axes (bias gradients), of dense and permuted storage', async () => {
    const c = fc
      .tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 16, max: 70 }))
      .chain(([a, b, k]) => fc.tuple(fc.constant([a, b, k]), floats(a * b * k)));
    await fc.assert(
      fc.asyncProperty(c, fc.boolean(), async ([shape, x], swap) => {
        const view = () => (swap ? T.permute(stored(x, [shape[1], shape[0], shape[2]]), [1, 0, 2]) : stored(x, [...shape]));
        for (const axes of [[0], [0, 1]]) {
          for (const op of [T.sum, T.max]) {
            const [cpu, ...rest] = await onBackends(() => op(view(), axes));
            for (const r of rest) expect(firstDiff(r, cpu)).toBe(-1);
          }
        }
        const ref = foldSumRef(x, shape[0] * shape[1], shape[2]);
        if (!swap) for (const r of await onBackends(() => T.sum(view(), [0, 1]))) expect(firstDiff(r, ref)).toBe(-1);
      }),
      { numRuns: 40 },
    );
  });

  it.skipIf(!WASM_BACKENDS.length)('copies of permuted views, pads, concats and gathers', async () => {
    await fc.assert(
      fc.asyncProperty(shapeCase, fc.integer({ min: 0, max: 3 }), fc.double({ noNaN: false }), async ([shape, x, perm, axes], pad, v) => {
        const order = perm.length === shape.length ? perm : shape.map((_, k) => k);
        const ax = axes[0];
        const builds = [
          () => T.reshape(T.permute(stored(x, shape), order), [x.length]),
          () => T.pad(T.permute(stored(x, shape), order), shape.map((_, k) => [k === ax ? pad : 0, k === axes[axes.length - 1] ? 1 : 0] as [number, number]), v),
          () => T.concat([T.permute(stored(x, shape), order), T.permute(stored(x, shape), order), stored(x, order.map((k) => shape[k]))], ax),
          () => T.gather(stored(x, shape), T.tensor(new Int32Array([2, 0, -1, 99, 1]), [5]), ax),
          // host storage (user arrays, not in wasm memory): the window is copied in, then the SIMD copy
          () => T.pad(T.permute(T.tensor(x, shape), order), shape.map((_, k) => [0, k === ax ? pad : 0] as [number, number]), v),
          () => T.pad(T.broadcastTo(T.tensor(x.subarray(0, 1), []), [...shape]), shape.map((_, k) => [0, k === ax ? 1 : 0] as [number, number]), v),
          () => T.add(T.reshape(T.broadcastTo(T.tensor(x.subarray(0, shape[shape.length - 1]), [shape[shape.length - 1]]), [...shape]), [x.length]), 0),
        ];
        for (const build of builds) {
          const [cpu, ...rest] = await onBackends(build);
          for (const r of rest) expect(firstDiff(r, cpu)).toBe(-1);
        }
      }),
      { numRuns: 30 },
    );
  });

  it.skipIf(!WASM_BACKENDS.length)('scatter-add: float64 sums in index order (clamped, fractional indices)', async () => {
    const c = fc
      .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 70 }))
      .chain(([P, I, J, Q]) =>
        fc.tuple(
          fc.constant([P, I, J, Q]),
          floats(P * I * Q),
          fc.array(fc.integer({ min: -2, max: J + 1 }), { minLength: I, maxLength: I }),
        ),
      );
    await fc.assert(
      fc.asyncProperty(c, async ([[P, I, J, Q], u, ids]) => {
        const idx = T.tensor(Int32Array.from(ids), [I]);
        const ref = scatterRef(u, Float32Array.from(ids), P, J, Q);
        const all = await onBackends(() => T.scatterAdd(stored(u, [P, I, Q]), idx, 1, J));
        for (const r of all) expect(firstDiff(r, ref)).toBe(-1);
      }),
      { numRuns: 60 },
    );
  });
});
