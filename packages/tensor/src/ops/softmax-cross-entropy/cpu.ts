/**
 * Fast paths of the fused softmax cross-entropy primitives on the CPU backends. On webasm / threads the
 * WebAssembly SIMD kernels of cross-entropy-wasm.ts run (rows split over the threads); on `cpu`, for
 * logits whose rows are not contiguous, or when wasm memory runs out, the JavaScript loops here, each
 * row folded in float64 with `e^d` from a table of `e^(k·ln2/32)` and a cubic in the remainder
 * (≤ 6e-10 relative, ~4× cheaper than `Math.exp`): `d` below −128 gives exactly 0 (30 orders of
 * magnitude below float32's smallest subnormal); NaN stays NaN. The gradient assumes `fwd` is the
 * forward's output for these logits (so d ≤ 0 up to rounding).
 *
 * - forward: one pass per row shifted by its first value, accumulating the sum of exps and the max
 *   together; a second pass, shifted by the max, only when the max exceeds the first value by more than
 *   128 or the first value is not finite. Same results as the gpu.js kernel (max-shifted) up to rounding.
 * - gradient: one pass per row, `g·e^(x − lse)` with `lse = x[label] + fwd`, then `−g` at the label.
 */
import type { View } from '../../backend.js';
import type { Tensor } from '../../tensor.js';
import { countsLabel, type CrossEntropyAttrs } from './attrs.js';
import { tryWasm, type FastContext } from '../../backends/cpu/context.js';
import { outputBuffer } from '../../backends/cpu/buffers.js';
import { dense } from '../../backends/cpu/strided.js';
import { backwardChunks, forwardChunks } from './chunks.js';

/**
 * `TABLE[ZERO + k] = e^(k·ln2/32)` for |k| ≤ ZERO (|k·ln2/32| ≤ 128.06); entry 0 is 0 (e^d for d below −128).
 * expd writes its constants as literals: a bundler turns module constants into mutable `var`s, which the
 * engine reloads in every iteration (2–3× slower).
 */
const ZERO = 5912;
const TABLE = Float64Array.from({ length: 2 * ZERO + 1 }, (_, i) => (i === 0 ? 0 : Math.exp((i - ZERO) / 46.16624130844683)));

/**
 * e^x for x in [−128, 128] (≤ 6e-10 relative), 0 below, e^128 above (only the forward's first pass
 * meets such values, and redoes the row); NaN stays NaN. With u = 32x/ln2 = k + f (k the nearest
 * integer): e^x = TABLE[ZERO + k]·e^(f·ln2/32), the second factor a cubic in f. Clamps, not branches.
 * `table` is TABLE (a parameter, so the caller's loop keeps it in a register).
 */
function expd(x: number, table: Float64Array): number {
  const d = x < -128.05894160844989 ? -128.05894160844989 : x > 128.05894160844989 ? 128.05894160844989 : x; // ±ZERO·ln2/32
  const u = d * 46.16624130844683; // 32/ln2
  const k = u + 6755399441055744 - 6755399441055744; // 1.5·2^52: rounds u to an integer
  const f = u - k;
  // c = ln2/32: 1 + f·(c + f·(c²/2 + f·c³/6))
  return table[(k | 0) + 5912] * (1 + f * (0.02166084939249829 + f * (0.00023459619820224677 + f * 0.0000016938509724371819)));
}

/** The labels of a [N] view, and whether row n counts. */
function labelsOf(labels: View, C: number, ignoreIndex: number): { label: (n: number) => number; counts: (n: number) => boolean } | undefined {
  const d = labels.storage.data;
  if (!d) return undefined;
  const label = (n: number): number => d[labels.offset + n * labels.strides[0]];
  return { label, counts: (n) => countsLabel(label(n), C, ignoreIndex) };
}

export function softmaxCrossEntropyFast(ctx: FastContext, node: Tensor, [x, labels]: readonly View[]): Float32Array | undefined {
  const [N, C] = x.shape;
  const ls = labelsOf(labels, C, (node.attrs as CrossEntropyAttrs).ignoreIndex);
  if (!ls) return undefined;
  const viaWasm = tryWasm(ctx, (rt) => forwardChunks(ctx, rt, ls.counts, ls.label, x));
  if (viaWasm) return viaWasm;
  const xs = dense(x);
  if (!xs) return undefined;
  const out = outputBuffer(N);
  const table = TABLE;
  for (let n = 0; n < N; n++) {
    if (!ls.counts(n)) {
      out[n] = 0;
      continue;
    }
    const b = n * C;
    const e = b + C;
    let shift = xs[b];
    let m = -Infinity;
    let s = 0;
    if (shift - shift === 0) {
      // one pass, shifted by the first value (finite)
      for (let i = b; i < e; i++) {
        const v = xs[i];
        m = v > m ? v : m;
        s += expd(v - shift, table);
      }
    }
    if (!(m - shift <= 128)) {
      // the first value is not finite, or far below the max: shift by the max
      m = -Infinity;
      for (let i = b; i < e; i++) m = xs[i] > m ? xs[i] : m;
      shift = m;
      s = 0;
      for (let i = b; i < e; i++) s += expd(xs[i] - shift, table);
    }
    out[n] = shift - xs[b + ls.label(n)] + Math.log(s);
  }
  return out;
}

export function softmaxCrossEntropyGradFast(ctx: FastContext, node: Tensor, [x, labels, fwd, g]: readonly View[], into?: Float32Array): Float32Array | undefined {
  const [N, C] = x.shape;
  const ls = labelsOf(labels, C, (node.attrs as CrossEntropyAttrs).ignoreIndex);
  if (!ls) return undefined;
  const viaWasm = tryWasm(ctx, (rt) => backwardChunks(ctx, rt, ls.counts, ls.label, x, fwd, g, into));
  if (viaWasm) return viaWasm;
  const xs = dense(x);
  const fs = dense(fwd);
  const gs = dense(g);
  if (!xs || !fs || !gs) return undefined;
  // `into` may be the logits' own array (primitive.ts inPlace): each element is read before it is written
  const out = into ?? outputBuffer(N * C);
  const table = TABLE;
  for (let n = 0; n < N; n++) {
    const b = n * C;
    const e = b + C;
    if (!ls.counts(n)) {
      out.fill(0, b, e);
      continue;
    }
    const xl = xs[b + ls.label(n)];
    const gn = gs[n];
    const lse = xl + fs[n]; // the row's logsumexp
    for (let i = b; i < e; i++) out[i] = gn * expd(xs[i] - lse, table);
    out[b + ls.label(n)] = gn * (expd(xl - lse, table) - 1);
  }
  return out;
}
