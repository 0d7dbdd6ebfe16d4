/** Reductions over any set of axes (sum, max, argmax), with keepdims. */
import type { DType } from '../dtype.js';
import { TensorError, fmtShape } from '../errors.js';
import { normalizeAxes, shapesEqual, sizeOf, type Shape } from '../shape.js';
import type { View } from '../backend.js';
import type { Tensor } from '../tensor.js';
import { decompose, kernelFn, lit, names, type GpuKernel } from '../kernels/codegen.js';
import { definePrimitive, node } from './registry.js';
import { broadcastTo, reshape } from './movement.js';
import { div, equal, mul } from './binary.js';

export type Axes = number | readonly number[];

/**
 * Source of a reduction: the output index picks the kept coordinates, nested loops walk the reduced
 * ones. `init` sets the accumulators from the first element, `step` folds `v` in, `result` is returned.
 */
function reduceKernel(x: View, axes: readonly number[], code: { init: string; step: string; result: string }): GpuKernel {
  const kept = x.shape.map((_, k) => k).filter((k) => !axes.includes(k));
  const o = names('o', kept.length);
  const base = [x.offset ? lit(x.offset) : '0.0', ...kept.map((k, j) => (x.strides[k] && x.shape[k] !== 1 ? `${o[j]} * ${lit(x.strides[k])}` : ''))].filter(Boolean).join(' + ');
  const loops = axes.map((k, j) => `for (let r${j} = 0; r${j} < ${x.shape[k]}; r${j}++) {`);
  const inner = axes.map((k, j) => (x.strides[k] ? ` + r${j} * ${lit(x.strides[k])}` : '')).join('');
  const body = [
    decompose(kept.map((k) => x.shape[k]), 'o'),
    `const base = ${base};`,
    code.init,
    ...loops,
    `const v = x0[base${inner}];`,
    code.step,
    ...axes.map(() => '}'),
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

function reduction(op: string, x: Tensor, axes: Axes | undefined, keepdims: boolean, dtype: DType): Tensor {
  const ax = normalizeAxes(op, axes, x.rank);
  if (op !== 'sum' && ax.some((k) => x.shape[k] === 0)) {
    throw new TensorError(op, `cannot reduce over an empty axis of a tensor of shape ${fmtShape(x.shape)}`);
  }
  return node(op, reducedShape(x.shape, ax, keepdims), dtype, [x], { axes: ax, keepdims });
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
