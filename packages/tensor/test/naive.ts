/**
 * An independent, deliberately naive float64 implementation of the tensor primitives with NumPy
 * semantics, used as the oracle of the conformance suite. It is written from the math (index loops over
 * C-order multi-indices), never from the library's kernels, and favours obviousness over speed.
 *
 * Everything works on `NDArray = { shape, data }` with `data` in C (row-major) order.
 */

export interface NDArray {
  shape: number[];
  data: Float64Array;
}

// ---------------------------------------------------------------------------------------------------
// basics

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function nd(data: ArrayLike<number>, shape: readonly number[]): NDArray {
  if (sizeOf(shape) !== data.length) throw new Error(`naive.nd: ${data.length} values for shape [${shape.join(', ')}]`);
  return { shape: shape.slice(), data: Float64Array.from(data) };
}

export const scalar = (x: number): NDArray => nd([x], []);

export function fill(shape: readonly number[], f: (idx: number[]) => number): NDArray {
  const out = new Float64Array(sizeOf(shape));
  let k = 0;
  forEachIndex(shape, (idx) => {
    out[k++] = f(idx);
  });
  return { shape: shape.slice(), data: out };
}

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Visit every multi-index of `shape` in C order (the callback gets a reused array: copy it to keep it). */
export function forEachIndex(shape: readonly number[], f: (idx: number[]) => void): void {
  const n = sizeOf(shape);
  if (n === 0) return;
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    f(idx);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

export function flatIndex(shape: readonly number[], idx: readonly number[]): number {
  let k = 0;
  for (let d = 0; d < shape.length; d++) k = k * shape[d] + idx[d];
  return k;
}

export const get = (x: NDArray, idx: readonly number[]): number => x.data[flatIndex(x.shape, idx)];

function normAxis(axis: number, rank: number, op: string): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) throw new Error(`naive.${op}: axis ${axis} out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

function normAxes(axes: number | readonly number[] | undefined, rank: number, op: string): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = (typeof axes === 'number' ? [axes] : axes).map((a) => normAxis(a, rank, op));
  if (new Set(list).size !== list.length) throw new Error(`naive.${op}: repeated axis`);
  return list.sort((a, b) => a - b);
}

/** Nested JS arrays (a number for rank 0). */
export function toNested(x: NDArray): unknown {
  if (x.shape.length === 0) return x.data[0];
  const rec = (d: number, off: number): unknown[] => {
    const out: unknown[] = [];
    const step = sizeOf(x.shape.slice(d + 1));
    for (let i = 0; i < x.shape[d]; i++) out.push(d === x.shape.length - 1 ? x.data[off + i] : rec(d + 1, off + i * step));
    return out;
  };
  return rec(0, 0);
}

/** Round every value to float32 (what the library stores for a float32 tensor). */
export const toF32 = (x: NDArray): NDArray => ({ shape: x.shape.slice(), data: Float64Array.from(x.data, Math.fround) });

// ---------------------------------------------------------------------------------------------------
// elementwise unary

/** erf in float64: power series of e^{x²}·erf(x) for |x| < 3, continued fraction of erfc beyond. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return -erf(-x);
  if (x === 0) return x;
  if (x < 3) {
    // erf(x) = 2/√π · e^{-x²} · Σ_{n≥0} 2^n x^{2n+1} / (1·3·5···(2n+1)) — the Maclaurin series of
    // e^{x²}·erf(x); all terms are positive, so there is no cancellation.
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x * x) / (2 * n + 1);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
  }
  return 1 - erfc(x);
}

/** erfc for x ≥ 3 by the Laplace continued fraction erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))). */
export function erfc(x: number): number {
  if (x < 3) return 1 - erf(x);
  if (x > 27) return 0;
  let f = x;
  for (let k = 80; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

export function sigmoidScalar(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

export const UNARY = {
  neg: (x: number) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x: number) => 1 / Math.sqrt(x),
  tanh: Math.tanh,
  sigmoid: sigmoidScalar,
  erf,
  abs: Math.abs,
  sin: Math.sin,
  cos: Math.cos,
  reciprocal: (x: number) => 1 / x,
  // GELU, tanh approximation (textbook formula, float64)
  geluTanh: (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
} as const;

/** The derivative of the tanh-approximated GELU (UNARY.geluTanh), textbook formula in float64. */
export function geluTanhSlope(x: number): number {
  const t = Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * Math.sqrt(2 / Math.PI) * (1 + 3 * 0.044715 * x * x);
}
export type UnaryName = keyof typeof UNARY;

export const map = (x: NDArray, f: (v: number) => number): NDArray => ({ shape: x.shape.slice(), data: Float64Array.from(x.data, f) });
export const unary = (name: UnaryName, x: NDArray): NDArray => map(x, UNARY[name]);

// ---------------------------------------------------------------------------------------------------
// broadcasting and elementwise binary / ternary

export function broadcastShapes(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    // dim i of the output, counted from the left; each shape is right-aligned
    const dims = shapes.map((s) => (i - (rank - s.length) >= 0 ? s[i - (rank - s.length)] : 1));
    const notOne = dims.filter((d) => d !== 1);
    if (notOne.some((d) => d !== notOne[0])) throw new Error(`naive.broadcast: shapes ${shapes.map((s) => `[${s}]`).join(' ')} are incompatible`);
    out.push(notOne.length ? notOne[0] : 1);
  }
  return out;
}

/** The value of `x` seen at output index `idx` of a broadcast to a shape of rank idx.length. */
function bget(x: NDArray, idx: readonly number[]): number {
  const off = idx.length - x.shape.length;
  let k = 0;
  for (let d = 0; d < x.shape.length; d++) k = k * x.shape[d] + (x.shape[d] === 1 ? 0 : idx[off + d]);
  return x.data[k];
}

export function broadcastTo(x: NDArray, shape: readonly number[]): NDArray {
  const b = broadcastShapes(x.shape, shape);
  if (b.length !== shape.length || b.some((d, i) => d !== shape[i])) throw new Error(`naive.broadcastTo: [${x.shape}] → [${shape}]`);
  return fill(shape, (idx) => bget(x, idx));
}

const b01 = (c: boolean): number => (c ? 1 : 0);
export const BINARY = {
  add: (a: number, b: number) => a + b,
  sub: (a: number, b: number) => a - b,
  mul: (a: number, b: number) => a * b,
  div: (a: number, b: number) => a / b,
  pow: Math.pow,
  maximum: (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a > b ? a : b),
  minimum: (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a < b ? a : b),
  equal: (a: number, b: number) => b01(a === b),
  notEqual: (a: number, b: number) => b01(a !== b),
  less: (a: number, b: number) => b01(a < b),
  lessEqual: (a: number, b: number) => b01(a <= b),
  greater: (a: number, b: number) => b01(a > b),
  greaterEqual: (a: number, b: number) => b01(a >= b),
} as const;
export type BinaryName = keyof typeof BINARY;
export const COMPARISONS: readonly BinaryName[] = ['equal', 'notEqual', 'less', 'lessEqual', 'greater', 'greaterEqual'];

export function zipWith(a: NDArray, b: NDArray, f: (x: number, y: number) => number): NDArray {
  const shape = broadcastShapes(a.shape, b.shape);
  return fill(shape, (idx) => f(bget(a, idx), bget(b, idx)));
}
export const binary = (name: BinaryName, a: NDArray, b: NDArray): NDArray => zipWith(a, b, BINARY[name]);

export function where(c: NDArray, a: NDArray, b: NDArray): NDArray {
  const shape = broadcastShapes(c.shape, a.shape, b.shape);
  return fill(shape, (idx) => (bget(c, idx) !== 0 ? bget(a, idx) : bget(b, idx)));
}

export function cast(x: NDArray, dtype: 'float32' | 'int32' | 'bool'): NDArray {
  if (dtype === 'int32') return map(x, (v) => Math.trunc(v) + 0); // + 0 turns -0 into 0
  if (dtype === 'bool') return map(x, (v) => (v !== 0 ? 1 : 0)); // NaN != 0 → true, as in NumPy
  if (dtype === 'float32') return map(x, (v) => v);
  throw new Error(`naive.cast: unknown dtype ${String(dtype)}`);
}

// ---------------------------------------------------------------------------------------------------
// reductions

/**
 * Generic reduction: for each output cell, the list of input values over the reduced axes in C order
 * of those axes, handed to `f`.
 */
export function reduce(x: NDArray, axes: number | readonly number[] | undefined, keepdims: boolean, f: (vals: number[]) => number): NDArray {
  const ax = normAxes(axes, x.shape.length, 'reduce');
  const reduced = new Set(ax);
  const keptAxes = x.shape.map((_, i) => i).filter((i) => !reduced.has(i));
  const groupShape = ax.map((a) => x.shape[a]);
  const outShape = keepdims ? x.shape.map((d, i) => (reduced.has(i) ? 1 : d)) : keptAxes.map((a) => x.shape[a]);
  const keptShape = keptAxes.map((a) => x.shape[a]);
  const out = new Float64Array(sizeOf(outShape));
  let k = 0;
  forEachIndex(keptShape, (kept) => {
    const vals: number[] = [];
    const full = new Array<number>(x.shape.length).fill(0);
    keptAxes.forEach((a, i) => (full[a] = kept[i]));
    forEachIndex(groupShape, (g) => {
      ax.forEach((a, i) => (full[a] = g[i]));
      vals.push(get(x, full));
    });
    out[k++] = f(vals);
  });
  return { shape: outShape, data: out };
}

/** Neumaier-compensated sum (so the oracle itself has no accumulation error worth mentioning). */
export function fsum(vals: readonly number[]): number {
  let s = 0;
  let c = 0;
  for (const v of vals) {
    const t = s + v;
    if (Math.abs(s) >= Math.abs(v)) c += s - t + v;
    else c += v - t + s;
    s = t;
  }
  return s + c;
}

export const sum = (x: NDArray, axes?: number | readonly number[], keepdims = false): NDArray => reduce(x, axes, keepdims, fsum);

/** max; NaN propagates (as numpy.max); the max of an empty group is -Infinity (NumPy raises instead). */
export const max = (x: NDArray, axes?: number | readonly number[], keepdims = false): NDArray =>
  reduce(x, axes, keepdims, (v) => {
    let m = -Infinity;
    for (const e of v) {
      if (Number.isNaN(e)) return NaN;
      if (e > m) m = e;
    }
    return m;
  });

/** argmax: the first position (C order over the reduced axes) holding the max; a NaN counts as the max. */
export const argmax = (x: NDArray, axes?: number | readonly number[], keepdims = false): NDArray =>
  reduce(x, axes, keepdims, (v) => {
    let best = 0;
    for (let i = 0; i < v.length; i++) {
      if (Number.isNaN(v[i])) return i;
      if (v[i] > v[best]) best = i;
    }
    return best;
  });

export function mean(x: NDArray, axes?: number | readonly number[], keepdims = false): NDArray {
  return reduce(x, axes, keepdims, (v) => fsum(v) / v.length);
}

// ---------------------------------------------------------------------------------------------------
// movement

export function reshape(x: NDArray, shape: readonly number[]): NDArray {
  const s = shape.slice();
  const neg = s.indexOf(-1);
  if (neg >= 0) {
    const rest = sizeOf(s.filter((_, i) => i !== neg));
    s[neg] = rest === 0 ? 0 : sizeOf(x.shape) / rest;
  }
  if (sizeOf(s) !== x.data.length || s.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`naive.reshape: [${x.shape}] → [${shape}]`);
  return { shape: s, data: x.data.slice() };
}

/** out.shape[i] = x.shape[axes[i]]; out[j0..] = x[i with i[axes[k]] = jk]. */
export function permute(x: NDArray, axes: readonly number[]): NDArray {
  const r = x.shape.length;
  const ax = axes.map((a) => normAxis(a, r, 'permute'));
  if (ax.length !== r || new Set(ax).size !== r) throw new Error(`naive.permute: bad axes [${axes}] for rank ${r}`);
  const outShape = ax.map((a) => x.shape[a]);
  const src = new Array<number>(r);
  return fill(outShape, (idx) => {
    for (let k = 0; k < r; k++) src[ax[k]] = idx[k];
    return get(x, src);
  });
}

export const invertPermutation = (p: readonly number[]): number[] => {
  const inv = new Array<number>(p.length);
  p.forEach((a, i) => (inv[a] = i));
  return inv;
};

/** Python `slice(start, stop, step).indices(n)` followed by `len(range(...))`. */
export function sliceIndices(n: number, start: number | undefined, stop: number | undefined, step: number | undefined): { start: number; step: number; length: number } {
  const st = step ?? 1;
  if (!Number.isInteger(st) || st === 0) throw new Error(`naive.slice: bad step ${String(step)}`);
  let a: number;
  let b: number;
  if (st > 0) {
    a = start === undefined ? 0 : start < 0 ? Math.max(0, start + n) : Math.min(start, n);
    b = stop === undefined ? n : stop < 0 ? Math.max(0, stop + n) : Math.min(stop, n);
    return { start: a, step: st, length: b > a ? Math.floor((b - a - 1) / st) + 1 : 0 };
  }
  a = start === undefined ? n - 1 : start < 0 ? Math.max(-1, start + n) : Math.min(start, n - 1);
  b = stop === undefined ? -1 : stop < 0 ? Math.max(-1, stop + n) : Math.min(stop, n - 1);
  return { start: a, step: st, length: a > b ? Math.floor((a - b - 1) / -st) + 1 : 0 };
}

/** x[s0, s1, …] with one Python slice per leading dim (missing trailing dims are taken whole). */
export function slice(
  x: NDArray,
  starts: readonly (number | undefined)[],
  stops?: readonly (number | undefined)[],
  steps?: readonly (number | undefined)[],
): NDArray {
  const r = x.shape.length;
  const specs = x.shape.map((n, d) => sliceIndices(n, starts[d], stops?.[d], steps?.[d]));
  const outShape = specs.map((s) => s.length);
  const src = new Array<number>(r);
  return fill(outShape, (idx) => {
    for (let d = 0; d < r; d++) src[d] = specs[d].start + idx[d] * specs[d].step;
    return get(x, src);
  });
}

export function pad(x: NDArray, pads: readonly (readonly [number, number])[], value = 0): NDArray {
  const r = x.shape.length;
  if (pads.length !== r || pads.some((p) => p.length !== 2 || p.some((v) => !Number.isInteger(v) || v < 0))) throw new Error('naive.pad: bad pads');
  const outShape = x.shape.map((d, i) => d + pads[i][0] + pads[i][1]);
  const src = new Array<number>(r);
  return fill(outShape, (idx) => {
    for (let d = 0; d < r; d++) {
      src[d] = idx[d] - pads[d][0];
      if (src[d] < 0 || src[d] >= x.shape[d]) return value;
    }
    return get(x, src);
  });
}

export function concat(xs: readonly NDArray[], axis: number): NDArray {
  if (xs.length === 0) throw new Error('naive.concat: no inputs');
  const r = xs[0].shape.length;
  const ax = normAxis(axis, r, 'concat');
  for (const x of xs) {
    if (x.shape.length !== r || x.shape.some((d, i) => i !== ax && d !== xs[0].shape[i])) throw new Error('naive.concat: shape mismatch');
  }
  const outShape = xs[0].shape.slice();
  outShape[ax] = xs.reduce((a, x) => a + x.shape[ax], 0);
  const src = new Array<number>(r);
  return fill(outShape, (idx) => {
    let i = idx[ax];
    let which = 0;
    while (i >= xs[which].shape[ax]) i -= xs[which++].shape[ax];
    for (let d = 0; d < r; d++) src[d] = d === ax ? i : idx[d];
    return get(xs[which], src);
  });
}

const clampIndex = (i: number, n: number): number => Math.min(Math.max(Math.trunc(i), 0), n - 1);

/** numpy.take(x, indices, axis, mode='clip'): out.shape = x.shape[:axis] + indices.shape + x.shape[axis+1:]. */
export function gather(x: NDArray, indices: NDArray, axis: number): NDArray {
  const r = x.shape.length;
  const ax = normAxis(axis, r, 'gather');
  const q = indices.shape.length;
  const outShape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)];
  const src = new Array<number>(r);
  return fill(outShape, (idx) => {
    for (let d = 0; d < ax; d++) src[d] = idx[d];
    src[ax] = clampIndex(get(indices, idx.slice(ax, ax + q)), x.shape[ax]);
    for (let d = ax + 1; d < r; d++) src[d] = idx[d - 1 + q];
    return get(x, src);
  });
}

/**
 * The transpose of gather: out has shape updates.shape[:axis] + [dimSize] + updates.shape[axis+q:]
 * (q = indices rank) and out[pre, clip(indices[p]), post] += updates[pre, p, post] for every p.
 */
export function scatterAdd(updates: NDArray, indices: NDArray, axis: number, dimSize: number): NDArray {
  const q = indices.shape.length;
  const r = updates.shape.length - q + 1;
  const ax = normAxis(axis, r, 'scatterAdd');
  const lead = updates.shape.slice(0, ax);
  const trail = updates.shape.slice(ax + q);
  if (updates.shape.slice(ax, ax + q).some((d, i) => d !== indices.shape[i])) throw new Error('naive.scatterAdd: updates/indices mismatch');
  const outShape = [...lead, dimSize, ...trail];
  const acc: number[][] = Array.from({ length: sizeOf(outShape) }, () => []);
  forEachIndex(updates.shape, (idx) => {
    const p = idx.slice(ax, ax + q);
    const dst = [...idx.slice(0, ax), clampIndex(get(indices, p), dimSize), ...idx.slice(ax + q)];
    acc[flatIndex(outShape, dst)].push(get(updates, idx));
  });
  return { shape: outShape, data: Float64Array.from(acc, fsum) };
}

// ---------------------------------------------------------------------------------------------------
// matmul (numpy.matmul)

export function matmul(a: NDArray, b: NDArray): NDArray {
  if (a.shape.length === 0 || b.shape.length === 0) throw new Error('naive.matmul: scalar operand');
  const A = a.shape.length === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const B = b.shape.length === 1 ? reshape(b, [b.shape[0], 1]) : b;
  const m = A.shape[A.shape.length - 2];
  const k = A.shape[A.shape.length - 1];
  const k2 = B.shape[B.shape.length - 2];
  const n = B.shape[B.shape.length - 1];
  if (k !== k2) throw new Error(`naive.matmul: inner dims ${k} vs ${k2}`);
  const batch = broadcastShapes(A.shape.slice(0, -2), B.shape.slice(0, -2));
  const full = [...batch, m, n];
  const out = fill(full, (idx) => {
    const bi = idx.slice(0, batch.length);
    const i = idx[batch.length];
    const j = idx[batch.length + 1];
    const terms: number[] = [];
    for (let t = 0; t < k; t++) terms.push(bget(A, [...bi, i, t]) * bget(B, [...bi, t, j]));
    return fsum(terms);
  });
  const shape = [...batch, ...(a.shape.length === 1 ? [] : [m]), ...(b.shape.length === 1 ? [] : [n])];
  return { shape, data: out.data };
}

// ---------------------------------------------------------------------------------------------------
// composites

export function softmax(x: NDArray, axis = -1): NDArray {
  const ax = normAxis(axis, x.shape.length, 'softmax');
  const m = max(x, [ax], true);
  const e = zipWith(x, m, (v, mm) => Math.exp(v - mm));
  const s = sum(e, [ax], true);
  return zipWith(e, s, (v, ss) => v / ss);
}

export function logsumexp(x: NDArray, axes?: number | readonly number[], keepdims = false): NDArray {
  return reduce(x, axes, keepdims, (v) => {
    let m = -Infinity;
    for (const e of v) m = Math.max(m, e);
    if (m === -Infinity) return -Infinity; // empty group or all -inf
    if (m === Infinity) return Infinity;
    return m + Math.log(fsum(v.map((e) => Math.exp(e - m))));
  });
}

export function logSoftmax(x: NDArray, axis = -1): NDArray {
  const ax = normAxis(axis, x.shape.length, 'logSoftmax');
  return zipWith(x, logsumexp(x, [ax], true), (v, l) => v - l);
}

// ---------------------------------------------------------------------------------------------------
// attention (the fused primitives' meaning, written from the math)

export interface AttentionSpec {
  causal: boolean;
  scale: number;
  /** with causal: also hide keys j ≤ i + offset − window (0 = no window) */
  window: number;
  /** with causal: query i sees keys j ≤ i + offset (default Tk − Tq) */
  offset?: number;
  /** key padding per index of the first batch dim (or one row for all): 0 = hidden key */
  keys?: number[][];
}

/** The score of a hidden key in the composite: a row hiding every key is uniform over all of them. */
const MASK_VALUE = -3.4028234663852886e38;

const visibleKey = (o: AttentionSpec, bi: readonly number[], i: number, j: number, tq: number, tk: number): boolean => {
  const off = o.offset ?? tk - tq;
  if (o.causal && !(j <= i + off && (o.window === 0 || j > i + off - o.window))) return false;
  return !o.keys || o.keys[o.keys.length === 1 ? 0 : bi[0]][j] !== 0;
};

/**
 * softmax(scale·q·kᵀ over visible keys)·v per batch item (k and v batch dims broadcast), and each
 * row's logsumexp: out [..., Tq, Dv], lse [..., Tq].
 */
export function attention(q: NDArray, k: NDArray, v: NDArray, o: AttentionSpec): { out: NDArray; lse: NDArray } {
  const r = q.shape.length;
  const [tq, d] = q.shape.slice(-2);
  const tk = k.shape[k.shape.length - 2];
  const dv = v.shape[v.shape.length - 1];
  const batch = broadcastShapes(q.shape.slice(0, -2), k.shape.slice(0, -2), v.shape.slice(0, -2));
  const probs = (bi: number[], i: number): { js: number[]; p: number[]; lse: number } => {
    const js: number[] = [];
    const s: number[] = [];
    for (let j = 0; j < tk; j++) {
      if (!visibleKey(o, bi, i, j, tq, tk)) continue;
      const terms: number[] = [];
      for (let t = 0; t < d; t++) terms.push(bget(q, [...bi, i, t]) * bget(k, [...bi, j, t]));
      js.push(j);
      s.push(o.scale * fsum(terms));
    }
    if (!js.length) return { js: Array.from({ length: tk }, (_, j) => j), p: new Array<number>(tk).fill(1 / tk), lse: MASK_VALUE };
    const m = Math.max(...s);
    const l = fsum(s.map((x) => Math.exp(x - m)));
    return { js, p: s.map((x) => Math.exp(x - m) / l), lse: m + Math.log(l) };
  };
  const out = fill([...batch, tq, dv], (idx) => {
    const bi = idx.slice(0, r - 2);
    const { js, p } = probs(bi, idx[r - 2]);
    return fsum(js.map((j, t) => p[t] * bget(v, [...bi, j, idx[r - 1]])));
  });
  const lse = fill([...batch, tq], (idx) => probs(idx.slice(0, r - 2), idx[r - 2]).lse);
  return { out, lse };
}

/**
 * The gradient of Σ(gOut·out) + Σ(gLse·lse) with respect to q, k and v (each of its own shape: summed
 * over broadcast batch dims), by the chain rule on the softmax written out per element.
 */
export function attentionGrad(q: NDArray, k: NDArray, v: NDArray, gOut: NDArray, gLse: NDArray, o: AttentionSpec): [NDArray, NDArray, NDArray] {
  const r = q.shape.length;
  const [tq, d] = q.shape.slice(-2);
  const tk = k.shape[k.shape.length - 2];
  const dv = v.shape[v.shape.length - 1];
  const batch = broadcastShapes(q.shape.slice(0, -2), k.shape.slice(0, -2), v.shape.slice(0, -2));
  const dq = fill([...batch, tq, d], () => 0);
  const dk = fill([...batch, tk, d], () => 0);
  const dvv = fill([...batch, tk, dv], () => 0);
  forEachIndex(batch, (bIdx) => {
    const bi = bIdx.slice();
    for (let i = 0; i < tq; i++) {
      const js: number[] = [];
      const s: number[] = [];
      for (let j = 0; j < tk; j++) {
        if (!visibleKey(o, bi, i, j, tq, tk)) continue;
        let dot = 0;
        for (let t = 0; t < d; t++) dot += bget(q, [...bi, i, t]) * bget(k, [...bi, j, t]);
        js.push(j);
        s.push(o.scale * dot);
      }
      // a row hiding every key: equal (constant) scores over all keys, so no gradient to q or k
      const empty = js.length === 0;
      if (empty) for (let j = 0; j < tk; j++) js.push(j);
      const m = Math.max(...s);
      const l = s.reduce((a, x) => a + Math.exp(x - m), 0);
      const p = empty ? js.map(() => 1 / tk) : s.map((x) => Math.exp(x - m) / l);
      // out_c = Σ_j p_j v_jc ; lse = log Σ exp s_j → ∂/∂s_j: p_j (v_jc − out_c) and p_j
      const gs = js.map((j, t) => {
        let g = bget(gLse, [...bi, i]) * p[t];
        for (let c = 0; c < dv; c++) {
          const outc = js.reduce((a, jj, tt) => a + p[tt] * bget(v, [...bi, jj, c]), 0);
          g += bget(gOut, [...bi, i, c]) * p[t] * (bget(v, [...bi, j, c]) - outc);
        }
        return empty ? 0 : g * o.scale;
      });
      js.forEach((j, t) => {
        for (let e = 0; e < d; e++) {
          dq.data[flatIndex(dq.shape, [...bi, i, e])] += gs[t] * bget(k, [...bi, j, e]);
          dk.data[flatIndex(dk.shape, [...bi, j, e])] += gs[t] * bget(q, [...bi, i, e]);
        }
        for (let c = 0; c < dv; c++) dvv.data[flatIndex(dvv.shape, [...bi, j, c])] += p[t] * bget(gOut, [...bi, i, c]);
      });
    }
  });
  const reduceTo = (x: NDArray, shape: readonly number[]): NDArray => {
    const lead = x.shape.length - shape.length;
    const axes = x.shape.map((_, a) => a).filter((a) => a < lead || (shape[a - lead] === 1 && x.shape[a] !== 1));
    return axes.length ? reshape(sum(x, axes, false), shape) : x;
  };
  return [reduceTo(dq, q.shape), reduceTo(dk, k.shape), reduceTo(dvv, v.shape)];
}

// ---------------------------------------------------------------------------------------------------
// softmax cross-entropy (the fused primitives' meaning: −log softmax(row)[label], 0 for rows whose
// label is ignoreIndex or outside [0, C))

const countedLabel = (l: number, c: number, ignoreIndex: number): boolean => l !== ignoreIndex && l >= 0 && l < c;

/** Per-row loss of logits [N, C] against labels [N]: [N]. */
export function softmaxCrossEntropy(logits: NDArray, labels: NDArray, ignoreIndex = -100): NDArray {
  const [n, c] = logits.shape;
  const logp = logSoftmax(logits, 1);
  return fill([n], ([i]) => (countedLabel(labels.data[i], c, ignoreIndex) ? -get(logp, [i, labels.data[i]]) : 0));
}

/** The gradient of Σ g·loss with respect to the logits: g[n]·(softmax(row) − onehot) on counted rows. */
export function softmaxCrossEntropyGrad(logits: NDArray, labels: NDArray, g: NDArray, ignoreIndex = -100): NDArray {
  const c = logits.shape[1];
  const p = softmax(logits, 1);
  return fill(logits.shape, ([i, j]) => (countedLabel(labels.data[i], c, ignoreIndex) ? g.data[i] * (get(p, [i, j]) - (j === labels.data[i] ? 1 : 0)) : 0));
}

// ---------------------------------------------------------------------------------------------------
// LayerNorm over the last axis (the fused primitives' meaning): x̂ = (x − mean)/√(biased var + eps)

/** x̂ of every row of x [..., C] (float64). */
function normalizedRows(x: NDArray, eps: number): NDArray {
  const mu = mean(x, -1, true);
  const xc = zipWith(x, mu, (a, m) => a - m);
  const v = mean(zipWith(xc, xc, (a, b) => a * b), -1, true);
  return zipWith(xc, v, (a, s) => a / Math.sqrt(s + eps));
}

/** (x − mean)/√(var + eps)·w + b over the last axis; w, b [C]. */
export function layerNorm(x: NDArray, w: NDArray, b: NDArray, eps = 1e-5): NDArray {
  const xh = normalizedRows(x, eps);
  return zipWith(zipWith(xh, w, (a, s) => a * s), b, (a, s) => a + s);
}

/**
 * [dx, dweight, dbias] of Σ g·layerNorm(x, w, b): dx from the Jacobian of each row,
 * ∂x̂_i/∂x_k = r·(δ_ik − 1/C − x̂_i·x̂_k/C); dweight = Σ_rows g·x̂; dbias = Σ_rows g.
 */
export function layerNormGrad(x: NDArray, w: NDArray, g: NDArray, eps = 1e-5): [NDArray, NDArray, NDArray] {
  const c = x.shape[x.shape.length - 1];
  const rows = x.data.length / c;
  const xh = normalizedRows(x, eps);
  const dx = new Float64Array(x.data.length);
  for (let n = 0; n < rows; n++) {
    let v = 0;
    let m = 0;
    for (let k = 0; k < c; k++) m += x.data[n * c + k] / c;
    for (let k = 0; k < c; k++) v += (x.data[n * c + k] - m) ** 2 / c;
    const r = 1 / Math.sqrt(v + eps);
    for (let k = 0; k < c; k++) {
      for (let i = 0; i < c; i++) {
        dx[n * c + k] += g.data[n * c + i] * w.data[i] * r * ((i === k ? 1 : 0) - 1 / c - (xh.data[n * c + i] * xh.data[n * c + k]) / c);
      }
    }
  }
  const lead = Array.from({ length: x.shape.length - 1 }, (_, k) => k);
  const dw = lead.length ? reduce(zipWith(g, xh, (a, s) => a * s), lead, false, fsum) : zipWith(g, xh, (a, s) => a * s);
  const db = lead.length ? reduce(g, lead, false, fsum) : g;
  return [{ shape: x.shape.slice(), data: dx }, dw, db];
}
