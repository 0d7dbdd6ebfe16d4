/**
 * The wasm softmax cross-entropy over logits outside wasm memory, a block of rows at a time: each call
 * copies its rows into scratch (and writes its block of the gradient there), so the scratch is a few tens
 * of MB instead of two copies of a paper-scale head's [512, 151,646] logits (the WebAssembly memory grows
 * to the largest op's scratch and never shrinks). Rows are independent: the same results as one call.
 */
import type { View } from '../../backend.js';
import type { FastContext } from '../../backends/cpu/context.js';
import type { Runtime } from '../../backends/cpu/runtime.js';
import { outputBuffer, recycle, scratchChunk, wasmAddress } from '../../backends/cpu/buffers.js';
import { backwardWasm, forwardWasm } from './wasm.js';

type Counts = (n: number) => boolean;
type Label = (n: number) => number;

/** Rows per call: all of them when the logits live in wasm memory or fit the chunk. */
function rowsPerCall(x: View, copies: number): number {
  const [N, C] = x.shape;
  if (x.storage.data && wasmAddress(x.storage.data) !== undefined) return N;
  return Math.max(1, Math.floor(scratchChunk.bytes / (4 * copies * Math.max(1, C))));
}

/** Rows [r0, r0 + n) of a view (its first dimension). */
const rowsOf = (v: View, r0: number, n: number): View => ({ ...v, shape: [n, ...v.shape.slice(1)], offset: v.offset + r0 * v.strides[0] });

/** forwardWasm over blocks of rows. */
export function forwardChunks(ctx: FastContext, rt: Runtime, counts: Counts, label: Label, x: View): Float32Array | undefined {
  const N = x.shape[0];
  const per = rowsPerCall(x, 1);
  if (per >= N) return forwardWasm(ctx, rt, counts, label, x);
  const out = outputBuffer(N);
  for (let r0 = 0; r0 < N; r0 += per) {
    const n = Math.min(per, N - r0);
    const part = forwardWasm(ctx, rt, (i) => counts(r0 + i), (i) => label(r0 + i), rowsOf(x, r0, n));
    if (!part) return recycle(out), undefined;
    out.set(part, r0);
    recycle(part);
  }
  return out;
}

/** backwardWasm over blocks of rows, each writing its block of the gradient. */
export function backwardChunks(ctx: FastContext, rt: Runtime, counts: Counts, label: Label, x: View, fwd: View, g: View, into?: Float32Array): Float32Array | undefined {
  const [N, C] = x.shape;
  const per = rowsPerCall(x, 2);
  if (per >= N) return backwardWasm(ctx, rt, counts, label, x, fwd, g, into);
  // `into` may be the logits' own array: each block's rows are copied into scratch before its gradient is written
  const out = into ?? outputBuffer(N * C);
  for (let r0 = 0; r0 < N; r0 += per) {
    const n = Math.min(per, N - r0);
    const part = backwardWasm(ctx, rt, (i) => counts(r0 + i), (i) => label(r0 + i), rowsOf(x, r0, n), rowsOf(fwd, r0, n), rowsOf(g, r0, n), out.subarray(r0 * C, (r0 + n) * C));
    if (!part) return out !== into && recycle(out), undefined;
  }
  return out;
}
