/**
 * Gradient rules of the basic primitives that call builders of a primitive file which itself builds on
 * theirs: the binary ops and broadcastTo sum cotangents back over broadcast axes with `sumToShape`, while
 * reduce.ts builds its long reductions from movement and binary ops. Attached here, after all four files
 * have loaded, the files import each other in one direction only (binary ← unary, movement ← reduce ←
 * binary); the rest of each primitive (builder, shape rule, kernel, and any rule that needs no later
 * file) stays in its own file. Loaded for its side effect by the package entry (index.ts), before any
 * gradient can be taken.
 */
import type { Tensor } from '../tensor.js';
import { div, greater, greaterEqual, lessEqual, mul, pow, sub, where } from './binary.js';
import { sumToShape } from './reduce.js';
import { setVjp } from './registry.js';
import { log, neg } from './unary.js';

/** Reduce a cotangent to an input's shape (undo broadcasting) and drop it for non-float inputs. */
const toInput = (g: Tensor, x: Tensor): Tensor | null => (x.dtype === 'float32' ? sumToShape(g, x.shape) : null);
/**
 * −(the cotangent summed to x's shape): negating after the sum is exact (round-to-nearest is symmetric), and
 * for a broadcast x (LayerNorm's mean, a bias) it negates the small sum instead of materialising −g.
 */
const negToInput = (g: Tensor, x: Tensor): Tensor | null => (x.dtype === 'float32' ? neg(sumToShape(g, x.shape)) : null);

setVjp('add', (g, _o, [a, b]) => [toInput(g, a), toInput(g, b)]);
setVjp('sub', (g, _o, [a, b]) => [toInput(g, a), negToInput(g, b)]);
setVjp('mul', (g, _o, [a, b]) => [toInput(mul(g, b), a), toInput(mul(g, a), b)]);
setVjp('div', (g, out, [a, b]) => [toInput(div(g, b), a), negToInput(div(mul(g, out), b), b)]);
// The gradient with respect to the exponent is 0 where the base is ≤ 0 (log undefined there).
setVjp('pow', (g, out, [a, b]) => [
  toInput(mul(g, mul(b, pow(a, sub(b, 1)))), a),
  toInput(mul(g, where(greater(a, 0), mul(out, log(where(greater(a, 0), a, 1))), 0)), b),
]);
// At ties the gradient goes to the first operand.
setVjp('maximum', (g, _o, [a, b]) => {
  const pickA = greaterEqual(a, b);
  return [toInput(where(pickA, g, 0), a), toInput(where(pickA, 0, g), b)];
});
setVjp('minimum', (g, _o, [a, b]) => {
  const pickA = lessEqual(a, b);
  return [toInput(where(pickA, g, 0), a), toInput(where(pickA, 0, g), b)];
});
setVjp('where', (g, _o, [c, a, b]) => [null, toInput(where(c, g, 0), a), toInput(where(c, 0, g), b)]);

setVjp('broadcastTo', (g, _o, [x]) => [sumToShape(g, x.shape)]);
