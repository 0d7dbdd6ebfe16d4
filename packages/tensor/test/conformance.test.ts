/**
 * Conformance suite: every primitive and composite, on every available backend, against the naive
 * float64 reference in naive.ts, with fast-check-generated shapes (size-0 and size-1 dims, broadcasting)
 * and values, often fed as non-contiguous views (permute / stepped or reversed slice / broadcast).
 *
 * FC_RUNS (default 20) sets the runs per property, FC_SEED (default fixed) the seed, FC_BACKENDS
 * (comma-separated) limits the backends. headlessgl and webgpu run only where the library reports them
 * available (webgpu in Node: the `webgpu` devDependency, Dawn, and an adapter), except that a backend
 * FC_BACKENDS names must be available: a CI step that asks for webgpu cannot pass by skipping it.
 */
import fc from 'fast-check';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import type { BackendName, Tensor } from '../src/index.js';
import * as N from './naive.js';
import * as A from './arbitraries.js';
import { mulberry32 as rng } from '../src/random.js';

const RUNS = Number(process.env.FC_RUNS ?? 20);
const SEED = Number(process.env.FC_SEED ?? 0x5eed2026);
const ALL_BACKENDS: BackendName[] = ['reference', 'cpu', 'webasm', 'threads', 'headlessgl', 'webgpu'];
const ONLY = process.env.FC_BACKENDS?.split(',').map((s) => s.trim());
const BACKENDS = ONLY ? ALL_BACKENDS.filter((b) => ONLY.includes(b)) : ALL_BACKENDS;
const AVAILABLE = new Set(await T.listBackends());
const GL_BACKENDS = new Set<BackendName>(['headlessgl', 'webgl', 'webgl2', 'webgpu']);

// ---------------------------------------------------------------------------------------------------
// helpers

const ops: A.LayoutOps<Tensor> = {
  tensor: (v, shape, dtype) => T.tensor(v, shape, dtype),
  permute: (x, axes) => T.permute(x, axes),
  slice: (x, a, b, c) => T.slice(x, a, b, c),
  broadcastTo: (x, s) => T.broadcastTo(x, s),
};
/** Build the library tensor for an input recipe (Float64Array sources when `f64`, for the reference backend). */
let useF64 = false;
/** GL backends flush subnormal floats to zero (GPU arithmetic); their comparisons accept that. */
let flushSubnormals = false;
const lib = (x: A.Input): Tensor => A.buildInput(x, ops, useF64);

/** Per-element tolerance: |got − ref| ≤ abs + rel·|ref| (+ extra[i]); 'exact' means bit-equal values (NaN = NaN). */
type Tol = 'exact' | { abs?: number; rel?: number; extra?: ArrayLike<number> };
const EXACT: Tol = 'exact';
const ARITH: Tol = { abs: 1e-5, rel: 1e-5 };
/** transcendental ops: a few float32 ulps (measured: ≤ 2e-7 relative on cpu/webasm) */
const TRANSC: Tol = { abs: 2e-7, rel: 4e-6 };

function fmtIdx(shape: readonly number[], k: number): string {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(k % shape[d]);
    k = Math.floor(k / shape[d]);
  }
  return `[${idx.join(', ')}]`;
}

const sameSpecial = (g: number, w: number) => (Number.isNaN(g) && Number.isNaN(w)) || g === w;

/**
 * Evaluate `t` and compare with `ref`. Checks shape, dtype and values; throws a descriptive error.
 */
async function expectClose(t: Tensor, ref: N.NDArray, tol: Tol, dtype: 'float32' | 'int32' | 'bool' = 'float32', ctx = ''): Promise<void> {
  const where = ctx ? ` (${ctx})` : '';
  if (t.shape.length !== ref.shape.length || t.shape.some((d, i) => d !== ref.shape[i])) {
    throw new Error(`shape [${t.shape}] ≠ expected [${ref.shape}]${where}`);
  }
  if (t.dtype !== dtype) throw new Error(`dtype ${t.dtype} ≠ expected ${dtype}${where}`);
  const got = useF64 && dtype === 'float32' ? await T.readFloat64(t) : await t.data();
  const wantCtor = dtype === 'float32' ? (useF64 ? Float64Array : Float32Array) : dtype === 'int32' ? Int32Array : Uint8Array;
  if (!(got instanceof wantCtor)) throw new Error(`data() returned ${got.constructor.name}, expected ${wantCtor.name}${where}`);
  if (got.length !== ref.data.length) throw new Error(`data() length ${got.length} ≠ ${ref.data.length}${where}`);
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    // GPUs flush subnormals to zero: on GL backends a subnormal expected value may come back as 0.
    const w = flushSubnormals && Math.abs(ref.data[i]) < 1.1754943508222875e-38 && g === 0 ? 0 : ref.data[i];
    let ok: boolean;
    if (tol === 'exact') ok = sameSpecial(g, dtype === 'float32' && !useF64 ? Math.fround(w) : w);
    else if (!Number.isFinite(w) || !Number.isFinite(g)) ok = sameSpecial(g, w);
    else ok = Math.abs(g - w) <= (tol.abs ?? 0) + (tol.rel ?? 0) * Math.abs(w) + (tol.extra ? tol.extra[i] : 0);
    if (!ok) {
      const bound = tol === 'exact' ? 0 : (tol.abs ?? 0) + (tol.rel ?? 0) * Math.abs(w) + (tol.extra ? tol.extra[i] : 0);
      throw new Error(`at ${fmtIdx(ref.shape, i)} of [${ref.shape}]: got ${g}, expected ${w} (|Δ| = ${Math.abs(g - w)}, allowed ${bound})${where}`);
    }
  }
}

/** Run a fast-check async property with the suite's seed and run count. */
function prop<Ts extends unknown[]>(name: string, arbs: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> }, body: (...args: Ts) => Promise<void>, runs = RUNS): void {
  it(name, async () => {
    await fc.assert(fc.asyncProperty(...(arbs as unknown as [fc.Arbitrary<unknown>]), body as (...a: unknown[]) => Promise<void>), { seed: SEED, numRuns: runs });
  });
}

/** Axes spec as the user might write it: list (maybe negative), a single number, or undefined for all. */
function axesSpecArb(rank: number, axes: number[]): fc.Arbitrary<number | number[] | undefined> {
  const opts: fc.Arbitrary<number | number[] | undefined>[] = [fc.constant(axes), fc.constant(axes.map((a) => a - rank))];
  if (axes.length === rank) opts.push(fc.constant(undefined));
  if (axes.length === 1) opts.push(fc.constant(axes[0]), fc.constant(axes[0] - rank));
  return fc.oneof(...opts);
}

/** Shape + sorted axes where every reduced dim is ≥ 1 (max/argmax/logsumexp of an empty group is not defined). */
const nonEmptyReduceArb = (opts: A.ShapeOptions = {}) =>
  A.shapeWithAxesArb(opts).map(({ shape, axes }) => ({ shape: shape.map((d, i) => (axes.includes(i) && d === 0 ? 1 : d)), axes }));

/** Shape + axis with a non-empty softmax axis (the library rejects softmax over a size-0 axis; see report). */
const softmaxArb = (domain: A.Domain, opts: A.ShapeOptions = {}) =>
  A.shapeWithAxisArb(opts).chain(({ shape, axis }) => {
    const ax = axis < 0 ? axis + shape.length : axis;
    return fc.tuple(A.inputArb(shape.map((d, i) => (i === ax && d === 0 ? 1 : d)), domain), fc.constant(axis));
  });

const sumAbs = (x: N.NDArray, axes?: number | number[], keepdims = false) => N.sum(N.unary('abs', x), axes, keepdims).data;
const scaled = (a: Float64Array, c: number) => Float64Array.from(a, (v) => v * c);

// ---------------------------------------------------------------------------------------------------
// the op catalogue (shared by the float32 backends and the float64 reference run)

