/**
 * fast-check arbitraries for gradient tests: shapes, broadcast-compatible shape tuples, and tensors
 * whose values lie in an op's domain. Values are drawn from a seeded uniform generator (not from
 * fast-check's biased doubles, which favour boundary values and would create ties at kinks), so a
 * counterexample is reproducible from the printed tensor.
 */
import * as fc from 'fast-check';
import { tensor, type Shape, type Tensor } from '@llm-modules/tensor';
import { mulberry32 } from './random.js';

/**
 * Value domains:
 * - `real`: uniform in (−3, 3); `small`: (−1, 1)
 * - `positive`: (0.5, 2), away from 0 (log, sqrt, rsqrt, reciprocal, pow bases)
 * - `awayFromZero`: ±(0.5, 2) (division, abs, relu: no kink within reach of the finite difference)
 * - `unit`: the open unit interval, (0.05, 0.95) (probabilities)
 * - `distinct`: (−2, 2) with all values at least 1/n of the range apart (max: no ties)
 * - `{ min, max }`: uniform in (min, max)
 * Integer and boolean tensors: `indices` (int32 in [0, bound)), `labels` (like indices, with about a
 * quarter set to `ignoreIndex`), `bool` (random 0/1), `mask` (bool, the first entry along the last
 * axis always true: a padding mask that keeps one position).
 */
export type ValueDomain = 'real' | 'small' | 'positive' | 'awayFromZero' | 'unit' | 'distinct' | { readonly min: number; readonly max: number };
export type Domain = ValueDomain | 'indices' | 'labels' | 'bool' | 'mask';

const RANGES: Record<string, [number, number]> = {
  real: [-3, 3],
  small: [-1, 1],
  positive: [0.5, 2],
  awayFromZero: [0.5, 2],
  unit: [0.05, 0.95],
  distinct: [-2, 2],
};

const sizeOf = (shape: Shape): number => shape.reduce((a, b) => a * b, 1);

/**
 * Fill `n` values of a domain from a seed (deterministic).
 * @example `domainValues('positive', 4, 7)` → four values in [0.5, 2]
 */
export function domainValues(domain: Domain, n: number, seed: number, options: { bound?: number; ignoreIndex?: number; lastDim?: number } = {}): Float64Array {
  const rand = mulberry32(seed);
  const out = new Float64Array(n);
  if (domain === 'indices' || domain === 'labels') {
    const bound = options.bound ?? 1;
    for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * bound);
    if (domain === 'labels') for (let i = 0; i < n; i++) if (rand() < 0.25) out[i] = options.ignoreIndex ?? -100;
    return out;
  }
  if (domain === 'bool' || domain === 'mask') {
    for (let i = 0; i < n; i++) out[i] = rand() < 0.5 ? 0 : 1;
    const last = options.lastDim ?? 1;
    if (domain === 'mask') for (let i = 0; i < n; i += last) out[i] = 1;
    return out;
  }
  const [lo, hi] = typeof domain === 'object' ? [domain.min, domain.max] : RANGES[domain];
  if (domain === 'distinct') {
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (let i = 0; i < n; i++) out[i] = lo + ((hi - lo) * (order[i] + 0.25 + 0.5 * rand())) / n;
    return out;
  }
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rand();
  if (domain === 'awayFromZero') for (let i = 0; i < n; i++) if (rand() < 0.5) out[i] = -out[i];
  return out;
}

export interface ShapeConstraints {
  minRank?: number;
  maxRank?: number;
  minDim?: number;
  maxDim?: number;
}

/**
 * Shapes: rank in [minRank, maxRank] (default 0–3), dims in [minDim, maxDim] (default 1–4).
 * @example-skip a fragment: `fc` comes from the caller's code
 * @example `fc.assert(fc.property(arbShape({ maxRank: 2 }), (s) => s.length <= 2))`
 */
export function arbShape({ minRank = 0, maxRank = 3, minDim = 1, maxDim = 4 }: ShapeConstraints = {}): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: minDim, max: maxDim }), { minLength: minRank, maxLength: maxRank });
}

/**
 * `count` (default 2) shapes that broadcast together with NumPy rules: each is a suffix of a common
 * shape (lower rank) with some dims set to 1, so gradients must sum over broadcast axes.
 * @example `arbBroadcastableShapes({ count: 3 })` → e.g. [[2, 1, 4], [4], [3, 1]]
 */
export function arbBroadcastableShapes({ count = 2, ...constraints }: ShapeConstraints & { count?: number } = {}): fc.Arbitrary<number[][]> {
  return arbShape(constraints).chain((full) =>
    fc.tuple(
      ...Array.from({ length: count }, () =>
        fc.tuple(fc.integer({ min: 0, max: full.length }), fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length })).map(([drop, ones]) =>
          full.slice(drop).map((d, k) => (ones[k + drop] ? 1 : d)),
        ),
      ),
    ),
  );
}

export interface TensorConstraints {
  /** A fixed shape or an arbitrary of shapes (default `arbShape()`). */
  shape?: Shape | fc.Arbitrary<Shape>;
  domain?: Domain;
  /** Exclusive upper bound for `indices` and `labels`. */
  bound?: number;
  /** The value `labels` uses for ignored positions (default −100). */
  ignoreIndex?: number;
}

/** Describe a tensor so that fast-check prints a counterexample that can be pasted back. */
function printable(t: Tensor, values: Float64Array): Tensor {
  const ctor = t.dtype === 'float32' ? 'Float64Array' : t.dtype === 'int32' ? 'Int32Array' : 'Uint8Array';
  const text = `tensor(${ctor}.from([${Array.from(values).join(', ')}]), [${t.shape.join(', ')}])`;
  Object.defineProperty(t, fc.toStringMethod, { value: () => text });
  return t;
}

/**
 * Tensors of a shape with values in a domain. Float tensors hold float64 values (exact on the
 * `reference` backend, rounded to float32 elsewhere); `indices`/`labels` give int32, `bool`/`mask` bool.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import { arbTensor, checkGrads } from '@llm-modules/autograd/testing';
 * import { log } from '@llm-modules/tensor';
 * await fc.assert(fc.asyncProperty(arbTensor({ domain: 'positive' }), (x) => checkGrads(log, [x]).then(() => true)));
 * ```
 */
export function arbTensor({ shape, domain = 'real', bound, ignoreIndex }: TensorConstraints = {}): fc.Arbitrary<Tensor> {
  const shapes: fc.Arbitrary<Shape> = shape === undefined ? arbShape() : Array.isArray(shape) ? fc.constant(shape as Shape) : (shape as fc.Arbitrary<Shape>);
  return fc.tuple(shapes, fc.noBias(fc.integer({ min: 0, max: 0x7fffffff }))).map(([s, seed]) => makeTensor(s, domain, seed, { bound, ignoreIndex }));
}

/**
 * The tensor `arbTensor` would build for a shape, domain and seed: a fixed test input.
 * @example `makeTensor([2, 3], 'awayFromZero', 1)`; `makeTensor([4], 'indices', 2, { bound: 10 })`
 */
export function makeTensor(shape: Shape, domain: Domain, seed: number, options: { bound?: number; ignoreIndex?: number } = {}): Tensor {
  const values = domainValues(domain, sizeOf(shape), seed, { ...options, lastDim: shape[shape.length - 1] });
  let t: Tensor;
  if (domain === 'indices' || domain === 'labels') t = tensor(Int32Array.from(values), shape);
  else if (domain === 'bool' || domain === 'mask') t = tensor(Uint8Array.from(values), shape);
  else t = tensor(values, shape);
  return printable(t, values);
}
