/**
 * Fused softmax cross-entropy over the rows of `[N, C]` logits, as two primitives with their own
 * gradient rules (the pattern of attention.ts):
 *
 * - `softmaxCrossEntropy(logits, labels)` → `[N]`: per row `logsumexp(row) − row[label]`, and 0 where the
 *   label is `ignoreIndex` or outside `[0, C)` (such rows have no gradient either).
 * - `softmaxCrossEntropyGrad(logits, labels, fwd, g)` → `[N, C]`: `g[n]·(softmax(row) − onehot(label))`,
 *   zero rows where the label is ignored or out of range. `fwd` is the forward's output: a row's
 *   logsumexp is `fwd[n] + row[label]`, so the kernel needs one pass per element instead of three.
 *
 * Each has one gpu.js kernel (any backend); the CPU backends run fast/cross-entropy.ts (WebAssembly SIMD
 * on webasm / threads, JavaScript on cpu; sums folded in float64). The rule of `softmaxCrossEntropyGrad`
 * (second-order gradients) is written in primitives from the softmax (exact, not fused).
 */
import { TensorError, fmtShape } from '../errors.js';
import type { View } from '../backend.js';
import type { Tensor } from '../tensor.js';
import { decompose, kernelFn, lit, offsetOf, type GpuKernel } from '../kernels/codegen.js';
import { definePrimitive, node } from './registry.js';
import { abs, exp, log, stopGradient } from './unary.js';
import { add, cast, equal, greaterEqual, less, mul, notEqual, sub, where, div } from './binary.js';
import { max, sum } from './reduce.js';
import { reshape } from './movement.js';
import { arange } from '../creation.js';

export interface CrossEntropyAttrs {
  /** label value whose rows are ignored (loss and gradient 0) */
  readonly ignoreIndex: number;
  readonly [k: string]: unknown;
}

/** Is `label` a class index of a row that counts (not `ignoreIndex`, inside `[0, C)`)? Labels are exact integers. */
export const countsLabel = (label: number, C: number, ignoreIndex: number): boolean => label !== ignoreIndex && label >= 0 && label < C;

// ---------------------------------------------------------------------------------------------------
// gpu.js kernels

/** `return 0.0` unless the float `lab` is a counted class index (labels are exact floats in kernels). */
const skipUncounted = (lab: string, C: number, ignoreIndex: number): string[] => [
  `if (Math.abs(${lab} - ${lit(ignoreIndex)}) < 0.5) {\n    return 0.0;\n  }`,
  `if (${lab} < -0.5) {\n    return 0.0;\n  }`,
  `if (${lab} > ${lit(C - 0.5)}) {\n    return 0.0;\n  }`,
];

function forwardKernel(n: Tensor, [x, labels]: readonly View[]): GpuKernel {
  const { ignoreIndex } = n.attrs as CrossEntropyAttrs;
  const C = x.shape[1];
  const at = (j: string) => `x0[${offsetOf(x, ['i0', j])}]`;
  const body = [
    decompose(n.shape),
    `const lab = x1[${offsetOf(labels, ['i0'])}];`,
    ...skipUncounted('lab', C, ignoreIndex),
    `let m = ${lit(-Infinity)};`,
    `for (let j = 0; j < ${C}; j++) {`,
    `  const v = ${at('j')};`,
    '  if (v > m) {\n      m = v;\n    }',
    '}',
    'let s = 0.0;',
    `for (let j2 = 0; j2 < ${C}; j2++) {`,
    `  s = s + Math.exp(${at('j2')} - m);`,
    '}',
    `return (m - ${at('lab')}) + Math.log(s);`,
  ];
  return { source: kernelFn(2, body.join('\n  ')), inputs: [x, labels] };
}