const UNARY_CASES: { op: N.UnaryName; domain: A.Domain; tol: Tol }[] = [
  { op: 'neg', domain: 'any', tol: EXACT },
  { op: 'abs', domain: 'any', tol: EXACT },
  { op: 'exp', domain: 'exp', tol: TRANSC },
  { op: 'log', domain: 'positive', tol: TRANSC },
  { op: 'sqrt', domain: 'positive', tol: TRANSC },
  { op: 'rsqrt', domain: 'positive', tol: TRANSC },
  { op: 'tanh', domain: 'wide', tol: TRANSC },
  { op: 'sigmoid', domain: 'wide', tol: TRANSC },
  { op: 'erf', domain: 'wide', tol: { abs: 1e-6 } }, // a float32 rational approximation: ~4e-7 measured
  { op: 'sin', domain: 'any', tol: TRANSC },
  { op: 'cos', domain: 'any', tol: TRANSC },
  { op: 'reciprocal', domain: 'nonzero', tol: TRANSC },
  { op: 'geluTanh', domain: 'wide', tol: TRANSC },
];

const BINARY_CASES: { op: N.BinaryName; da: A.Domain; db: A.Domain; tol: Tol; out?: 'bool' }[] = [
  { op: 'add', da: 'any', db: 'any', tol: ARITH },
  { op: 'sub', da: 'any', db: 'any', tol: ARITH },
  { op: 'mul', da: 'any', db: 'any', tol: ARITH },
  { op: 'div', da: 'any', db: 'nonzero', tol: ARITH },
  { op: 'pow', da: 'powBase', db: 'powExp', tol: { abs: 1e-6, rel: 1e-5 } },
  { op: 'maximum', da: 'any', db: 'any', tol: EXACT },
  { op: 'minimum', da: 'any', db: 'any', tol: EXACT },
  ...N.COMPARISONS.map((op) => ({ op, da: 'ints' as A.Domain, db: 'ints' as A.Domain, tol: EXACT, out: 'bool' as const })),
];

/** Tolerance scale: 1 on float32 CPU backends, larger on GL (GPU float math), tiny on the float64 reference run. */
let tolScale = 1;
const tl = (t: Tol): Tol => (t === 'exact' || tolScale === 1 ? t : { abs: (t.abs ?? 0) * tolScale, rel: (t.rel ?? 0) * tolScale, extra: t.extra && scaled(Float64Array.from(t.extra), tolScale) });

function elementwiseSuites(): void {
  describe('unary', () => {
    for (const c of UNARY_CASES) {
      prop(`${c.op}`, [A.shapeArb().chain((s) => A.inputArb(s, c.domain))], async (x) => {
        const fn = T[c.op] as (t: Tensor) => Tensor;
        await expectClose(fn(lib(x)), N.unary(c.op, x.logical), c.op === 'erf' && useF64 ? { abs: 1e-9 } : tl(c.tol), 'float32', A.describeInput(x));
      });
    }
  });

  prop('geluTanhGrad (the backward of geluTanh): g·φ′(x)', [A.shapeArb().chain((s) => fc.tuple(A.inputArb(s, 'wide'), A.inputArb(s, 'any')))], async ([x, g]) => {
    const want = N.zipWith(N.map(x.logical, N.geluTanhSlope), g.logical, (a, b) => a * b);
    await expectClose(T.geluTanhGrad(lib(x), lib(g)), want, tl(TRANSC), 'float32', `${A.describeInput(x)}, ${A.describeInput(g)}`);
  });

  describe('binary (broadcasting)', () => {
    for (const c of BINARY_CASES) {
      prop(
        `${c.op}`,
        [A.broadcastableShapesArb(2).chain(({ shapes }) => fc.tuple(A.inputArb(shapes[0], c.da), A.inputArb(shapes[1], c.db)))],
        async ([a, b]) => {
          const fn = T[c.op] as (x: Tensor, y: Tensor) => Tensor;
          await expectClose(fn(lib(a), lib(b)), N.binary(c.op, a.logical, b.logical), tl(c.tol), c.out ?? 'float32', `${A.describeInput(a)} ${c.op} ${A.describeInput(b)}`);
        },
      );
      prop(
        `${c.op} with a JS number operand`,
        [A.shapeArb().chain((s) => A.inputArb(s, c.da)), A.valueArb(c.db), fc.boolean()],
        async (a, v, numberFirst) => {
          const fn = T[c.op] as (x: Tensor | number, y: Tensor | number) => Tensor;
          // keep the divisor/exponent as the number when the domain demands it
          const swap = numberFirst && c.da === c.db;
          const got = swap ? fn(v, lib(a)) : fn(lib(a), v);
          const ref = swap ? N.binary(c.op, N.scalar(v), a.logical) : N.binary(c.op, a.logical, N.scalar(v));
          await expectClose(got, ref, tl(c.tol), c.out ?? 'float32', `${swap ? `${v} ${c.op} ` : ''}${A.describeInput(a)}${swap ? '' : ` ${c.op} ${v}`}`);
        },
        Math.max(5, Math.ceil(RUNS / 2)),
      );
    }
    prop(
      'pow: negative base with integer exponents',
      [A.broadcastableShapesArb(2).chain(({ shapes }) => fc.tuple(A.inputArb(shapes[0], 'nonzero'), A.inputArb(shapes[1], 'ints')))],
      async ([a, b]) => {
        await expectClose(T.pow(lib(a), lib(b)), N.binary('pow', a.logical, b.logical), tl({ abs: 1e-6, rel: 1e-5 }), 'float32', `${A.describeInput(a)} ** ${A.describeInput(b)}`);
      },
    );
  });

  describe('where / cast', () => {
    prop(
      'where(bool cond, a, b) broadcasts all three',
      [A.broadcastableShapesArb(3).chain(({ shapes }) => fc.tuple(A.inputArb(shapes[0], 'bool', { dtype: 'bool' }), A.inputArb(shapes[1], 'any'), A.inputArb(shapes[2], 'any')))],
      async ([c, a, b]) => {
        await expectClose(T.where(lib(c), lib(a), lib(b)), N.where(c.logical, a.logical, b.logical), EXACT, 'float32', `${A.describeInput(c)} ? ${A.describeInput(a)} : ${A.describeInput(b)}`);
      },
    );
    prop(
      'where(float cond, a, number)',
      [A.broadcastableShapesArb(2).chain(({ shapes }) => fc.tuple(A.inputArb(shapes[0], 'ints'), A.inputArb(shapes[1], 'any'))), A.valueArb('any')],
      async ([c, a], v) => {
        await expectClose(T.where(lib(c), lib(a), v), N.where(c.logical, a.logical, N.scalar(v)), EXACT, 'float32', `${A.describeInput(c)} ? ${A.describeInput(a)} : ${v}`);
      },
    );
    prop('cast float32 → int32 truncates toward zero', [A.shapeArb().chain((s) => A.inputArb(s, 'any'))], async (x) => {
      await expectClose(T.cast(lib(x), 'int32'), N.cast(x.logical, 'int32'), EXACT, 'int32', A.describeInput(x));
    });
    prop('cast float32 → bool is x != 0', [A.shapeArb().chain((s) => A.inputArb(s, 'ints'))], async (x) => {
      await expectClose(T.cast(lib(x), 'bool'), N.cast(x.logical, 'bool'), EXACT, 'bool', A.describeInput(x));
    });
    prop('cast int32 → float32 and int32 → bool', [A.shapeArb().chain((s) => A.inputArb(s, 'ints', { dtype: 'int32' }))], async (x) => {
      await expectClose(T.cast(lib(x), 'float32'), x.logical, EXACT, 'float32', A.describeInput(x));
      await expectClose(T.cast(lib(x), 'bool'), N.cast(x.logical, 'bool'), EXACT, 'bool', A.describeInput(x));
    });
    prop('cast bool → float32 / int32', [A.shapeArb().chain((s) => A.inputArb(s, 'bool', { dtype: 'bool' }))], async (x) => {
      await expectClose(T.cast(lib(x), 'float32'), x.logical, EXACT, 'float32', A.describeInput(x));
      await expectClose(T.cast(lib(x), 'int32'), x.logical, EXACT, 'int32', A.describeInput(x));
    });
  });
}

