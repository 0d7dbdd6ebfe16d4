/** Reductions over any set of axes (sum, max, argmax), with keepdims. */
import type { DType } from '../dtype.js';
import { TensorError, fmtShape } from '../errors.js';
import { normalizeAxes, shapesEqual, sizeOf, type Shape } from '../shape.js';
import type { View } from '../backend.js';
import type { Tensor } from '../tensor.js';
import { decompose, kernelFn, lit, names, type GpuKernel } from '../kernels/codegen.js';
import { definePrimitive, node } from './registry.js';
import { broadcastTo, pad, permute, reshape } from './movement.js';
import { arange } from '../creation.js';
import { add, div, equal, mul, where } from './binary.js';

export type Axes = number | readonly number[];

interface ReduceCode {
  /** accumulators, set before the loops (may read `x0[base]`, the first element) */
  init: string;
  /** fold the element `v` into the accumulators */
  step: string;
  result: string;
  /**
   * Optional two-level form for long innermost loops: partial accumulators per block of BLOCK
   * elements, folded into the totals after each block. Bounds rounding error where a compiler
   * reassociates (GLSL may drop Kahan's compensation).
   */
  block?: { init: string; step: string; finish: string };
}

const BLOCK = 1024;

/**
 * Source of a reduction: the output index picks the kept coordinates, nested loops walk the reduced
 * ones (the innermost split into blocks when long and `code.block` is given).
 */
function reduceKernel(x: View, axes: readonly number[], code: ReduceCode): GpuKernel {
  const kept = x.shape.map((_, k) => k).filter((k) => !axes.includes(k));
  const o = names('o', kept.length);
  const base = [x.offset ? lit(x.offset) : '0.0', ...kept.map((k, j) => (x.strides[k] && x.shape[k] !== 1 ? `${o[j]} * ${lit(x.strides[k])}` : ''))].filter(Boolean).join(' + ');
  const inner = axes.map((k, j) => (x.strides[k] ? ` + r${j} * ${lit(x.strides[k])}` : '')).join('');
  const last = axes.length - 1;
  const len = last >= 0 ? x.shape[axes[last]] : 0;
  const blocked = code.block && len > BLOCK;
  const loops = axes.map((k, j) => (j === last && blocked ? '' : `for (let r${j} = 0; r${j} < ${x.shape[k]}; r${j}++) {`));
  const read = `const v = x0[base${inner}];`;
  const innermost = blocked
    ? [
        `for (let blk = 0; blk < ${Math.ceil(len / BLOCK)}; blk++) {`,
        code.block!.init,
        `for (let t = 0; t < ${BLOCK}; t++) {`,
        `const r${last} = Math.min(blk * ${lit(BLOCK)} + t, ${lit(len - 1)});`,
        `const v = blk * ${lit(BLOCK)} + t < ${lit(len)} ? x0[base${inner}] : 0.0;`,
        code.block!.step,
        '}',
        code.block!.finish,
        '}',
      ]
    : [read, code.step];
  const body = [
    decompose(kept.map((k) => x.shape[k]), 'o'),
    `const base = ${base};`,
    code.init,
    ...loops,
    ...innermost,
    ...axes.map((_, j) => (j === last && blocked ? '' : '}')),
    `return ${code.result};`,
  ];
  return { source: kernelFn(1, body.filter(Boolean).join('\n  ')), inputs: [x] };
}

const reducedShape = (shape: Shape, axes: readonly number[], keepdims: boolean): number[] =>
  keepdims ? shape.map((d, k) => (axes.includes(k) ? 1 : d)) : shape.filter((_, k) => !axes.includes(k));

const axesOf = (n: Tensor): number[] => n.attrs.axes as number[];

definePrimitive({
  name: 'sum',
  // Kahan-compensated: summing 1e6 float32 values stays within float32 rounding of the true sum.
  gpujs: (n, [x]) =>
    reduceKernel(x, axesOf(n), {
      init: 'let s = 0.0;\n  let c = 0.0;',
      step: 'const y = v - c;\n  const t = s + y;\n  c = (t - s) - y;\n  s = t;',
      result: 's',
      block: {
        init: 'let ps = 0.0;\n  let pc = 0.0;',
        step: 'const py = v - pc;\n  const pt = ps + py;\n  pc = (pt - ps) - py;\n  ps = pt;',
        finish: 'const y = ps - c;\n  const u = s + y;\n  c = (u - s) - y;\n  s = u;',
      },
    }),
  vjp: (g, _o, [x]) => [broadcastTo(reshape(g, reducedShape(x.shape, axesOf(_o), true)), x.shape)],
});

definePrimitive({
  name: 'max',
  gpujs: (n, [x]) => reduceKernel(x, axesOf(n), { init: 'let m = x0[base];', step: 'if (v > m) {\n  m = v;\n  }', result: 'm' }),
  // Ties share the gradient equally.
  vjp: (g, out, [x]) => {
    const keep = reducedShape(x.shape, axesOf(out), true);
    const hit = equal(x, broadcastTo(reshape(out, keep), x.shape));
    const count = sum(hit, axesOf(out), true);
    return [mul(broadcastTo(reshape(div(reshape(g, keep), count), keep), x.shape), hit)];
  },
});

