/**
 * Movement primitives. reshape, permute, broadcastTo and slice are views: they only change how a
 * storage is indexed (offset and strides), so they cost no kernel. pad and concat write new storage.
 */
import { TensorError, fmtShape } from '../errors.js';
import { broadcastShapes, checkShape, contiguousStrides, normalizeAxis, shapesEqual, sizeOf, type Shape } from '../shape.js';
import type { View } from '../backend.js';
import type { Tensor } from '../tensor.js';
import { broadcastView, decompose, kernelFn, lit, names, offsetOf } from '../kernels/codegen.js';
import { definePrimitive, node } from './registry.js';

/** Strides of a view that is one dense C-order block (possibly at an offset), or undefined. */
function denseBlock(v: View): boolean {
  let expected = 1;
  for (let k = v.shape.length - 1; k >= 0; k--) {
    if (v.shape[k] !== 1 && v.strides[k] !== expected) return false;
    expected *= v.shape[k];
  }
  return true;
}

/**
 * Strides under which a view of shape `from` / `strides` reads its elements in C order as shape `to`,
 * when no data has to move (NumPy's no-copy reshape): each run of old dims that merges or splits into
 * new dims must itself be one strided block. E.g. splitting the heads out of a column slice
 * `[B, T, 3D] → [B, T, D]` (strides [3TD, 3D, 1]) into `[B, T, nh, hd]`. Undefined when a copy is needed.
 */
export function reshapeStrides(from: Shape, strides: readonly number[], to: Shape): number[] | undefined {
  if (sizeOf(to) === 0) return contiguousStrides(to);
  const od: number[] = [];
  const os: number[] = [];
  from.forEach((d, k) => {
    if (d !== 1) {
      od.push(d);
      os.push(strides[k]);
    }
  });
  const out = new Array<number>(to.length).fill(1);
  let oi = 0;
  let ni = 0;
  while (oi < od.length && ni < to.length) {
    // the smallest runs od[oi, oj) and to[ni, nj) with equal products
    let oj = oi + 1;
    let nj = ni + 1;
    let po = od[oi];
    let pn = to[ni];
    while (po !== pn) {
      if (pn < po) pn *= to[nj++];
      else po *= od[oj++];
    }
    for (let k = oi; k < oj - 1; k++) if (os[k] !== od[k + 1] * os[k + 1]) return undefined;
    out[nj - 1] = os[oj - 1];
    for (let k = nj - 1; k > ni; k--) out[k - 1] = out[k] * to[k];
    oi = oj;
    ni = nj;
  }
  return out;
}

definePrimitive({
  name: 'reshape',
  view: (n, v) => {
    if (denseBlock(v)) return { storage: v.storage, shape: n.shape, strides: contiguousStrides(n.shape), offset: v.offset };
    const strides = reshapeStrides(v.shape, v.strides, n.shape);
    return strides ? { storage: v.storage, shape: n.shape, strides, offset: v.offset } : undefined;
  },
  vjp: (g, _o, [x]) => [reshape(g, x.shape)],
});

/**
 * Same values, new shape (C order). One dim may be -1 (inferred).
 * @example `reshape(arange(6), [2, -1])` → shape [2, 3]
 */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const inferred = shape.filter((d) => d === -1).length;
  if (inferred > 1) throw new TensorError('reshape', `only one dim may be -1, got ${fmtShape(shape)}`);
  let target = shape.slice();
  if (inferred) {
    const known = sizeOf(shape.filter((d) => d !== -1));
    if (known === 0 || x.size % known !== 0) throw new TensorError('reshape', `cannot reshape ${fmtShape(x.shape)} into ${fmtShape(shape)}`);
    target = shape.map((d) => (d === -1 ? x.size / known : d));
  }
  checkShape('reshape', target);
  if (sizeOf(target) !== x.size) throw new TensorError('reshape', `cannot reshape ${fmtShape(x.shape)} (${x.size} elements) into ${fmtShape(shape)}`);
  if (shapesEqual(target, x.shape)) return x;
  return node('reshape', target, x.dtype, [x]);
}