function gradKernel(n: Tensor, [x, labels, fwd, g]: readonly View[]): GpuKernel {
  const { ignoreIndex } = n.attrs as CrossEntropyAttrs;
  const C = x.shape[1];
  const body = [
    decompose(n.shape),
    `const lab = x1[${offsetOf(labels, ['i0'])}];`,
    ...skipUncounted('lab', C, ignoreIndex),
    // p = exp(x − logsumexp) with logsumexp = fwd + x[label]; x − x[label] first (exact for close values)
    `const p = Math.exp((x0[${offsetOf(x, ['i0', 'i1'])}] - x0[${offsetOf(x, ['i0', 'lab'])}]) - x2[${offsetOf(fwd, ['i0'])}]);`,
    `const gn = x3[${offsetOf(g, ['i0'])}];`,
    'if (Math.abs(i1 - lab) < 0.5) {\n    return gn * (p - 1.0);\n  }',
    'return gn * p;',
  ];
  return { source: kernelFn(4, body.join('\n  ')), inputs: [x, labels, fwd, g] };
}

// ---------------------------------------------------------------------------------------------------
// gradients

/** bool `[N, 1]`: the rows whose label counts. */
function countedRows(labels: Tensor, C: number, ignoreIndex: number): Tensor {
  const l = reshape(labels, [labels.size, 1]);
  const inRange = mul(cast(greaterEqual(l, 0), 'float32'), cast(less(l, C), 'float32'));
  return notEqual(mul(inRange, cast(notEqual(l, ignoreIndex), 'float32')), 0);
}

/** bool `[N, C]`: true at each row's label. */
const oneHot = (labels: Tensor, C: number): Tensor => equal(reshape(arange(C), [1, C]), reshape(labels, [labels.size, 1]));

/** Softmax of each row, shifted by a gradient-free finite max. */
function softmaxRows(x: Tensor): Tensor {
  const m = stopGradient(max(x, [1], true));
  const e = exp(sub(x, where(less(abs(m), Infinity), m, 0)));
  return div(e, sum(e, [1], true));
}

definePrimitive({
  name: 'softmaxCrossEntropy',
  gpujs: forwardKernel,
  vjp: (g, out, [logits, labels]) => [node('softmaxCrossEntropyGrad', logits.shape, 'float32', [logits, labels, out, g], out.attrs), null],
});

definePrimitive({
  name: 'softmaxCrossEntropyGrad',
  gpujs: gradKernel,
  // second order: G = g·(p − onehot) on counted rows. ∂/∂g = Σ_c u·(p − onehot); ∂/∂x = g·p·(u − Σ_c p·u).
  // `fwd` is a function of the logits already accounted for through p: no cotangent of its own.
  vjp: (u, n, [x, labels, , g]) => {
    const [N, C] = x.shape;
    const { ignoreIndex } = n.attrs as CrossEntropyAttrs;
    const rows = countedRows(labels, C, ignoreIndex);
    const p = softmaxRows(x);
    const gn = reshape(g, [N, 1]);
    const dx = where(rows, mul(mul(gn, p), sub(u, sum(mul(p, u), [1], true))), 0);
    const dg = where(rows, sum(mul(u, sub(p, cast(oneHot(labels, C), 'float32'))), [1], true), 0);
    return [dx, null, null, reshape(dg, [N])];
  },
});

function checkInputs(op: string, logits: Tensor, labels: Tensor, ignoreIndex: number): void {
  if (logits.rank !== 2 || logits.dtype !== 'float32') throw new TensorError(op, `logits must be float32 [N, C], got ${logits.dtype} ${fmtShape(logits.shape)}`);
  if (labels.rank !== 1 || labels.dtype !== 'int32') throw new TensorError(op, `labels must be int32 [N], got ${labels.dtype} ${fmtShape(labels.shape)}`);
  if (labels.shape[0] !== logits.shape[0]) throw new TensorError(op, `logits ${fmtShape(logits.shape)} and labels ${fmtShape(labels.shape)} differ in N`);
  if (logits.shape[1] === 0) throw new TensorError(op, `needs at least one class, got logits ${fmtShape(logits.shape)}`);
  if (!Number.isInteger(ignoreIndex)) throw new TensorError(op, `ignoreIndex must be an integer, got ${ignoreIndex}`);
}