definePrimitive({
  name: 'argmax',
  gpujs: (n, [x]) =>
    reduceKernel(x, axesOf(n), {
      init: 'let m = x0[base];\n  let best = 0.0;\n  let j = 0.0;',
      step: 'if (v > m) {\n  m = v;\n  best = j;\n  }\n  j = j + 1.0;',
      result: 'best',
    }),
  nonDifferentiable: 'argmax returns integer indices',
});

/**
 * Reductions longer than this are split into two levels at graph build time: GL drivers cap a
 * kernel's loop iterations (65,536 on Mesa), and two levels also bound float32 rounding error.
 */
const MAX_REDUCTION = 65536;
const CHUNK = 4096;
/** Shorter chunks than this make the second level long; padding to CHUNK is then the better split. */
const MIN_CHUNK = 1024;

function reduction(op: string, x: Tensor, axes: Axes | undefined, keepdims: boolean, dtype: DType): Tensor {
  const ax = normalizeAxes(op, axes, x.shape);
  if (op !== 'sum' && ax.some((k) => x.shape[k] === 0)) {
    throw new TensorError(op, `cannot reduce over an empty axis of a tensor of shape ${fmtShape(x.shape)}`);
  }
  if (sizeOf(ax.map((k) => x.shape[k])) > MAX_REDUCTION) return twoLevel(op, x, ax, keepdims);
  return node(op, reducedShape(x.shape, ax, keepdims), dtype, [x], { axes: ax, keepdims });
}

/**
 * The chunk length of a two-level reduction of `total` elements: a divisor of `total` when one fits both levels
 * (then the split is a free reshape; e.g. a 151,646-way vocabulary is 11 × 13,786), else CHUNK with padding
 * (a copy of the whole input).
 */
export function chunkOf(total: number): number {
  let chunk = chunks.get(total);
  if (chunk === undefined) {
    chunk = CHUNK;
    for (let c = Math.min(MAX_REDUCTION, total); c >= MIN_CHUNK; c--) {
      if (total % c === 0) {
        if (total / c <= MAX_REDUCTION) chunk = c;
        break;
      }
    }
    chunks.set(total, chunk);
  }
  return chunk;
}
const chunks = new Map<number, number>();

/** The same reduction as [kept…, blocks, chunk] → reduce the chunk, then the blocks. */
function twoLevel(op: string, x: Tensor, ax: number[], keepdims: boolean): Tensor {
  const kept = x.shape.map((_, k) => k).filter((k) => !ax.includes(k));
  const keptShape = kept.map((k) => x.shape[k]);
  const total = sizeOf(ax.map((k) => x.shape[k]));
  const chunk = chunkOf(total);
  const blocks = Math.ceil(total / chunk);
  const flat = reshape(permute(x, [...kept, ...ax]), [...keptShape, total]); // [..., R]
  const fill = op === 'sum' ? 0 : -Infinity;
  const padded = blocks * chunk === total ? flat : pad(flat, [...keptShape.map((): [number, number] => [0, 0]), [0, blocks * chunk - total]], fill);
  const tiles = reshape(padded, [...keptShape, blocks, chunk]); // [..., nb, chunk]
  let out: Tensor;
  if (op === 'sum') out = sum(sum(tiles, -1), -1);
  else if (op === 'max') out = max(max(tiles, -1), -1);
  else {
    const best = argmax(max(tiles, -1), -1); // [...]: winning block (first on ties)
    const within = argmax(tiles, -1); // [..., nb]
    const pick = equal(arange(blocks), reshape(best, [...keptShape, 1]));
    out = add(mul(best, chunk), sum(where(pick, within, 0), -1));
  }
  return keepdims ? reshape(out, reducedShape(x.shape, ax, true)) : out;
}

const numeric = (d: DType): DType => (d === 'float32' ? 'float32' : 'int32');

/**
 * Sum over `axes` (all when omitted); negative axes count from the end.
 * @example `sum(tensor([[1, 2], [3, 4]]), 1)` → [3, 7]
 */
export const sum = (x: Tensor, axes?: Axes, keepdims = false): Tensor => reduction('sum', x, axes, keepdims, numeric(x.dtype));

/** Maximum over `axes` (all when omitted). @example `max(tensor([1, 5, 2]))` → 5 */
export const max = (x: Tensor, axes?: Axes, keepdims = false): Tensor => reduction('max', x, axes, keepdims, x.dtype);

/**
 * Index of the maximum (first on ties) over `axes`, counted in C order over the reduced axes when
 * several are given; over the flattened tensor when omitted. int32.
 * @example `argmax(tensor([[1, 9], [7, 3]]), -1)` → [1, 0]
 */
export const argmax = (x: Tensor, axes?: Axes, keepdims = false): Tensor => reduction('argmax', x, axes, keepdims, 'int32');

/** Sum a broadcast cotangent back to `shape` (undoes NumPy broadcasting). */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let k = 0; k < g.rank; k++) if (k < lead || (shape[k - lead] === 1 && g.shape[k] !== 1)) axes.push(k);
  const s = axes.length ? sum(g, axes) : g;
  return sizeOf(s.shape) === sizeOf(shape) && !shapesEqual(s.shape, shape) ? reshape(s, shape) : s;
}
