/**
 * fast-check arbitraries for the tensor conformance suite: shapes (with size-0 and size-1 dims),
 * NumPy-broadcastable shape tuples, float32 values inside an op's domain, and *layouts* — recipes that
 * produce the same logical values as a non-contiguous view (a permute, a stepped or reversed slice, or
 * a broadcast of a smaller tensor, possibly chained). The recipe is plain data; the naive side computes
 * the logical values from it, the library side rebuilds the view with its own ops.
 *
 * This module does not import the library: `buildInput` takes the few library functions it needs.
 */
import fc from 'fast-check';
import * as N from './naive.js';

export type Shape = number[];
export type DTypeName = 'float32' | 'int32' | 'bool';

// ---------------------------------------------------------------------------------------------------
// shapes

export interface ShapeOptions {
  minRank?: number;
  maxRank?: number;
  /** smallest dim allowed (1 forbids size-0 tensors) */
  minDim?: number;
  maxDim?: number;
}

/** A dim: 0 (rare), 1 (often) or 2..maxDim. */
export function dimArb({ minDim = 0, maxDim = 5 }: ShapeOptions = {}): fc.Arbitrary<number> {
  const opts: fc.WeightedArbitrary<number>[] = [];
  if (minDim <= 0) opts.push({ weight: 1, arbitrary: fc.constant(0) });
  if (minDim <= 1 && maxDim >= 1) opts.push({ weight: 4, arbitrary: fc.constant(1) });
  if (maxDim >= 2) opts.push({ weight: 12, arbitrary: fc.integer({ min: Math.max(2, minDim), max: maxDim }) });
  return fc.oneof(...opts);
}

/** Shapes of rank minRank..maxRank (default 0..4) with dims 0..5. */
export function shapeArb(opts: ShapeOptions = {}): fc.Arbitrary<Shape> {
  const { minRank = 0, maxRank = 4 } = opts;
  // rank 0 is rarer than the others (a scalar exercises little)
  const rank =
    minRank === 0 && maxRank > 0
      ? fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 3 * maxRank, arbitrary: fc.integer({ min: 1, max: maxRank }) })
      : fc.integer({ min: minRank, max: maxRank });
  return rank.chain((r) => fc.array(dimArb(opts), { minLength: r, maxLength: r }));
}

/**
 * `count` shapes that broadcast together (NumPy rules), with their broadcast result: each is a suffix of
 * the result with some dims replaced by 1.
 */
export function broadcastableShapesArb(count: number, opts: ShapeOptions = {}): fc.Arbitrary<{ shapes: Shape[]; out: Shape }> {
  return shapeArb(opts).chain((out) => {
    const one = fc
      .tuple(
        fc.integer({ min: 0, max: out.length }),
        fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }),
        fc.boolean(),
      )
      .map(([drop, ones, keepFull]) => {
        if (keepFull) return out.slice();
        return out.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d));
      });
    return fc.array(one, { minLength: count, maxLength: count }).map((shapes) => {
      // make sure the result really is `out` (at least one operand keeps each dim's full size)
      const b = N.broadcastShapes(...shapes);
      return { shapes, out: b };
    });
  });
}

/** A shape together with a sorted list of distinct axes of it (possibly empty or all). */
export function shapeWithAxesArb(opts: ShapeOptions = {}): fc.Arbitrary<{ shape: Shape; axes: number[] }> {
  return shapeArb(opts).chain((shape) =>
    fc.subarray(shape.map((_, i) => i)).map((axes) => ({ shape, axes: axes.slice().sort((a, b) => a - b) })),
  );
}

/** A shape of rank ≥ 1 with one axis, given either as a non-negative or a negative number. */
export function shapeWithAxisArb(opts: ShapeOptions = {}): fc.Arbitrary<{ shape: Shape; axis: number }> {
  return shapeArb({ minRank: 1, ...opts }).chain((shape) =>
    fc.tuple(fc.integer({ min: 0, max: shape.length - 1 }), fc.boolean()).map(([a, negative]) => ({ shape, axis: negative ? a - shape.length : a })),
  );
}

// ---------------------------------------------------------------------------------------------------
// values

/**
 * Value domains (every value is a float32):
 * - any: [-10, 10] with 0, ±1, ±0.5 mixed in
 * - positive: [1e-3, 100] (log, sqrt, rsqrt)
 * - nonzero: ±[0.1, 10] (reciprocal, divisor)
 * - exp: [-30, 30]
 * - wide: [-60, 60] (saturation of tanh, sigmoid, erf)
 * - ints: small integers -3..3 (comparisons, equality, ties for max/argmax)
 * - powBase: [0.1, 5]; powExp: [-3, 3]
 * - logits: [-1e4, 1e4]
 */
export type Domain = 'any' | 'positive' | 'nonzero' | 'exp' | 'wide' | 'ints' | 'powBase' | 'powExp' | 'logits' | 'bool';

const f32 = (min: number, max: number): fc.Arbitrary<number> =>
  fc.float({ min: Math.fround(min), max: Math.fround(max), noNaN: true, noDefaultInfinity: true }).map((v) => (Object.is(v, -0) ? 0 : v));