function reductionSuites(): void {
  describe('reductions', () => {
    prop(
      'sum(axes, keepdims)',
      [A.shapeWithAxesArb().chain(({ shape, axes }) => fc.tuple(A.inputArb(shape, 'any'), axesSpecArb(shape.length, axes), fc.boolean()))],
      async ([x, axes, keepdims]) => {
        const ref = N.sum(x.logical, axes, keepdims);
        await expectClose(T.sum(lib(x), axes, keepdims), ref, tl({ abs: 1e-5, rel: 1e-5, extra: scaled(sumAbs(x.logical, axes, keepdims), 3e-6) }), 'float32', `${A.describeInput(x)} axes=${JSON.stringify(axes)} keepdims=${keepdims}`);
      },
    );
    prop(
      'max(axes, keepdims)',
      [nonEmptyReduceArb().chain(({ shape, axes }) => fc.tuple(A.inputArb(shape, 'any'), A.inputArb(shape, 'ints'), fc.boolean(), axesSpecArb(shape.length, axes), fc.boolean()))],
      async ([xf, xi, useInts, axes, keepdims]) => {
        const x = useInts ? xi : xf;
        await expectClose(T.max(lib(x), axes, keepdims), N.max(x.logical, axes, keepdims), EXACT, 'float32', `${A.describeInput(x)} axes=${JSON.stringify(axes)} keepdims=${keepdims}`);
      },
    );
    prop(
      'argmax(axes, keepdims): first index of the max in C order over the reduced axes',
      [nonEmptyReduceArb().chain(({ shape, axes }) => fc.tuple(A.inputArb(shape, 'ints'), A.inputArb(shape, 'any'), fc.boolean(), axesSpecArb(shape.length, axes), fc.boolean()))],
      async ([xi, xf, useFloats, axes, keepdims]) => {
        const x = useFloats ? xf : xi; // small ints: many ties
        await expectClose(T.argmax(lib(x), axes, keepdims), N.argmax(x.logical, axes, keepdims), EXACT, 'int32', `${A.describeInput(x)} axes=${JSON.stringify(axes)} keepdims=${keepdims}`);
      },
    );
    prop(
      'sum of int32 is exact int32',
      [A.shapeWithAxesArb().chain(({ shape, axes }) => fc.tuple(A.inputArb(shape, 'ints', { dtype: 'int32' }), fc.constant(axes), fc.boolean()))],
      async ([x, axes, keepdims]) => {
        await expectClose(T.sum(lib(x), axes, keepdims), N.sum(x.logical, axes, keepdims), EXACT, 'int32', `${A.describeInput(x)} axes=${JSON.stringify(axes)}`);
      },
    );
  });

  describe('composites', () => {
    prop(
      'mean(axes, keepdims)',
      [nonEmptyReduceArb().chain(({ shape, axes }) => fc.tuple(A.inputArb(shape, 'any'), axesSpecArb(shape.length, axes), fc.boolean()))],
      async ([x, axes, keepdims]) => {
        const ref = N.mean(x.logical, axes, keepdims);
        const n = Math.max(1, N.sizeOf(x.logical.shape) / Math.max(1, N.sizeOf(ref.shape)));
        await expectClose(T.mean(lib(x), axes, keepdims), ref, tl({ abs: 1e-5, rel: 1e-5, extra: scaled(sumAbs(x.logical, axes, keepdims), 3e-6 / n) }), 'float32', `${A.describeInput(x)} axes=${JSON.stringify(axes)}`);
      },
    );
    prop(
      'softmax(axis)',
      [softmaxArb('any')],
      async ([x, axis]) => {
        await expectClose(T.softmax(lib(x), axis), N.softmax(x.logical, axis), tl({ abs: 1e-6, rel: 1e-5 }), 'float32', `${A.describeInput(x)} axis=${axis}`);
      },
    );
    prop('softmax default axis is -1', [A.shapeArb({ minRank: 1 }).chain((s) => A.inputArb(s.map((d, i) => (i === s.length - 1 && d === 0 ? 1 : d)), 'any'))], async (x) => {
      await expectClose(T.softmax(lib(x)), N.softmax(x.logical, -1), tl({ abs: 1e-6, rel: 1e-5 }), 'float32', A.describeInput(x));
    });
    prop(
      'logSoftmax(axis)',
      [softmaxArb('any')],
      async ([x, axis]) => {
        await expectClose(T.logSoftmax(lib(x), axis), N.logSoftmax(x.logical, axis), tl({ abs: 2e-5, rel: 2e-5 }), 'float32', `${A.describeInput(x)} axis=${axis}`);
      },
    );
    prop(
      'logsumexp(axes, keepdims)',
      [nonEmptyReduceArb().chain(({ shape, axes }) => fc.tuple(A.inputArb(shape, 'any'), axesSpecArb(shape.length, axes), fc.boolean()))],
      async ([x, axes, keepdims]) => {
        await expectClose(T.logsumexp(lib(x), axes, keepdims), N.logsumexp(x.logical, axes, keepdims), tl({ abs: 2e-5, rel: 2e-5 }), 'float32', `${A.describeInput(x)} axes=${JSON.stringify(axes)} keepdims=${keepdims}`);
      },
    );
    prop('softmax / logSoftmax / logsumexp of logits in ±1e4', [softmaxArb('logits')], async ([x, axis]) => {
      const ctx = `${A.describeInput(x)} axis=${axis}`;
      await expectClose(T.softmax(lib(x), axis), N.softmax(x.logical, axis), tl({ abs: 1e-6, rel: 1e-5 }), 'float32', ctx);
      // x − max is exact-ish, but the float32 inputs themselves are ~1e4: allow a few ulps of 1e4
      await expectClose(T.logSoftmax(lib(x), axis), N.logSoftmax(x.logical, axis), tl({ abs: 2e-3, rel: 2e-6 }), 'float32', ctx);
      await expectClose(T.logsumexp(lib(x), [axis], true), N.logsumexp(x.logical, [axis], true), tl({ abs: 2e-3, rel: 2e-6 }), 'float32', ctx);
    });
  });
}

/** [shape, axis] of a gather source with a non-empty axis, indices shape rank 0..2 with values in [-2, n+1]. */
const gatherArb = A.shapeWithAxisArb({ maxRank: 3 }).chain(({ shape, axis }) => {
  const ax = axis < 0 ? axis + shape.length : axis;
  const s = shape.map((d, i) => (i === ax && d === 0 ? 1 : d));
  return fc.tuple(A.inputArb(s, 'any'), A.shapeArb({ maxRank: 2, maxDim: 4 }).chain((is) => A.indicesArb(is, -2, s[ax] + 1)), fc.constant(axis));
});

/** updates, indices, axis, dimSize for scatterAdd. */
const scatterArb = fc
  .tuple(A.shapeArb({ maxRank: 2, maxDim: 3 }), A.shapeArb({ maxRank: 2, maxDim: 4 }), A.shapeArb({ maxRank: 2, maxDim: 3 }), fc.integer({ min: 1, max: 5 }), fc.boolean())
  .chain(([lead, is, trail, dimSize, negAxis]) =>
    fc.tuple(
      A.inputArb([...lead, ...is, ...trail], 'any'),
      A.indicesArb(is, -2, dimSize + 1),
      fc.constant(negAxis ? lead.length - (lead.length + 1 + trail.length) : lead.length),
      fc.constant(dimSize),
    ),
  );

/** Operands for matmul: batch dims that broadcast, 1-D operands sometimes. */
const matmulArb = fc
  .tuple(A.broadcastableShapesArb(2, { maxRank: 2, maxDim: 3 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 9 }))
  .chain(([{ shapes }, m, k, n, oneD]) => {
    // oneD: 0 → a is 1-D, 1 → b is 1-D, 2 → both, otherwise matrices
    const sa = oneD === 0 || oneD === 2 ? [k] : [...shapes[0], m, k];
    const sb = oneD === 1 || oneD === 2 ? [k] : [...shapes[1], k, n];
    return fc.tuple(A.inputArb(sa, 'any'), A.inputArb(sb, 'any'));
  });