definePrimitive({
  name: 'permute',
  view: (n, v) => {
    const axes = n.attrs.axes as number[];
    return { storage: v.storage, shape: n.shape, strides: axes.map((a) => v.strides[a]), offset: v.offset };
  },
  vjp: (g, o) => {
    const axes = o.attrs.axes as number[];
    const inverse = axes.map((_, k) => axes.indexOf(k));
    return [productTransposed(g, axes) ?? permute(g, inverse)];
  },
});

/**
 * (P·Q)ᵀ = Qᵀ·Pᵀ. The cotangent of a transposed operand of a product — a linear layer's `Wᵀ`, so a weight
 * gradient Xᵀ·dY — is itself a pending product. Instead of a transposed view of it, the transposed
 * product: the weight's gradient comes out in the weight's own layout, so the optimizer reads it with
 * unit strides and flattens it without a copy (same values: each element is the same dot product).
 * Undefined unless `axes` swaps the last two of a pending, unbroadcast matmul.
 */
function productTransposed(g: Tensor, axes: readonly number[]): Tensor | undefined {
  const r = axes.length;
  if (g.op !== 'matmul' || g.view || g.inputs.length !== 2 || g.dtype !== 'float32' || r < 2) return undefined;
  const swap = axes.map((_, k) => (k < r - 2 ? k : 2 * r - 3 - k));
  if (axes.some((a, k) => a !== swap[k])) return undefined;
  const [p, q] = g.inputs;
  const batch = g.shape.slice(0, -2);
  if (p.rank !== r || q.rank !== r || !shapesEqual(p.shape.slice(0, -2), batch) || !shapesEqual(q.shape.slice(0, -2), batch)) return undefined;
  return node('matmul', [...batch, g.shape[r - 1], g.shape[r - 2]], 'float32', [permute(q, swap), permute(p, swap)]);
}

/**
 * Reorder axes: output dim k is input dim `axes[k]`.
 * @example `permute(zeros([2, 3, 4]), [2, 0, 1]).shape` → [4, 2, 3]
 */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  if (axes.length !== x.rank) throw new TensorError('permute', `axes [${axes.join(', ')}] do not match a tensor of rank ${x.rank} (shape ${fmtShape(x.shape)})`);
  if (axes.some((a) => !Number.isInteger(a) || a < -x.rank || a >= x.rank)) {
    throw new TensorError('permute', `axes [${axes.join(', ')}] are out of range for shape ${fmtShape(x.shape)}`);
  }
  const ax = axes.map((a) => normalizeAxis('permute', a, x.shape));
  if (new Set(ax).size !== ax.length) throw new TensorError('permute', `axes [${axes.join(', ')}] repeat an axis of shape ${fmtShape(x.shape)}`);
  if (ax.every((a, k) => a === k)) return x;
  return node('permute', ax.map((a) => x.shape[a]), x.dtype, [x], { axes: ax });
}

/** Reverse the axes, or permute them when `axes` is given. @example `transpose(zeros([2, 3])).shape` → [3, 2] */
export const transpose = (x: Tensor, axes?: readonly number[]): Tensor => permute(x, axes ?? x.shape.map((_, k) => x.rank - 1 - k));

definePrimitive({
  name: 'broadcastTo',
  view: (n, v) => broadcastView(v, n.shape),
  // its gradient rule, a sum (reduce.ts builds on these views), is in basic-rules.ts
});