export function valueArb(domain: Domain): fc.Arbitrary<number> {
  switch (domain) {
    case 'any':
      return fc.oneof({ weight: 6, arbitrary: f32(-10, 10) }, { weight: 1, arbitrary: fc.constantFrom(0, 1, -1, 0.5, -0.5) });
    case 'positive':
      return fc.oneof({ weight: 6, arbitrary: f32(1e-3, 100) }, { weight: 1, arbitrary: fc.constantFrom(1, 4, 0.25) });
    case 'nonzero':
      return fc.tuple(f32(0.1, 10), fc.boolean()).map(([v, s]) => (s ? -v : v));
    case 'exp':
      return f32(-30, 30);
    case 'wide':
      return fc.oneof(f32(-60, 60), f32(-4, 4));
    case 'ints':
      return fc.integer({ min: -3, max: 3 });
    case 'powBase':
      return f32(0.1, 5);
    case 'powExp':
      return fc.oneof(f32(-3, 3), fc.constantFrom(0, 1, 2, -1, 0.5));
    case 'logits':
      return fc.oneof(f32(-1e4, 1e4), fc.constantFrom(1e4, -1e4));
    case 'bool':
      return fc.constantFrom(0, 1);
  }
}

export const valuesArb = (n: number, domain: Domain): fc.Arbitrary<number[]> => fc.array(valueArb(domain), { minLength: n, maxLength: n });

/** Logical float32 values of a given shape (contiguous). */
export const ndArb = (shape: Shape, domain: Domain): fc.Arbitrary<N.NDArray> => valuesArb(N.sizeOf(shape), domain).map((v) => N.nd(v, shape));

// ---------------------------------------------------------------------------------------------------
// layouts

/** One view-producing step applied, in order, after creating the source tensor. */
export type Step =
  | { kind: 'permute'; perm: number[] }
  | { kind: 'slice'; starts: (number | undefined)[]; stops: (number | undefined)[]; steps: (number | undefined)[] }
  | { kind: 'broadcast'; shape: Shape };

/** A recipe for an input: a contiguous source tensor and the view steps that turn it into the logical input. */
export interface Input {
  dtype: DTypeName;
  srcShape: Shape;
  src: number[];
  steps: Step[];
  /** the logical values (computed with naive.ts from src and steps) */
  logical: N.NDArray;
}

function permuteStep(shape: Shape): fc.Arbitrary<{ pre: Shape; step: Step }> {
  const r = shape.length;
  return fc.shuffledSubarray([...Array(r).keys()], { minLength: r, maxLength: r }).map((perm) => {
    // out.shape[i] = pre[perm[i]]  ⇒  pre[perm[i]] = shape[i]
    const pre = new Array<number>(r);
    perm.forEach((p, i) => (pre[p] = shape[i]));
    return { pre, step: { kind: 'permute', perm } as Step };
  });
}

function sliceStep(shape: Shape): fc.Arbitrary<{ pre: Shape; step: Step }> {
  const dimSpec = (n: number) =>
    fc.tuple(fc.constantFrom(1, 1, 2, 3, -1, -2), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })).map(([step, before, after, style]) => {
      const k = Math.abs(step);
      const span = n === 0 ? 0 : (n - 1) * k + 1;
      const nb = before + span + after;
      let start: number | undefined;
      let stop: number | undefined;
      if (step > 0) {
        start = before;
        stop = before + span;
        if (style === 1 && start < nb) start = start - nb; // negative start, same position
        if (style === 2 && stop === nb) stop = undefined;
        else if (style === 2) stop = stop - nb; // negative stop
        if (style === 0 && start === 0 && n > 0) start = undefined;
      } else {
        // elements at start, start-k, …, start-(n-1)k = before (reversed order in the source)
        start = n === 0 ? before : before + span - 1;
        stop = n === 0 ? before : before - 1; // -1 would mean "the end" in Python: use undefined then
        if (stop === -1) stop = style === 1 ? -nb - 1 : undefined;
        else if (style === 1 && n > 0) start = start - nb;
        if (style === 2 && n > 0 && start === nb - 1) start = undefined;
      }
      const got = N.sliceIndices(nb, start, stop, step);
      if (got.length !== n) throw new Error(`arbitraries: slice recipe bug: n=${n} nb=${nb} ${start}:${stop}:${step} → ${got.length}`);
      return { nb, start, stop, step: step === 1 && style === 0 ? undefined : step };
    });
  return fc.tuple(...shape.map(dimSpec)).map((specs) => ({
    pre: specs.map((s) => s.nb),
    step: { kind: 'slice', starts: specs.map((s) => s.start), stops: specs.map((s) => s.stop), steps: specs.map((s) => s.step) } as Step,
  }));
}

function broadcastStep(shape: Shape): fc.Arbitrary<{ pre: Shape; step: Step }> {
  return fc
    .tuple(fc.integer({ min: 0, max: shape.length }), fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }))
    .map(([drop, ones]) => ({
      pre: shape.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)),
      step: { kind: 'broadcast', shape: shape.slice() } as Step,
    }));
}

