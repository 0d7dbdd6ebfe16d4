/** Unary elementwise primitives: forward (gpu.js expression), dtype rule and gradient, side by side. */
import type { DType } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { definePrimitive, node, type VjpRule } from './registry.js';
import { elementwiseKernel } from './elementwise-kernel.js';
import { div, mul, sub, greater, less } from './binary.js';

interface UnarySpec {
  /** statements ending in `return …;`, given the input value's name */
  body: (a: string) => string;
  /** result dtype from the input dtype; default: float32 */
  dtype?: (d: DType) => DType;
  vjp?: VjpRule;
  nonDifferentiable?: string;
}

const keepNumeric = (d: DType): DType => (d === 'bool' ? 'int32' : d);

function defineUnary(name: string, spec: UnarySpec): (x: Tensor) => Tensor {
  definePrimitive({
    name,
    gpujs: (n, [x]) => elementwiseKernel(n.shape, [x], ([a]) => spec.body(a)),
    elementwise: () => ([a]) => spec.body(a),
    vjp: spec.vjp,
    nonDifferentiable: spec.nonDifferentiable,
  });
  return (x: Tensor) => node(name, x.shape, (spec.dtype ?? (() => 'float32'))(x.dtype), [x]);
}

const sign = (x: Tensor): Tensor => sub(greater(x, 0), less(x, 0));

/** -x. @example `neg(tensor([1, -2]))` → [-1, 2] */
export const neg = defineUnary('neg', { body: (a) => `return -${a};`, dtype: keepNumeric, vjp: (g) => [neg(g)] });
/** e^x. @example `exp(tensor([0, 1]))` → [1, 2.718…] */
export const exp = defineUnary('exp', { body: (a) => `return Math.exp(${a});`, vjp: (g, out) => [mul(g, out)] });
/** Natural log (−Inf at 0, NaN below). */
export const log = defineUnary('log', { body: (a) => `return Math.log(${a});`, vjp: (g, _o, [x]) => [div(g, x)] });
/** Square root. */
export const sqrt = defineUnary('sqrt', { body: (a) => `return Math.sqrt(${a});`, vjp: (g, out) => [div(g, mul(out, 2))] });
/** 1/√x. */
export const rsqrt = defineUnary('rsqrt', {
  body: (a) => `return 1.0 / Math.sqrt(${a});`,
  vjp: (g, out) => [mul(g, mul(mul(out, mul(out, out)), -0.5))],
});
/** Hyperbolic tangent. */
// Beyond |x| = 10 tanh is ±1 in float32; GLSL's tanh overflows to NaN there, so that range is written out.
export const tanh = defineUnary('tanh', {
  body: (a) => `if (Math.abs(${a}) > 10.0) {\n    return ${a} > 0.0 ? 1.0 : -1.0;\n  }\n  return Math.tanh(${a});`,
  vjp: (g, out) => [mul(g, sub(1, mul(out, out)))],
});
/** Logistic sigmoid 1/(1+e^−x), written so neither tail overflows. */
export const sigmoid = defineUnary('sigmoid', {
  body: (a) => `const e = Math.exp(-Math.abs(${a}));\n  const p = 1.0 / (1.0 + e);\n  return ${a} >= 0.0 ? p : e * p;`,
  vjp: (g, out) => [mul(g, mul(out, sub(1, out)))],
});
/**
 * Error function. Rational approximation on [−4, 4] (erf is ±1 to float32 precision beyond), a few ulp
 * in float32; the conformance suite checks it against a float64 series.
 */
export const erf = defineUnary('erf', {
  body: (a) =>
    [
      `const x = Math.min(Math.max(${a}, -4.0), 4.0);`,
      'const x2 = x * x;',
      'let p = -2.72614225801306e-10;',
      'p = p * x2 + 2.77068142495902e-08;',
      'p = p * x2 + -2.10102402082508e-06;',
      'p = p * x2 + -5.69250639462346e-05;',
      'p = p * x2 + -7.34990630326855e-04;',
      'p = p * x2 + -2.95459980854025e-03;',
      'p = p * x2 + -1.60960333262415e-02;',
      'let q = -1.45660718464996e-05;',
      'q = q * x2 + -2.13374055278905e-04;',
      'q = q * x2 + -1.68282697438203e-03;',
      'q = q * x2 + -7.37332916720468e-03;',
      'q = q * x2 + -1.42647390514189e-02;',
      'return x * p / q;',
    ].join('\n  '),
  vjp: (g, _o, [x]) => [mul(g, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI)))],
});
/** |x|; its gradient at 0 is 0. */
export const abs = defineUnary('abs', { body: (a) => `return Math.abs(${a});`, dtype: keepNumeric, vjp: (g, _o, [x]) => [mul(g, sign(x))] });
/** Sine. */
export const sin = defineUnary('sin', { body: (a) => `return Math.sin(${a});`, vjp: (g, _o, [x]) => [mul(g, cos(x))] });
/** Cosine. */
export const cos = defineUnary('cos', { body: (a) => `return Math.cos(${a});`, vjp: (g, _o, [x]) => [neg(mul(g, sin(x)))] });
/** 1/x. */
export const reciprocal = defineUnary('reciprocal', { body: (a) => `return 1.0 / ${a};`, vjp: (g, out) => [neg(mul(g, mul(out, out)))] });

/**
 * Identity whose gradient is zero: values flow forward, gradients stop here.
 * @example `stopGradient(tensor([1, 2]))` → [1, 2] (and a zero gradient)
 */
export const stopGradient = defineUnary('stopGradient', {
  body: (a) => `return ${a};`,
  dtype: (d) => d,
  nonDifferentiable: 'stops gradients by definition',
});

/** @internal copy into a fresh contiguous storage (used when a view must be materialised). */
export const copy = defineUnary('copy', { body: (a) => `return ${a};`, dtype: (d) => d, vjp: (g) => [g] });

export { sign };