function movementSuites(): void {
  describe('movement', () => {
    prop(
      'reshape (including -1 and non-contiguous sources)',
      [
        A.shapeArb().chain((shape) => {
          const n = N.sizeOf(shape);
          const factors: number[] = [];
          for (let m = n, p = 2; m > 1; ) {
            if (m % p === 0) {
              factors.push(p);
              m /= p;
            } else p++;
          }
          const target =
            n === 0
              ? fc.tuple(fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 3 }), fc.nat(3)).map(([dims, at]) => {
                  const t = dims.slice();
                  t.splice(Math.min(at, t.length), 0, 0);
                  return t;
                })
              : fc
                  .tuple(fc.integer({ min: factors.length ? 1 : 0, max: 4 }), fc.array(fc.nat(3), { minLength: factors.length, maxLength: factors.length }))
                  .map(([rank, where]) => {
                    const t = new Array<number>(rank).fill(1);
                    factors.forEach((f, i) => (t[where[i] % rank] *= f));
                    return t;
                  });
          return fc.tuple(A.inputArb(shape, 'any'), target, fc.nat(4));
        }),
      ],
      async ([x, target, inferAt]) => {
        const spec = target.slice();
        if (N.sizeOf(target) > 0 && inferAt < spec.length) spec[inferAt] = -1;
        await expectClose(T.reshape(lib(x), spec), N.reshape(x.logical, target), EXACT, 'float32', `${A.describeInput(x)} → [${spec}]`);
      },
    );
    prop(
      'permute and transpose',
      [A.shapeArb().chain((s) => fc.tuple(A.inputArb(s, 'any'), fc.shuffledSubarray([...s.keys()], { minLength: s.length, maxLength: s.length }), fc.boolean()))],
      async ([x, perm, negative]) => {
        const axes = negative ? perm.map((a) => a - perm.length) : perm;
        await expectClose(T.permute(lib(x), axes), N.permute(x.logical, perm), EXACT, 'float32', `${A.describeInput(x)} perm=[${axes}]`);
        const rev = [...perm.keys()].reverse();
        await expectClose(T.transpose(lib(x)), N.permute(x.logical, rev), EXACT, 'float32', `transpose ${A.describeInput(x)}`);
        await expectClose(T.transpose(lib(x), perm), N.permute(x.logical, perm), EXACT, 'float32', `transpose ${A.describeInput(x)} [${perm}]`);
      },
    );
    prop(
      'broadcastTo',
      [
        A.shapeArb().chain((target) =>
          fc.tuple(fc.integer({ min: 0, max: target.length }), fc.array(fc.boolean(), { minLength: target.length, maxLength: target.length })).chain(([drop, ones]) => {
            const src = target.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d));
            return fc.tuple(A.inputArb(src, 'any'), fc.constant(target));
          }),
        ),
      ],
      async ([x, target]) => {
        await expectClose(T.broadcastTo(lib(x), target), N.broadcastTo(x.logical, target), EXACT, 'float32', `${A.describeInput(x)} → [${target}]`);
      },
    );
    prop(
      'slice with Python semantics (negative indices, clamping, negative steps)',
      [
        A.shapeArb().chain((shape) => {
          const bound = (n: number) => fc.option(fc.integer({ min: -n - 2, max: n + 2 }), { nil: undefined, freq: 3 });
          const step = fc.option(fc.constantFrom(1, 2, 3, -1, -2, -3), { nil: undefined, freq: 3 });
          return fc.tuple(
            A.inputArb(shape, 'any'),
            fc.tuple(...shape.map((n) => fc.tuple(bound(n), bound(n), step))),
            fc.integer({ min: 0, max: shape.length }),
          );
        }),
      ],
      async ([x, specs, given]) => {
        // only the first `given` dims are specified; the rest are taken whole
        const s = specs.slice(0, given);
        const starts = s.map((p) => p[0]);
        const stops = s.map((p) => p[1]);
        const steps = s.map((p) => p[2]);
        await expectClose(T.slice(lib(x), starts, stops, steps), N.slice(x.logical, starts, stops, steps), EXACT, 'float32', `${A.describeInput(x)}[${s.map((p) => p.map((v) => v ?? '').join(':')).join(', ')}]`);
      },
    );
    prop(
      'slice of a slice',
      [A.shapeArb({ minRank: 1, maxRank: 2 }).chain((shape) => fc.tuple(A.inputArb(shape, 'any'), fc.constantFrom(-1, 2, -2), fc.constantFrom(-1, 2, 1)))],
      async ([x, s1, s2]) => {
        const r = x.logical.shape.length;
        const a = T.slice(T.slice(lib(x), new Array(r).fill(undefined), [], new Array(r).fill(s1)), [1], [], [s2]);
        const ref = N.slice(N.slice(x.logical, new Array(r).fill(undefined), [], new Array(r).fill(s1)), [1], [], [s2]);
        await expectClose(a, ref, EXACT, 'float32', A.describeInput(x));
      },
    );
    prop(
      'pad',
      [
        A.shapeArb().chain((shape) =>
          fc.tuple(A.inputArb(shape, 'any'), fc.tuple(...shape.map(() => fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })))), fc.option(A.valueArb('any'), { nil: undefined })),
        ),
      ],
      async ([x, pads, value]) => {
        const got = value === undefined ? T.pad(lib(x), pads) : T.pad(lib(x), pads, value);
        await expectClose(got, N.pad(x.logical, pads, value ?? 0), EXACT, 'float32', `${A.describeInput(x)} pads=${JSON.stringify(pads)} value=${value}`);
      },
    );
    prop(
      'concat',
      [
        A.shapeWithAxisArb().chain(({ shape, axis }) => {
          const ax = axis < 0 ? axis + shape.length : axis;
          return fc.tuple(
            fc.array(
              fc.integer({ min: 0, max: 3 }).chain((d) => A.inputArb(shape.map((s, i) => (i === ax ? d : s)), 'any')),
              { minLength: 1, maxLength: 4 },
            ),
            fc.constant(axis),
          );
        }),
      ],
      async ([xs, axis]) => {
        await expectClose(T.concat(xs.map(lib), axis), N.concat(xs.map((x) => x.logical), axis), EXACT, 'float32', `[${xs.map(A.describeInput).join(', ')}] axis=${axis}`);
      },
    );
  });

  describe('indexing', () => {
    prop('gather = numpy.take(mode=clip)', [gatherArb], async ([x, idx, axis]) => {
      await expectClose(T.gather(lib(x), lib(idx), axis), N.gather(x.logical, idx.logical, axis), EXACT, 'float32', `${A.describeInput(x)} idx=${A.describeInput(idx)}:${JSON.stringify(N.toNested(idx.logical))} axis=${axis}`);
    });
    prop('gather of int32 values', [gatherArb.chain(([x, idx, axis]) => fc.tuple(A.inputArb(x.logical.shape, 'ints', { dtype: 'int32' }), fc.constant(idx), fc.constant(axis)))], async ([x, idx, axis]) => {
      await expectClose(T.gather(lib(x), lib(idx), axis), N.gather(x.logical, idx.logical, axis), EXACT, 'int32', `${A.describeInput(x)} axis=${axis}`);
    });
    prop('scatterAdd = transpose of gather', [scatterArb], async ([u, idx, axis, dimSize]) => {
      const ref = N.scatterAdd(u.logical, idx.logical, axis, dimSize);
      const bound = N.scatterAdd(N.unary('abs', u.logical), idx.logical, axis, dimSize).data;
      await expectClose(T.scatterAdd(lib(u), lib(idx), axis, dimSize), ref, tl({ abs: 1e-5, rel: 1e-5, extra: scaled(bound, 3e-6) }), 'float32', `${A.describeInput(u)} idx=${A.describeInput(idx)}:${JSON.stringify(N.toNested(idx.logical))} axis=${axis} dimSize=${dimSize}`);
    });
  });

  describe('matmul', () => {
    prop('matmul with NumPy rules (1-D promotion, batch broadcasting)', [matmulArb], async ([a, b]) => {
      const ref = N.matmul(a.logical, b.logical);
      const bound = N.matmul(N.unary('abs', a.logical), N.unary('abs', b.logical)).data;
      await expectClose(T.matmul(lib(a), lib(b)), ref, tl({ abs: 1e-5, rel: 1e-5, extra: scaled(bound, 3e-6) }), 'float32', `${A.describeInput(a)} @ ${A.describeInput(b)}`);
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// fused attention (primitives `attention` and `attentionGrad`)

/** q [..., Tq, D] (sometimes a permuted view), k and v [..., Tk, ·] (sometimes with a broadcast head dim). */
const attentionArb = fc
  .record({
    b: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 3 }),
    tq: fc.integer({ min: 1, max: 9 }),
    extra: fc.integer({ min: 0, max: 3 }),
    d: fc.integer({ min: 1, max: 8 }),
    dv: fc.integer({ min: 1, max: 6 }),
    causal: fc.boolean(),
    window: fc.constantFrom(0, 0, 1, 3),
    scale: fc.constantFrom(1, 0.5, 0.37),
    permutedQ: fc.boolean(),
    sharedKv: fc.boolean(),
    seed: fc.integer({ min: 1, max: 1000 }),
    /** causal offset Tk − Tq − back (a static KV cache's unwritten slots) */
    back: fc.integer({ min: 0, max: 3 }),
    /** key padding: right (trainer batches), left (decoding), holes (the gpu.js kernel), none */
    pad: fc.constantFrom('none', 'none', 'right', 'left', 'holes'),
  })
  .map((c) => {
    const tk = c.tq + c.extra;
    const keys =
      c.pad === 'none'
        ? undefined
        : Array.from({ length: c.b }, (_, b) =>
            Array.from({ length: tk }, (_, j) => {
              const cut = (c.seed * 7 + b * 3) % tk;
              return +(c.pad === 'right' ? j <= cut : c.pad === 'left' ? j >= cut : (c.seed + j * (b + 2)) % 3 !== 0);
            }),
          );
    return { ...c, tk, window: c.causal ? c.window : 0, offset: Math.max(0, c.extra - c.back), keys };
  });

function attentionSuites(): void {
  describe('fused attention', () => {
    prop('fusedAttention (causal offset, window, key padding) and its gradient (attentionGrad) against naive float64', [attentionArb], async (c) => {
      const kvH = c.sharedKv ? 1 : c.h;
      const qv = randomF32(c.b * c.h * c.tq * c.d, c.seed);
      const kv = randomF32(c.b * kvH * c.tk * c.d, c.seed + 1);
      const vv = randomF32(c.b * kvH * c.tk * c.dv, c.seed + 2);
      const gv = randomF32(c.b * c.h * c.tq * (c.dv + 1), c.seed + 3);
      // q as a [B, Tq, H, D] tensor permuted to [B, H, Tq, D] (non-contiguous), or plain
      const qn = c.permutedQ ? N.permute(N.nd(qv, [c.b, c.tq, c.h, c.d]), [0, 2, 1, 3]) : N.nd(qv, [c.b, c.h, c.tq, c.d]);
      const q = c.permutedQ ? T.permute(T.tensor(qv, [c.b, c.tq, c.h, c.d]), [0, 2, 1, 3]) : T.tensor(qv, [c.b, c.h, c.tq, c.d]);
      const [kn, vn] = [N.nd(kv, [c.b, kvH, c.tk, c.d]), N.nd(vv, [c.b, kvH, c.tk, c.dv])];
      const [k, v] = [T.tensor(kv, [c.b, kvH, c.tk, c.d]), T.tensor(vv, [c.b, kvH, c.tk, c.dv])];
      const spec = { causal: c.causal, scale: c.scale, window: c.window, offset: c.offset, keys: c.keys };
      const ref = N.attention(qn, kn, vn, spec);
      const ctx = JSON.stringify(c);
      const keyMask = c.keys ? T.tensor(Int32Array.from(c.keys.flat()), [c.b, c.tk]) : null;
      const out = T.fusedAttention(q, k, v, { ...spec, keyMask });
      const node = out.inputs[0]; // the 'attention' node behind the slice view
      expect(node.op).toBe('attention');
      const scoreBound = c.scale * c.d; // |q·k| ≤ d for values in [-1, 1]
      const tol = tl({ abs: 2e-5 * (1 + scoreBound), rel: 2e-5 });
      await expectClose(out, ref.out, tol, 'float32', `forward ${ctx}`);
      await expectClose(T.slice(node, [0, 0, 0, c.dv], [c.b, c.h, c.tq, c.dv + 1]), N.reshape(ref.lse, [c.b, c.h, c.tq, 1]), tol, 'float32', `logsumexp ${ctx}`);
      // the gradient rule: cotangent g on [out | lse]
      const g = T.tensor(gv, [c.b, c.h, c.tq, c.dv + 1]);
      const [dq, dk, dvT] = T.PRIMITIVES.get('attention')!.vjp!(g, node, node.inputs) as Tensor[];
      const gn = N.nd(gv, [c.b, c.h, c.tq, c.dv + 1]);
      const gOut = N.slice(gn, [0, 0, 0, 0], [c.b, c.h, c.tq, c.dv]);
      const gLse = N.reshape(N.slice(gn, [0, 0, 0, c.dv], [c.b, c.h, c.tq, c.dv + 1]), [c.b, c.h, c.tq]);
      const [rq, rk, rv] = N.attentionGrad(qn, kn, vn, gOut, gLse, spec);
      const gtol = tl({ abs: 1e-4 * (1 + scoreBound) * c.tk, rel: 1e-4 });
      await expectClose(dq, rq, gtol, 'float32', `dq ${ctx}`);
      await expectClose(dk, rk, gtol, 'float32', `dk ${ctx}`);
      await expectClose(dvT, rv, gtol, 'float32', `dv ${ctx}`);
    }, Math.max(4, Math.ceil(RUNS / 2)));
    it('fusedAttention rejects bad shapes and options at build time', () => {
      const q = T.zeros([2, 4, 8]);
      expect(() => T.fusedAttention(q, T.zeros([2, 3, 8]), T.zeros([2, 3, 8]))).toThrow(/fusedAttention: a causal mask needs at least as many keys/);
      expect(() => T.fusedAttention(q, T.zeros([2, 4, 7]), T.zeros([2, 4, 8]))).toThrow(/fusedAttention: .*differ in the last dim/);
      expect(() => T.fusedAttention(q, T.zeros([2, 4, 8]), T.zeros([2, 5, 8]))).toThrow(/fusedAttention: .*differ in length/);
      expect(() => T.fusedAttention(q, T.zeros([2, 4, 8]), T.zeros([2, 4, 8]), { window: -1 })).toThrow(/fusedAttention: window/);
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// fused softmax cross-entropy (primitives `softmaxCrossEntropy` and `softmaxCrossEntropyGrad`)

/** logits [N, C] (plain, a transposed view, or a stepped slice), labels in [−2, C + 1] and some ignored. */
const crossEntropyArb = fc.record({
  n: fc.integer({ min: 0, max: 9 }),
  c: fc.integer({ min: 1, max: 12 }),
  scale: fc.constantFrom(1, 4, 30),
  layout: fc.constantFrom('plain', 'transposed', 'sliced'),
  ignoreIndex: fc.constantFrom(-100, -100, 0),
  seed: fc.integer({ min: 1, max: 1000 }),
});

function crossEntropySuites(): void {
  describe('fused softmax cross-entropy', () => {
    prop('softmaxCrossEntropy and its gradient (softmaxCrossEntropyGrad) against naive float64', [crossEntropyArb], async (c) => {
      const r = rng(c.seed);
      const xv = randomF32(c.n * c.c, c.seed, -c.scale, c.scale);
      const lv = Int32Array.from({ length: c.n }, () => (r() < 0.2 ? c.ignoreIndex : Math.floor(r() * (c.c + 4)) - 2));
      const gv = randomF32(c.n, c.seed + 1);
      const xn = N.nd(xv, [c.n, c.c]);
      let x: Tensor;
      if (c.layout === 'transposed') x = T.transpose(T.tensor(N.permute(xn, [1, 0]).data.map(Math.fround), [c.c, c.n]));
      else if (c.layout === 'sliced') {
        // every other row of a [2N, C] tensor whose odd rows are garbage
        const big = new Float32Array(2 * c.n * c.c).fill(1e30);
        for (let i = 0; i < c.n; i++) big.set(xv.subarray(i * c.c, (i + 1) * c.c), 2 * i * c.c);
        x = T.slice(T.tensor(big, [2 * c.n, c.c]), [0, 0], [2 * c.n, c.c], [2, 1]);
      } else x = T.tensor(xv, [c.n, c.c]);
      const labels = T.tensor(lv, [c.n]);
      const ctx = JSON.stringify({ ...c, labels: Array.from(lv) });
      const out = T.softmaxCrossEntropy(x, labels, c.ignoreIndex);
      expect(out.op).toBe('softmaxCrossEntropy');
      const inputs = out.inputs; // (a realized tensor drops its graph)
      await expectClose(out, N.softmaxCrossEntropy(xn, N.nd(lv, [c.n]), c.ignoreIndex), tl({ abs: 2e-6 * (1 + c.scale), rel: 1e-5 }), 'float32', `forward ${ctx}`);
      // the gradient rule: cotangent g on the per-row losses
      const [dx, dl] = T.PRIMITIVES.get('softmaxCrossEntropy')!.vjp!(T.tensor(gv, [c.n]), out, inputs);
      expect(dl).toBeNull();
      expect(dx!.op).toBe('softmaxCrossEntropyGrad');
      const want = N.softmaxCrossEntropyGrad(xn, N.nd(lv, [c.n]), N.nd(gv, [c.n]), c.ignoreIndex);
      await expectClose(dx!, want, tl({ abs: 2e-6 * (1 + c.scale), rel: 1e-5 }), 'float32', `gradient ${ctx}`);
    });
    it('large logits (±1e4), −∞ entries and ignored rows with non-finite logits', async () => {
      const vals = [1e4, -1e4, 0, 1e4 - 1, /**/ -1e4, -1e4, -1e4, -1e4, /**/ 5e3, -Infinity, 1e4, 1e4, /**/ NaN, Infinity, 0, 1];
      const lv = [3, 0, 2, -100];
      const x = T.tensor(vals, [4, 4]);
      const labels = T.tensor(new Int32Array(lv), [4]);
      const got = await T.softmaxCrossEntropy(x, labels).data();
      const want = N.softmaxCrossEntropy(N.nd(vals.slice(0, 12), [3, 4]), N.nd(lv.slice(0, 3), [3])).data;
      for (let i = 0; i < 3; i++) expect(Math.abs(got[i] - want[i]), `row ${i}: ${got[i]} vs ${want[i]}`).toBeLessThan(2e-3);
      expect(got[3]).toBe(0);
      const g = await T.softmaxCrossEntropyGrad(x, labels, T.ones([4])).data();
      const gw = N.softmaxCrossEntropyGrad(N.nd(vals.slice(0, 12), [3, 4]), N.nd(lv.slice(0, 3), [3]), N.nd([1, 1, 1], [3])).data;
      for (let i = 0; i < 12; i++) expect(Math.abs(g[i] - gw[i]), `gradient ${i}: ${g[i]} vs ${gw[i]}`).toBeLessThan(1e-3);
      expect(Array.from(g.subarray(12))).toEqual([0, 0, 0, 0]);
    });
    it('softmaxCrossEntropy rejects bad shapes and dtypes at build time', () => {
      const labels = T.tensor(new Int32Array([0, 1]), [2]);
      expect(() => T.softmaxCrossEntropy(T.zeros([2, 3, 1]), labels)).toThrow(/softmaxCrossEntropy: logits must be float32 \[N, C\]/);
      expect(() => T.softmaxCrossEntropy(T.zeros([2, 3]), T.zeros([2]))).toThrow(/softmaxCrossEntropy: labels must be int32/);
      expect(() => T.softmaxCrossEntropy(T.zeros([3, 3]), labels)).toThrow(/softmaxCrossEntropy: .*differ in N/);
      expect(() => T.softmaxCrossEntropy(T.zeros([2, 0]), labels)).toThrow(/softmaxCrossEntropy: needs at least one class/);
      expect(() => T.softmaxCrossEntropy(T.zeros([2, 3]), labels, 0.5)).toThrow(/softmaxCrossEntropy: ignoreIndex must be an integer/);
      expect(() => T.softmaxCrossEntropyGrad(T.zeros([2, 3]), labels, T.zeros([3]))).toThrow(/softmaxCrossEntropyGrad: g must be float32 \[2\]/);
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// fused LayerNorm (primitives `layerNorm` and `layerNormGrad`)

/** x [...lead, C] (plain, or its last two dims a transposed view), values offset + U(−1, 1), weight plain or a stepped slice. */
const layerNormArb = fc.record({
  lead: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 2 }),
  c: fc.integer({ min: 1, max: 12 }),
  offset: fc.constantFrom(0, 0, 20),
  transposed: fc.boolean(),
  steppedWeight: fc.boolean(),
  seed: fc.integer({ min: 1, max: 1000 }),
});

function layerNormSuites(): void {
  describe('fused LayerNorm', () => {
    prop('layerNorm and its gradient (layerNormGrad) against naive float64', [layerNormArb], async (c) => {
      const shape = [...c.lead, c.c];
      const size = shape.reduce((a, d) => a * d, 1);
      const xv = randomF32(size, c.seed).map((v) => v + c.offset);
      const [wv, bv, gv] = [randomF32(c.c, c.seed + 1, 0.5, 1.5), randomF32(c.c, c.seed + 2), randomF32(size, c.seed + 3)];
      const xn = N.nd(xv, shape);
      const r = shape.length;
      const swap = (a: number[]) => [...a.slice(0, -2), a[r - 1], a[r - 2]];
      const perm = [...shape.keys()].slice(0, -2).concat([r - 1, r - 2]);
      const x = c.transposed && r >= 2 ? T.permute(T.tensor(N.permute(xn, perm).data.map(Math.fround), swap(shape)), perm) : T.tensor(xv, shape);
      const w = c.steppedWeight ? T.slice(T.tensor(Float32Array.from({ length: 2 * c.c }, (_, k) => (k % 2 ? 1e30 : wv[k / 2])), [2 * c.c]), [0], [2 * c.c], [2]) : T.tensor(wv, [c.c]);
      const b = T.tensor(bv, [c.c]);
      const ctx = JSON.stringify(c);
      // the fused primitive's kernel on every backend, also where layerNorm lowers to its composite
      // (gpu.js GPU modes): built under the reference backend's lowering, evaluated on this one
      const out = await T.withBackend('reference', () => T.layerNorm(x, w, b));
      expect(out.op).toBe('layerNorm');
      const inputs = out.inputs;
      // x̂ is computed to float32 precision of the centred values: |y| ≤ √C·1.5 + 1
      const tol = tl({ abs: 2e-6 * (1 + Math.sqrt(c.c)), rel: 1e-5 });
      await expectClose(out, N.layerNorm(xn, N.nd(wv, [c.c]), N.nd(bv, [c.c])), tol, 'float32', `forward ${ctx}`);
      const [dx, dw, db] = T.PRIMITIVES.get('layerNorm')!.vjp!(T.tensor(gv, shape), out, inputs) as Tensor[];
      const [rx, rw, rb] = N.layerNormGrad(xn, N.nd(wv, [c.c]), N.nd(gv, shape));
      // dx cancels terms of size r·(|a| + mean|a| + |x̂|·mean|a·x̂|), a = g·w (r ≤ 1/√eps for constant rows)
      const rows = size / c.c;
      const xh = N.layerNorm(xn, N.nd(new Float64Array(c.c).fill(1), [c.c]), N.nd(new Float64Array(c.c), [c.c])).data;
      const extra = new Float64Array(size);
      for (let n = 0; n < rows; n++) {
        const at = (k: number) => n * c.c + k;
        const a = (k: number) => Math.abs(gv[at(k)] * wv[k]);
        let [ma, mx, v, m] = [0, 0, 0, 0];
        for (let k = 0; k < c.c; k++) [ma, mx, m] = [ma + a(k) / c.c, mx + (a(k) * Math.abs(xh[at(k)])) / c.c, m + xv[at(k)] / c.c];
        for (let k = 0; k < c.c; k++) v += (xv[at(k)] - m) ** 2 / c.c;
        for (let k = 0; k < c.c; k++) extra[at(k)] = (2e-5 / Math.sqrt(v + 1e-5)) * (a(k) + ma + Math.abs(xh[at(k)]) * mx);
      }
      await expectClose(dx, rx, tl({ abs: 1e-6, rel: 1e-5, extra }), 'float32', `dx ${ctx}`);
      await expectClose(dw, rw, tl({ abs: 1e-5 * (1 + rows), rel: 1e-5 }), 'float32', `dweight ${ctx}`);
      await expectClose(db, rb, tl({ abs: 1e-5 * (1 + rows), rel: 1e-5 }), 'float32', `dbias ${ctx}`);
    });
    it('layerNorm rejects bad shapes and dtypes at build time', () => {
      expect(() => T.layerNorm(T.zeros([2, 3]), T.ones([2]))).toThrow(/layerNorm: weight must be float32 \[3\]/);
      expect(() => T.layerNorm(T.zeros([]), T.ones([1]))).toThrow(/layerNorm: x must be float32 of rank ≥ 1/);
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// deterministic numerics and graph tests

const randomF32 = (n: number, seed: number, lo = -1, hi = 1) => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
};

// realistic matmul reference, computed once
const MM_A = randomF32(2 * 64 * 96, 11);
const MM_B = randomF32(96 * 80, 12);
let MM_REF: N.NDArray | undefined;
const mmRef = () => (MM_REF ??= N.matmul(N.nd(MM_A, [2, 64, 96]), N.nd(MM_B, [96, 80])));

function numericSuites(backend: BackendName): void {
  describe('numerics', () => {
    it('sum of 1e6 float32 values is within 1e-5 relative of the float64 sum', async () => {
      for (const [lo, hi, seed] of [
        [0, 1, 1],
        [-1, 3, 2],
      ] as const) {
        const v = randomF32(1_000_000, seed, lo, hi);
        const ref = N.fsum(Array.from(v));
        const got = (await T.sum(T.tensor(v, [1_000_000])).data())[0];
        expect(Math.abs(got - ref) / Math.abs(ref), `${backend} [${lo},${hi}) got ${got} want ${ref}`).toBeLessThanOrEqual(1e-5);
        const rows = T.sum(T.tensor(v, [1000, 1000]), [1]);
        const cols = T.sum(T.tensor(v, [1000, 1000]), [0]);
        const x = N.nd(v, [1000, 1000]);
        await expectClose(rows, N.sum(x, [1]), { rel: 1e-5, extra: scaled(sumAbs(x, [1]), 1e-6) }, 'float32', 'row sums');
        await expectClose(cols, N.sum(x, [0]), { rel: 1e-5, extra: scaled(sumAbs(x, [0]), 1e-6) }, 'float32', 'column sums');
      }
    });
    it('softmax of logits ±1e4: no NaN, rows sum to 1', async () => {
      const vals = [1e4, -1e4, 0, 1e4 - 1, -1e4, -1e4, -1e4, -1e4, 5e3, 1e4, 1e4, 1e4];
      const x = T.tensor(vals, [3, 4]);
      const s = await T.softmax(x, -1).data();
      expect(Array.from(s).some(Number.isNaN)).toBe(false);
      for (let r = 0; r < 3; r++) expect(Math.abs(s[4 * r] + s[4 * r + 1] + s[4 * r + 2] + s[4 * r + 3] - 1)).toBeLessThan(1e-5);
      await expectClose(T.softmax(x, -1), N.softmax(N.nd(vals, [3, 4]), -1), { abs: 1e-6, rel: 1e-5 });
      await expectClose(T.softmax(x, 0), N.softmax(N.nd(vals, [3, 4]), 0), { abs: 1e-6, rel: 1e-5 });
      await expectClose(T.logSoftmax(x, -1), N.logSoftmax(N.nd(vals, [3, 4]), -1), { abs: 2e-3, rel: 1e-6 });
      await expectClose(T.logsumexp(x, [1]), N.logsumexp(N.nd(vals, [3, 4]), [1]), { abs: 2e-3, rel: 1e-6 });
      const big = randomF32(50 * 1000, 7, -1e4, 1e4);
      const sb = await T.softmax(T.tensor(big, [50, 1000])).data();
      expect(Array.from(sb).some((v) => !Number.isFinite(v))).toBe(false);
      const rowSums = await T.sum(T.softmax(T.tensor(big, [50, 1000])), [1]).data();
      for (const v of rowSums) expect(Math.abs(v - 1)).toBeLessThan(1e-5);
    });
    it('matmul [2,64,96] @ [96,80] (broadcast batch) against naive', async () => {
      const a = N.nd(MM_A, [2, 64, 96]);
      const b = N.nd(MM_B, [96, 80]);
      const bound = N.matmul(N.unary('abs', a), N.unary('abs', b)).data;
      const tol = { abs: 1e-5, rel: 1e-5, extra: scaled(bound, 3e-6) };
      await expectClose(T.matmul(T.tensor(MM_A, [2, 64, 96]), T.tensor(MM_B, [96, 80])), mmRef(), tol);
      // the same product with a transposed (non-contiguous) right operand and a batch broadcast on the right
      const bt = T.transpose(T.tensor(N.permute(b, [1, 0]).data.map(Math.fround), [80, 96]));
      await expectClose(T.matmul(T.tensor(MM_A, [2, 64, 96]), bt), mmRef(), tol, 'float32', 'b as a transposed view');
      const b3 = T.broadcastTo(T.tensor(MM_B, [1, 96, 80]), [2, 96, 80]);
      await expectClose(T.matmul(T.tensor(MM_A, [2, 64, 96]), b3), mmRef(), tol, 'float32', 'b as a broadcast view');
      // matrix @ vector at size
      const v = randomF32(96, 13);
      await expectClose(T.matmul(T.tensor(MM_A, [2, 64, 96]), T.tensor(v, [96])), N.matmul(a, N.nd(v, [96])), { abs: 1e-5, rel: 1e-5, extra: scaled(N.matmul(N.unary('abs', a), N.unary('abs', N.nd(v, [96]))).data, 3e-6) });
    });
  });

  describe('graphs', () => {
    it('a chained graph: ops on results of previous ops', async () => {
      const xv = randomF32(4 * 6, 21, -2, 2);
      const wv = randomF32(5 * 6, 22, -1, 1);
      const x = T.tensor(xv, [4, 6]);
      const w = T.tensor(wv, [5, 6]);
      // h = tanh(2x + 1) @ wᵀ ; p = softmax(h); y = Σ_rows where(p > 0.2, p, -p) ; z = y * mean(h, 0)
      const h = T.matmul(T.tanh(T.add(T.mul(x, 2), 1)), T.transpose(w));
      const p = T.softmax(h, -1);
      const y = T.sum(T.where(T.greater(p, 0.2), p, T.neg(p)), [0]);
      const z = T.mul(y, T.mean(h, [0]));
      const nx = N.nd(xv, [4, 6]);
      const nw = N.nd(wv, [5, 6]);
      const nh = N.matmul(N.unary('tanh', N.zipWith(N.zipWith(nx, N.scalar(2), (a, b) => a * b), N.scalar(1), (a, b) => a + b)), N.permute(nw, [1, 0]));
      const np = N.softmax(nh, -1);
      const ny = N.sum(N.where(N.binary('greater', np, N.scalar(0.2)), np, N.unary('neg', np)), [0]);
      const nz = N.binary('mul', ny, N.mean(nh, [0]));
      await T.evaluate(h, z);
      await expectClose(h, nh, { abs: 1e-5, rel: 1e-5 });
      await expectClose(z, nz, { abs: 1e-5, rel: 1e-4 });
      // keep building on an already evaluated tensor
      const again = T.logsumexp(T.concat([h, T.slice(h, [undefined, undefined], [undefined, undefined], [-1, 2])], 1), [1]);
      const nagain = N.logsumexp(N.concat([nh, N.slice(nh, [undefined, undefined], [undefined, undefined], [-1, 2])], 1), [1]);
      await expectClose(again, nagain, { abs: 1e-5, rel: 1e-5 });
    });
    it('a diamond graph (a shared intermediate) and multiple outputs', async () => {
      const xv = randomF32(3 * 4, 31);
      const x = T.tensor(xv, [3, 4]);
      const a = T.exp(x);
      const b = T.add(a, a);
      const c = T.mul(a, b);
      const d = T.sum(T.gather(c, T.tensor(new Int32Array([3, 0, 0]), [3]), 1), [0]);
      await T.evaluate(c, d, b);
      const na = N.unary('exp', N.nd(xv, [3, 4]));
      const nc = N.binary('mul', na, N.binary('add', na, na));
      await expectClose(c, nc, { abs: 1e-6, rel: 1e-5 });
      await expectClose(b, N.binary('add', na, na), { abs: 1e-6, rel: 1e-5 });
      await expectClose(d, N.sum(N.gather(nc, N.nd([3, 0, 0], [3]), 1), [0]), { abs: 1e-5, rel: 1e-5 });
      // reading twice gives the same values
      expect(Array.from(await c.data())).toEqual(Array.from(await c.data()));
      expect(await c.array()).toEqual(N.toNested(N.nd(await c.data(), [3, 4])));
    });
    it('a graph of views: permute → slice → reshape → elementwise → reduce', async () => {
      const xv = randomF32(2 * 3 * 4 * 5, 41);
      const x = T.tensor(xv, [2, 3, 4, 5]);
      const v = T.reshape(T.slice(T.permute(x, [3, 1, 0, 2]), [undefined, 2], [undefined, undefined], [-2, -1]), [3, -1]);
      const r = T.max(T.mul(v, T.reshape(T.arange(24, undefined, undefined, 'float32'), [1, 24])), [1], true);
      const nv = N.reshape(N.slice(N.permute(N.nd(xv, [2, 3, 4, 5]), [3, 1, 0, 2]), [undefined, 2], [undefined, undefined], [-2, -1]), [3, -1]);
      await expectClose(v, nv, EXACT);
      await expectClose(r, N.max(N.binary('mul', nv, N.fill([1, 24], ([, j]) => j)), [1], true), { abs: 1e-6, rel: 1e-6 });
    });
    it('int32 arithmetic stays exact int32', async () => {
      const a = T.tensor(new Int32Array([1, -2, 3, 40000, -5, 6]), [2, 3]);
      const b = T.tensor(new Int32Array([7, 8, -9]), [3]);
      await expectClose(T.add(a, b), N.nd([8, 6, -6, 40007, 3, -3], [2, 3]), EXACT, 'int32');
      await expectClose(T.mul(a, b), N.nd([7, -16, -27, 280000, -40, -54], [2, 3]), EXACT, 'int32');
      await expectClose(T.maximum(a, b), N.nd([7, 8, 3, 40000, 8, 6], [2, 3]), EXACT, 'int32');
      await expectClose(T.neg(a), N.nd([-1, 2, -3, -40000, 5, -6], [2, 3]), EXACT, 'int32');
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// suites per backend

it.runIf(ONLY)('every backend FC_BACKENDS names is available', () => {
  expect(BACKENDS.filter((b) => !AVAILABLE.has(b))).toEqual([]);
});

describe.each(BACKENDS)('backend %s', (backend) => {
  const available = AVAILABLE.has(backend);
  describe.skipIf(!available)('float32', () => {
    beforeAll(() => {
      useF64 = false;
      tolScale = 1;
    });
    beforeEach(() => {
      T.setBackend(backend);
      useF64 = false;
      tolScale = GL_BACKENDS.has(backend) ? 20 : 1;
      flushSubnormals = GL_BACKENDS.has(backend);
    });
    it('is the active backend', () => {
      expect(T.getBackend().name).toBe(backend);
    });
    elementwiseSuites();
    reductionSuites();
    movementSuites();
    attentionSuites();
    crossEntropySuites();
    layerNormSuites();
    numericSuites(backend);
  });
});

/** The reference backend keeps float64 precision for Float64Array inputs (finite differences rely on it). */
describe.skipIf(!AVAILABLE.has('reference') || !BACKENDS.includes('reference'))('backend reference, float64 inputs', () => {
  beforeEach(() => {
    T.setBackend('reference');
    useF64 = true;
    tolScale = 1e-7;
  });
  it('keeps float64 values exactly', async () => {
    const v = Float64Array.from([0.1, 1 / 3, Math.PI, 1e-300, 1 + 2 ** -40]);
    expect(Array.from(await T.readFloat64(T.tensor(v, [5])))).toEqual(Array.from(v));
    expect((await T.readFloat64(T.add(T.tensor(v, [5]), 0)))[4]).toBe(1 + 2 ** -40);
    expect((await T.readFloat64(T.sum(T.tensor(Float64Array.from([1, 2 ** -30, 2 ** -30]), [3]))))[0]).toBe(1 + 2 ** -29);
  });
  it('keeps float64 precision of JS number operands', async () => {
    const one = T.tensor(Float64Array.from([1, 2]), [2]);
    expect(Array.from(await T.readFloat64(T.add(one, 0.1)))).toEqual([1 + 0.1, 2 + 0.1]);
    expect(Array.from(await T.readFloat64(T.mul(one, Math.PI)))).toEqual([Math.PI, 2 * Math.PI]);
    expect(Array.from(await T.readFloat64(T.div(1, T.tensor(Float64Array.from([3]), [1]))))).toEqual([1 / 3]);
    expect(Array.from(await T.readFloat64(T.where(T.tensor([1, 0], [2], 'bool'), one, 1e-9)))).toEqual([1, 1e-9]);
  });
  elementwiseSuites();
  reductionSuites();
  describe('matmul', () => {
    prop('matmul in float64', [matmulArb], async ([a, b]) => {
      const ref = N.matmul(a.logical, b.logical);
      const bound = N.matmul(N.unary('abs', a.logical), N.unary('abs', b.logical)).data;
      await expectClose(T.matmul(lib(a), lib(b)), ref, { abs: 1e-12, rel: 1e-12, extra: scaled(bound, 1e-14) }, 'float32', `${A.describeInput(a)} @ ${A.describeInput(b)}`);
    });
  });
});

/** Every registered primitive is exercised by this suite (internal ones through the ops that create them). */
describe('coverage of the primitive set', () => {
  it('stopGradient is the identity forward on every backend', async () => {
    for (const backend of BACKENDS.filter((b) => AVAILABLE.has(b))) {
      T.setBackend(backend);
      const x = T.tensor([1.5, -2, 3], [3]);
      expect(Array.from(await T.stopGradient(x).data())).toEqual([1.5, -2, 3]);
    }
  });
  it('no primitive is left out', () => {
    const covered = new Set<string>([
      ...UNARY_CASES.map((c) => c.op),
      ...BINARY_CASES.map((c) => c.op),
      'where', 'cast', 'sum', 'max', 'argmax', 'reshape', 'permute', 'broadcastTo', 'slice', 'pad', 'concat',
      'gather', 'scatterAdd', 'matmul', 'stopGradient',
      'attention', 'attentionGrad', // fused attention suite
      'softmaxCrossEntropy', 'softmaxCrossEntropyGrad', // fused cross-entropy suite
      'layerNorm', 'layerNormGrad', // fused LayerNorm suite
      'geluTanhGrad', // its own property in the elementwise suite
      'copy', // made by reshape of a non-contiguous view (movement suite)
      'scalar', // made by every JS-number operand (binary suites)
    ]);
    const missing = [...T.PRIMITIVES.keys()].filter((name) => !covered.has(name));
    expect(missing).toEqual([]);
  });
});