/** A chain of 0..depth view steps ending at `shape`, with the source shape it starts from. */
export function planArb(shape: Shape, depth = 2, allowBroadcast = true): fc.Arbitrary<{ srcShape: Shape; steps: Step[] }> {
  const done = fc.constant({ srcShape: shape, steps: [] as Step[] });
  if (depth === 0) return done;
  const more = (a: fc.Arbitrary<{ pre: Shape; step: Step }>) =>
    a.chain(({ pre, step }) => planArb(pre, depth - 1, allowBroadcast).map((p) => ({ srcShape: p.srcShape, steps: [...p.steps, step] })));
  const options: fc.WeightedArbitrary<{ srcShape: Shape; steps: Step[] }>[] = [
    { weight: 3, arbitrary: done },
    { weight: 2, arbitrary: more(sliceStep(shape)) },
  ];
  if (shape.length >= 2) options.push({ weight: 2, arbitrary: more(permuteStep(shape)) });
  if (allowBroadcast && shape.length >= 1) options.push({ weight: 1, arbitrary: more(broadcastStep(shape)) });
  return fc.oneof(...options);
}

/** Apply the steps to naive values. */
export function applySteps(x: N.NDArray, steps: readonly Step[]): N.NDArray {
  let y = x;
  for (const s of steps) {
    if (s.kind === 'permute') y = N.permute(y, s.perm);
    else if (s.kind === 'slice') y = N.slice(y, s.starts, s.stops, s.steps);
    else y = N.broadcastTo(y, s.shape);
  }
  return y;
}

export interface InputOptions {
  dtype?: DTypeName;
  /** probability-ish switch: false gives contiguous inputs only */
  views?: boolean;
  /** allow broadcast views (values repeat) */
  broadcast?: boolean;
}

/** An input of logical `shape` with values from `domain`, often as a non-contiguous view. */
export function inputArb(shape: Shape, domain: Domain, { dtype = 'float32', views = true, broadcast = true }: InputOptions = {}): fc.Arbitrary<Input> {
  const plan = views ? planArb(shape, 2, broadcast) : fc.constant({ srcShape: shape, steps: [] as Step[] });
  return plan.chain(({ srcShape, steps }) =>
    valuesArb(N.sizeOf(srcShape), domain).map((src) => {
      const logical = applySteps(N.nd(src, srcShape), steps);
      if (logical.shape.length !== shape.length || logical.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`arbitraries: layout recipe bug: [${logical.shape}] vs [${shape}]`);
      }
      return { dtype, srcShape, src, steps, logical };
    }),
  );
}

/** Int32 indices in [lo, hi] (hi/lo outside the axis exercise clamping) with a layout. */
export function indicesArb(shape: Shape, lo: number, hi: number, views = true): fc.Arbitrary<Input> {
  const plan = views ? planArb(shape, 1, true) : fc.constant({ srcShape: shape, steps: [] as Step[] });
  return plan.chain(({ srcShape, steps }) =>
    fc.array(fc.integer({ min: lo, max: hi }), { minLength: N.sizeOf(srcShape), maxLength: N.sizeOf(srcShape) }).map((src) => ({
      dtype: 'int32' as const,
      srcShape,
      src,
      steps,
      logical: applySteps(N.nd(src, srcShape), steps),
    })),
  );
}

/** A short human description of an input's layout, for failure messages. */
export function describeInput(x: Input): string {
  let d = `${x.dtype}[${x.srcShape.join(',')}]`;
  for (const s of x.steps) {
    if (s.kind === 'permute') d = `permute(${d}, [${s.perm}])`;
    else if (s.kind === 'slice') d = `slice(${d}, [${s.starts.map(String)}], [${s.stops.map(String)}], [${s.steps.map(String)}])`;
    else d = `broadcastTo(${d}, [${s.shape}])`;
  }
  return d;
}

/** The library functions needed to rebuild an input. */
export interface LayoutOps<T> {
  tensor(values: Float32Array | Float64Array | Int32Array | Uint8Array, shape: Shape, dtype: DTypeName): T;
  permute(x: T, axes: number[]): T;
  slice(x: T, starts: (number | undefined)[], stops: (number | undefined)[], steps: (number | undefined)[]): T;
  broadcastTo(x: T, shape: Shape): T;
}

/** Build the input with the library: a contiguous tensor of the source values, then the view steps. */
export function buildInput<T>(x: Input, ops: LayoutOps<T>, float64 = false): T {
  const values =
    x.dtype === 'int32' ? Int32Array.from(x.src) : x.dtype === 'bool' ? Uint8Array.from(x.src) : float64 ? Float64Array.from(x.src) : Float32Array.from(x.src);
  let t = ops.tensor(values, x.srcShape, x.dtype);
  for (const s of x.steps) {
    if (s.kind === 'permute') t = ops.permute(t, s.perm);
    else if (s.kind === 'slice') t = ops.slice(t, s.starts, s.stops, s.steps);
    else t = ops.broadcastTo(t, s.shape);
  }
  return t;
}
