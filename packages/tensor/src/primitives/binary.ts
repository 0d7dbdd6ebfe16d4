/**
 * Binary elementwise primitives with NumPy broadcasting, plus `where` and `cast`. Their gradient rules
 * (but cast's) sum cotangents back over broadcast axes with reduce.ts's `sumToShape`, and reduce.ts builds
 * on these ops, so those rules live in basic-rules.ts.
 */
import type { DType } from '../dtype.js';
import { isDType } from '../dtype.js';
import { TensorError } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import { Tensor } from '../tensor.js';
import { definePrimitive, node } from './registry.js';
import { elementwiseKernel } from './elementwise-kernel.js';

export type TensorOrNumber = Tensor | number;

/**
 * Numbers are weakly typed (as in JAX): an integer number takes an int32 tensor's dtype, any other
 * number is float32.
 */
export function asTensor(x: TensorOrNumber, other?: TensorOrNumber): Tensor {
  if (x instanceof Tensor) return x;
  if (typeof x !== 'number') throw new TensorError('asTensor', `expected a Tensor or a number, got ${typeof x}`);
  const otherDtype = other instanceof Tensor ? other.dtype : 'float32';
  const dtype: DType = Number.isInteger(x) && otherDtype !== 'float32' ? 'int32' : 'float32';
  return node('scalar', [], dtype, [], { value: x });
}

// A number operand stays a pending node until evaluation, so it never holds storage between evaluations.
definePrimitive({
  name: 'scalar',
  host: (n) => Float64Array.of(n.attrs.value as number), // float64 keeps reference-backend precision
  nonDifferentiable: 'a constant',
});

const arith = (a: DType, b: DType): DType => (a === 'float32' || b === 'float32' ? 'float32' : 'int32');

interface BinarySpec {
  body: (a: string, b: string) => string;
  dtype: (a: DType, b: DType) => DType;
  nonDifferentiable?: string;
}

function defineBinary(name: string, spec: BinarySpec): (a: TensorOrNumber, b: TensorOrNumber) => Tensor {
  definePrimitive({
    name,
    gpujs: (n, [a, b]) => elementwiseKernel(n.shape, [a, b], ([x, y]) => spec.body(x, y)),
    elementwise: () => ([x, y]) => spec.body(x, y),
    nonDifferentiable: spec.nonDifferentiable,
  });
  return (a, b) => {
    const ta = asTensor(a, b);
    const tb = asTensor(b, a);
    return node(name, broadcastShapes(name, ta.shape, tb.shape), spec.dtype(ta.dtype, tb.dtype), [ta, tb]);
  };
}

/** a + b. @example `add(tensor([1, 2]), 10)` → [11, 12] */
export const add = defineBinary('add', { body: (a, b) => `return ${a} + ${b};`, dtype: arith });
/** a − b (NumPy broadcasting; numbers are weakly typed). @example `sub(tensor([5, 7]), tensor([[1], [2]]))` → [[4, 6], [3, 5]] */
export const sub = defineBinary('sub', { body: (a, b) => `return ${a} - ${b};`, dtype: arith });
/** a · b, elementwise. @example `mul(tensor([1, 2, 3]), 0.5)` → [0.5, 1, 1.5] */
export const mul = defineBinary('mul', { body: (a, b) => `return ${a} * ${b};`, dtype: arith });
/** True division a / b (always float32). @example `div(tensor(new Int32Array([1, 3]), [2]), 2)` → [0.5, 1.5] */
export const div = defineBinary('div', {
  body: (a, b) => `return ${a} / ${b};`,
  dtype: () => 'float32',
});
/**
 * a^b; the gradient with respect to b is taken as 0 where a ≤ 0 (log undefined). A negative base with an
 * integer exponent is computed from |a| (GLSL's pow is undefined for a < 0).
 */
export const pow = defineBinary('pow', {
  body: (a, b) =>
    `if (${a} < 0.0 && Math.floor(${b}) === ${b}) {\n    const p = Math.pow(-${a}, ${b});\n    return Math.floor(${b} * 0.5) * 2.0 === ${b} ? p : -p;\n  }\n  return Math.pow(${a}, ${b});`,
  dtype: arith,
});
/** Elementwise maximum; at ties the gradient goes to a. */
export const maximum = defineBinary('maximum', {
  body: (a, b) => `return ${a} >= ${b} ? ${a} : ${b};`,
  dtype: arith,
});
/** Elementwise minimum; at ties the gradient goes to a. */
export const minimum = defineBinary('minimum', {
  body: (a, b) => `return ${a} <= ${b} ? ${a} : ${b};`,
  dtype: arith,
});

const comparison = (name: string, opSrc: string) =>
  defineBinary(name, {
    body: (a, b) => `return ${a} ${opSrc} ${b} ? 1.0 : 0.0;`,
    dtype: () => 'bool',
    nonDifferentiable: 'comparisons are piecewise constant',
  });
/** a == b → bool. */
export const equal = comparison('equal', '===');
/** a != b → bool. */
export const notEqual = comparison('notEqual', '!==');
/** a < b → bool. */
export const less = comparison('less', '<');
/** a <= b → bool. */
export const lessEqual = comparison('lessEqual', '<=');
/** a > b → bool. */
export const greater = comparison('greater', '>');
/** a >= b → bool. */
export const greaterEqual = comparison('greaterEqual', '>=');

const whereBody = ([c, a, b]: readonly string[]): string => `return ${c} !== 0.0 ? ${a} : ${b};`;
definePrimitive({
  name: 'where',
  gpujs: (n, views) => elementwiseKernel(n.shape, views, whereBody),
  elementwise: () => whereBody,
});

/**
 * Select elementwise: `cond ? a : b` with broadcasting of all three. `cond` is any dtype (non-zero = true).
 * @example-skip a fragment: `x` comes from the caller's code
 * @example `where(greater(x, 0), x, 0)` is ReLU
 */
export function where(cond: TensorOrNumber, a: TensorOrNumber, b: TensorOrNumber): Tensor {
  const tc = asTensor(cond);
  const ta = asTensor(a, b);
  const tb = asTensor(b, a);
  return node('where', broadcastShapes('where', tc.shape, ta.shape, tb.shape), arith(ta.dtype, tb.dtype), [tc, ta, tb]);
}

const castBody =
  (n: Tensor) =>
  ([a]: readonly string[]): string =>
    n.dtype === 'int32' ? `return ${a} < 0.0 ? Math.ceil(${a}) : Math.floor(${a});` : n.dtype === 'bool' ? `return ${a} !== 0.0 ? 1.0 : 0.0;` : `return ${a};`;
definePrimitive({
  name: 'cast',
  gpujs: (n, [x]) => elementwiseKernel(n.shape, [x], castBody(n)),
  elementwise: castBody,
  vjp: (g, out, [x]) => [x.dtype === 'float32' && out.dtype === 'float32' ? g : null],
});

/**
 * Convert to another dtype: float → int32 truncates toward zero; anything → bool is `x != 0`.
 * @example `cast(tensor([1.7, -1.7]), 'int32')` → [1, -1]
 */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (!isDType(dtype)) throw new TensorError('cast', `unknown dtype ${String(dtype)} (expected float32, int32 or bool)`);
  if (x.dtype === dtype) return x;
  return node('cast', x.shape, dtype, [x], { dtype });
}