/** Broadcast to `shape` with NumPy rules (no copy). @example `broadcastTo(tensor([1, 2]), [3, 2])` */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  checkShape('broadcastTo', shape);
  const out = broadcastShapes('broadcastTo', x.shape, shape);
  if (!shapesEqual(out, shape)) throw new TensorError('broadcastTo', `cannot broadcast ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  if (shapesEqual(x.shape, shape)) return x;
  return node('broadcastTo', shape, x.dtype, [x]);
}

interface SliceAttrs {
  begin: number[];
  step: number[];
}

definePrimitive({
  name: 'slice',
  view: (n, v) => {
    const { begin, step } = n.attrs as unknown as SliceAttrs;
    let offset = v.offset;
    begin.forEach((b, k) => {
      if (n.shape[k] > 0) offset += b * v.strides[k];
    });
    return { storage: v.storage, shape: n.shape, strides: v.strides.map((s, k) => s * step[k]), offset };
  },
  vjp: (g, o, [x]) => [unslice(g, o.attrs as unknown as SliceAttrs, x.shape)],
});

/** Scatter a slice's cotangent back into zeros of the input's shape, one dim at a time, with primitives only. */
function unslice(g: Tensor, { begin, step }: SliceAttrs, shape: Shape): Tensor {
  let out = g;
  for (let k = 0; k < shape.length; k++) {
    const count = out.shape[k];
    let b = begin[k];
    let s = step[k];
    if (count > 0 && s < 0) {
      out = slice(out, ...axisSlice(out.rank, k, count - 1, -count - 1, -1));
      b = b + (count - 1) * s;
      s = -s;
    }
    if (count > 1 && s > 1) {
      const split = [...out.shape.slice(0, k + 1), 1, ...out.shape.slice(k + 1)];
      const pads = split.map((): [number, number] => [0, 0]);
      pads[k + 1] = [0, s - 1];
      out = reshape(pad(reshape(out, split), pads), [...out.shape.slice(0, k), count * s, ...out.shape.slice(k + 1)]);
      out = slice(out, ...axisSlice(out.rank, k, 0, (count - 1) * s + 1, 1));
    }
    const len = out.shape[k];
    if (count === 0) b = 0;
    const pads = out.shape.map((): [number, number] => [0, 0]);
    pads[k] = [b, shape[k] - b - len];
    out = pad(out, pads);
  }
  return out;
}

const axisSlice = (rank: number, axis: number, start: number, stop: number, step: number): [number[], number[], number[]] => {
  const starts = new Array<number>(rank).fill(0);
  const stops = new Array<number>(rank).fill(Number.MAX_SAFE_INTEGER);
  const steps = new Array<number>(rank).fill(1);
  starts[axis] = start;
  stops[axis] = stop;
  steps[axis] = step;
  return [starts, stops, steps];
};

/** Resolve Python slice bounds for one dim: returns [begin, count]. */
function resolve(n: number, start: number | undefined, stop: number | undefined, step: number): [number, number] {
  if (step > 0) {
    const b = start === undefined ? 0 : Math.min(Math.max(start < 0 ? start + n : start, 0), n);
    const e = stop === undefined ? n : Math.min(Math.max(stop < 0 ? stop + n : stop, 0), n);
    return [b, Math.max(0, Math.ceil((e - b) / step))];
  }
  const b = start === undefined ? n - 1 : Math.min(Math.max(start < 0 ? start + n : start, -1), n - 1);
  const e = stop === undefined ? -1 : Math.min(Math.max(stop < 0 ? stop + n : stop, -1), n - 1);
  return [b, Math.max(0, Math.ceil((e - b) / step))];
}

/**
 * Python/NumPy slicing per dim: `x[starts[0]:stops[0]:steps[0], …]`; missing trailing dims are taken
 * whole, `undefined` entries take the default bound, negative indices count from the end, steps may be
 * negative. A view: no data moves.
 * @example `slice(arange(10), [1], [8], [3])` → [1, 4, 7]; `slice(x, [undefined], [undefined], [-1])` reverses
 */
export function slice(x: Tensor, starts: readonly (number | undefined)[], stops: readonly (number | undefined)[] = [], steps: readonly (number | undefined)[] = []): Tensor {
  if (starts.length > x.rank || stops.length > x.rank || steps.length > x.rank) {
    throw new TensorError('slice', `got bounds for ${Math.max(starts.length, stops.length, steps.length)} dims, tensor has shape ${fmtShape(x.shape)}`);
  }
  const begin: number[] = [];
  const step: number[] = [];
  const shape: number[] = [];
  for (let k = 0; k < x.rank; k++) {
    const s = steps[k] ?? 1;
    if (!Number.isInteger(s) || s === 0) throw new TensorError('slice', `step must be a non-zero integer, got ${s} for dim ${k} of shape ${fmtShape(x.shape)}`);
    for (const v of [starts[k], stops[k]]) {
      if (v !== undefined && !Number.isInteger(v)) throw new TensorError('slice', `bounds must be integers, got ${v} for dim ${k} of shape ${fmtShape(x.shape)}`);
    }
    const [b, c] = resolve(x.shape[k], starts[k], stops[k], s);
    begin.push(c > 0 ? b : 0);
    step.push(s);
    shape.push(c);
  }
  if (shapesEqual(shape, x.shape) && step.every((s) => s === 1)) return x;
  return node('slice', shape, x.dtype, [x], { begin, step });
}

definePrimitive({
  name: 'pad',
  gpujs: (n, [x]) => {
    const pads = n.attrs.pads as [number, number][];
    const value = lit(n.attrs.value as number);
    if (x.shape.some((d) => d === 0)) return { source: kernelFn(1, `return ${value};`), inputs: [x] };
    const i = names('i', n.rank);
    const j = names('j', n.rank);
    const lines = [decompose(n.shape)];
    const conds: string[] = [];
    for (let k = 0; k < n.rank; k++) {
      lines.push(`const ${j[k]} = Math.min(Math.max(${i[k]} - ${lit(pads[k][0])}, 0.0), ${lit(x.shape[k] - 1)});`);
      if (pads[k][0] || pads[k][1]) conds.push(`${i[k]} - ${lit(pads[k][0])} !== ${j[k]}`);
    }
    lines.push(`const v = x0[${offsetOf(x, j)}];`);
    lines.push(conds.length ? `if (${conds.join(' || ')}) {\n    return ${value};\n  }\n  return v;` : 'return v;');
    return { source: kernelFn(1, lines.join('\n  ')), inputs: [x] };
  },
  vjp: (g, o, [x]) => {
    const pads = o.attrs.pads as [number, number][];
    return [slice(g, pads.map((p) => p[0]), pads.map((p, k) => p[0] + x.shape[k]))];
  },
});

/**
 * Pad with a constant: `pads[k] = [before, after]` for every dim.
 * @example `pad(tensor([1, 2]), [[1, 2]])` → [0, 1, 2, 0, 0]
 */
export function pad(x: Tensor, pads: readonly (readonly [number, number])[], value = 0): Tensor {
  if (pads.length !== x.rank) throw new TensorError('pad', `need [before, after] for each of the ${x.rank} dims of ${fmtShape(x.shape)}, got ${pads.length}`);
  for (const p of pads) {
    if (!Array.isArray(p) || p.length !== 2 || !p.every((v) => Number.isInteger(v) && v >= 0)) {
      throw new TensorError('pad', `pads must be pairs of non-negative integers, got ${JSON.stringify(pads)} for shape ${fmtShape(x.shape)}`);
    }
  }
  if (pads.every((p) => p[0] === 0 && p[1] === 0)) return x;
  const shape = x.shape.map((d, k) => d + pads[k][0] + pads[k][1]);
  return node('pad', shape, x.dtype, [x], { pads: pads.map((p) => [p[0], p[1]]), value });
}

definePrimitive({
  name: 'concat',
  gpujs: (n, views) => {
    const axis = n.attrs.axis as number;
    const i = names('i', n.rank);
    const lines = [decompose(n.shape)];
    let start = 0;
    views.forEach((v, m) => {
      const local = i.map((name, k) => (k === axis ? `c${m}` : name));
      const line = `const c${m} = Math.min(Math.max(${i[axis]} - ${lit(start)}, 0.0), ${lit(v.shape[axis] - 1)});\n  const v${m} = x${m}[${offsetOf(v, local)}];`;
      lines.push(line);
      start += v.shape[axis];
    });
    start = 0;
    views.forEach((v, m) => {
      start += v.shape[axis];
      lines.push(m === views.length - 1 ? `return v${m};` : `if (${i[axis]} < ${lit(start)}) {\n    return v${m};\n  }`);
    });
    return { source: kernelFn(views.length, lines.join('\n  ')), inputs: views };
  },
  alias: adjacentBlocks,
  vjp: (g, o, inputs) => {
    const axis = o.attrs.axis as number;
    let start = 0;
    return inputs.map((x) => {
      const starts = new Array<number>(g.rank).fill(0);
      const stops = g.shape.slice();
      starts[axis] = start;
      stops[axis] = start + x.shape[axis];
      start += x.shape[axis];
      return slice(g, starts, stops);
    });
  },
});

/**
 * A concat whose parts are consecutive C-order blocks of one storage (axis 0, or only size-1 dims before
 * the axis) is that storage: a view, no copy. The gradients of q, k and v that one fused attention
 * backward writes side by side, joined back into the [3, …] layout of their joint projection, are such parts.
 */
function adjacentBlocks(n: Tensor, views: readonly View[]): View | undefined {
  const axis = n.attrs.axis as number;
  if (n.shape.slice(0, axis).some((d) => d !== 1)) return undefined;
  const first = views[0];
  let next = first.offset;
  for (const v of views) {
    if (v.storage !== first.storage || v.offset !== next) return undefined;
    const want = contiguousStrides(v.shape);
    if (v.shape.some((d, k) => d !== 1 && v.strides[k] !== want[k])) return undefined;
    next += sizeOf(v.shape);
  }
  return { storage: first.storage, shape: n.shape, strides: contiguousStrides(n.shape), offset: first.offset };
}

/**
 * Join tensors along an existing axis; all other dims must match.
 * @example `concat([zeros([2, 1]), ones([2, 3])], 1).shape` → [2, 4]
 */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new TensorError('concat', 'needs at least one tensor');
  const rank = xs[0].rank;
  const ax = normalizeAxis('concat', axis, xs[0].shape);
  for (const x of xs) {
    if (x.rank !== rank || x.shape.some((d, k) => k !== ax && d !== xs[0].shape[k])) {
      throw new TensorError('concat', `shapes ${xs.map((t) => fmtShape(t.shape)).join(', ')} differ outside axis ${ax}`);
    }
    if (x.dtype !== xs[0].dtype) throw new TensorError('concat', `dtypes differ: ${xs.map((t) => t.dtype).join(', ')}`);
  }
  const parts = xs.filter((x) => x.shape[ax] > 0);
  const shape = xs[0].shape.slice();
  shape[ax] = xs.reduce((s, x) => s + x.shape[ax], 0);
  if (parts.length === 1) return parts[0];
  if (parts.length === 0) return reshape(xs[0], shape);
  return node('concat', shape, xs[0].dtype, parts, { axis: ax });
}

/** Insert a size-1 axis. @example `expandDims(zeros([3]), 0).shape` → [1, 3] */
export function expandDims(x: Tensor, axis: number): Tensor {
  const ax = normalizeAxis('expandDims', axis, x.rank + 1);
  return reshape(x, [...x.shape.slice(0, ax), 1, ...x.shape.slice(ax)]);
}

/** Remove size-1 axes (all of them when `axes` is omitted). @example `squeeze(zeros([1, 3, 1])).shape` → [3] */
export function squeeze(x: Tensor, axes?: number | readonly number[]): Tensor {
  const list = axes === undefined ? x.shape.flatMap((d, k) => (d === 1 ? [k] : [])) : (typeof axes === 'number' ? [axes] : axes).map((a) => normalizeAxis('squeeze', a, x.shape));
  for (const a of list) if (x.shape[a] !== 1) throw new TensorError('squeeze', `axis ${a} of ${fmtShape(x.shape)} has size ${x.shape[a]}, not 1`);
  return reshape(x, x.shape.filter((_, k) => !list.includes(k)));
}
