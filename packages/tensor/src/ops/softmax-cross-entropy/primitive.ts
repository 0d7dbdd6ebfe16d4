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
 * The op's files (docs/DESIGN.md "Fused ops"): attrs.ts (attributes, checks), gpujs.ts (the gpu.js
 * kernels, every backend's fallback), cpu.ts (the CPU backend's kernels: WebAssembly SIMD from wasm.ts
 * on webasm / threads, JavaScript on cpu; sums folded in float64), reference.ts (float64 loops). The
 * rule of `softmaxCrossEntropyGrad` (second-order gradients) is written in primitives from the softmax
 * (exact, not fused). `softmaxCrossEntropy` asks the active backend's lowering whether to build the
 * fused primitive or the composite (every built-in backend: fused).
 */
import { TensorError, fmtShape } from '../../errors.js';
import type { Tensor } from '../../tensor.js';
import { definePrimitive, node } from '../../primitives/registry.js';
import { abs, exp, log, stopGradient } from '../../primitives/unary.js';
import { add, cast, equal, greaterEqual, less, mul, notEqual, sub, where, div } from '../../primitives/binary.js';
import { max, sum } from '../../primitives/reduce.js';
import { reshape } from '../../primitives/movement.js';
import { arange } from '../../creation.js';
import { getBackend } from '../../backends/registry.js';
import { checkInputs, type CrossEntropyAttrs } from './attrs.js';
import { softmaxCrossEntropyGradKernel, softmaxCrossEntropyKernel } from './gpujs.js';

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
  gpujs: softmaxCrossEntropyKernel,
  vjp: (g, out, [logits, labels]) => [node('softmaxCrossEntropyGrad', logits.shape, 'float32', [logits, labels, out, g], out.attrs), null],
});

definePrimitive({
  name: 'softmaxCrossEntropyGrad',
  gpujs: softmaxCrossEntropyGradKernel,
  // a row's gradient is written after its logits are read (cpu.ts, wasm.ts): the dead logits can hold it
  inPlace: 0,
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
  if (getBackend().lowering?.('softmaxCrossEntropy') === 'composite') return composite(logits, labels, ignoreIndex);
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
  return composite(logits, labels, ignoreIndex);
}

/** The per-row loss of max, exp, sum, log, a one-hot mask and where (the lowering of backends without a fused kernel). */
function composite(logits: Tensor, labels: Tensor, ignoreIndex: number): Tensor {
  const [N, C] = logits.shape;
  const m = stopGradient(max(logits, [1], true));
  const shift = where(less(abs(m), Infinity), m, 0);
  const lse = add(log(sum(exp(sub(logits, shift)), [1], true)), shift);
  const picked = sum(where(oneHot(labels, C), logits, 0), [1], true);
  return reshape(where(countedRows(labels, C, ignoreIndex), sub(lse, picked), 0), [N]);
}