/**
 * Fused softmax cross-entropy: for logits `[N, C]` (float32) and int32 labels `[N]`, the per-row loss
 * `logsumexp(logits[n]) − logits[n, labels[n]]` (`[N]`, float32), in one kernel (on the CPU backends a
 * max pass and a sum-of-exp pass per row, the sum folded in float64); its gradient is one fused kernel too.
 * Rows whose label is `ignoreIndex` (default −100, PyTorch's) give 0 and no gradient; so do labels
 * outside `[0, C)` (never clamped: a bad id cannot train another class). Equal to the composite
 * `−(logSoftmax(logits)·onehot)` summed per row (tested; see {@link softmaxCrossEntropyReference}),
 * and stable for large logits (shifted by the row max).
 *
 * @example
 * ```ts
 * import { softmaxCrossEntropy, sum, tensor } from '@llm-modules/tensor';
 * const logits = tensor([[2, 0, 0], [0, 3, 0], [1, 1, 1]]);
 * const losses = softmaxCrossEntropy(logits, tensor(new Int32Array([0, 1, -100])));
 * console.log(await losses.data()); // [0.2395, 0.0949, 0]
 * const total = sum(losses); // differentiable in the logits
 * ```
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor, ignoreIndex = -100): Tensor {
  checkInputs('softmaxCrossEntropy', logits, labels, ignoreIndex);
  const attrs: CrossEntropyAttrs = { ignoreIndex };
  return node('softmaxCrossEntropy', [logits.shape[0]], 'float32', [logits, labels], attrs);
}

/**
 * The gradient of `Σ g·softmaxCrossEntropy(logits, labels)` with respect to the logits, `[N, C]`:
 * `g[n]·(softmax(logits[n]) − onehot(labels[n]))`, zero rows where the label is ignored or out of range.
 * What the forward's gradient rule builds (from the forward's output, which it reuses); exposed for
 * hand-written backward passes.
 *
 * @example
 * ```ts
 * import { softmaxCrossEntropyGrad, ones, tensor } from '@llm-modules/tensor';
 * const d = softmaxCrossEntropyGrad(tensor([[0, 0]]), tensor(new Int32Array([1])), ones([1]));
 * console.log(await d.data()); // [0.5, -0.5]
 * ```
 */
export function softmaxCrossEntropyGrad(logits: Tensor, labels: Tensor, g: Tensor, ignoreIndex = -100): Tensor {
  checkInputs('softmaxCrossEntropyGrad', logits, labels, ignoreIndex);
  if (g.dtype !== 'float32' || g.rank !== 1 || g.shape[0] !== logits.shape[0]) {
    throw new TensorError('softmaxCrossEntropyGrad', `g must be float32 [${logits.shape[0]}], got ${g.dtype} ${fmtShape(g.shape)}`);
  }
  const fwd = softmaxCrossEntropy(logits, labels, ignoreIndex);
  return node('softmaxCrossEntropyGrad', logits.shape, 'float32', [logits, labels, fwd, g], fwd.attrs);
}

/**
 * The same per-row loss as {@link softmaxCrossEntropy}, written with primitives (max, exp, sum, log, a
 * one-hot `equal` mask, `where`): the composite the fused kernels are tested against, and the unfused
 * baseline of the benchmark.
 */
export function softmaxCrossEntropyReference(logits: Tensor, labels: Tensor, ignoreIndex = -100): Tensor {
  checkInputs('softmaxCrossEntropyReference', logits, labels, ignoreIndex);
  const [N, C] = logits.shape;
  const m = stopGradient(max(logits, [1], true));
  const shift = where(less(abs(m), Infinity), m, 0);
  const lse = add(log(sum(exp(sub(logits, shift)), [1], true)), shift);
  const picked = sum(where(oneHot(labels, C), logits, 0), [1], true);
  return reshape(where(countedRows(labels, C, ignoreIndex), sub(lse, picked), 0), [N]);
}
