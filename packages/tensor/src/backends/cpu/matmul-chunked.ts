/**
 * A large 2-D matmul whose operands are not in wasm memory, run in chunks of the output's rows (or
 * columns) so that its scratch stays small: the WebAssembly memory grows to the largest op's scratch and
 * never shrinks, and copying a paper-scale LM head's operands whole (the [151,646, 768] weight, the
 * [512, 151,646] logits' gradient and its packed copy) took it past 1 GB. The operand the chunks share is
 * copied once; each chunk copies only its block of the other one (row or column segments) and writes its
 * block of the output. Every output element is computed by the same kernel over the same K in the same
 * order as the whole product, so the result is the same bit for bit.
 */
import type { View } from '../../backend.js';
import { ScratchExhausted, type Runtime } from './runtime.js';
import type { FastContext } from './context.js';
import { outputBuffer, recycle, scratchChunk, wasmAddress } from './buffers.js';
import { copyIn, gemmStrides, runGemm } from './matmul.js';
import { broadcastView } from '../../kernels/codegen.js';
import type { Tensor } from '../../tensor.js';


/** Floats of scratch the whole product would take: its operands outside wasm memory, A's packed copy, the output. */
function wholeScratchFloats(a: View, b: View, M: number, N: number, K: number): number {
  const outside = (v: View): boolean => !v.storage.data || wasmAddress(v.storage.data) === undefined;
  return (outside(a) ? M * K : 0) + (outside(b) ? K * N : 0) + M * K + M * N;
}

/** A block of a view copied densely into scratch (row or column segments), or read in place when it lives in wasm memory. */
function block(rt: Runtime, v: View, offset: number, rows: number, cols: number, rs: number, cs: number): { at: number; rs: number; cs: number } {
  const data = v.storage.data!;
  const home = wasmAddress(data);
  if (home !== undefined) return { at: home + 4 * offset, rs, cs };
  const at = rt.alloc(rows * cols);
  if (at < 0) throw new ScratchExhausted();
  const f = rt.f32;
  const d = at >> 2;
  if (cs === 1) {
    for (let i = 0; i < rows; i++) f.set(data.subarray(offset + i * rs, offset + i * rs + cols), d + i * cols);
    return { at, rs: cols, cs: 1 };
  }
  if (rs === 1) {
    for (let j = 0; j < cols; j++) f.set(data.subarray(offset + j * cs, offset + j * cs + rows), d + j * rows);
    return { at, rs: 1, cs: rows };
  }
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) f[d + i * cols + j] = data[offset + i * rs + j * cs];
  return { at, rs: cols, cs: 1 };
}

/**
 * A float32 matmul without batch and of more than one row whose whole product would take more than
 * `scratchChunk.bytes` of scratch, in chunks; undefined for any other (the caller runs `matmulFast`).
 */
export function matmulLarge(ctx: FastContext, node: Tensor, [a, b]: readonly View[]): Float32Array | undefined {
  const rt = ctx.rt;
  if (!rt || node.dtype !== 'float32' || a.storage.bf16 || b.storage.bf16) return undefined;
  const r = node.rank;
  const [M, N, K] = [node.shape[r - 2], node.shape[r - 1], a.shape[a.shape.length - 1]];
  const batch = node.shape.slice(0, -2);
  // (a one-row product leaves the weight to matmulFast: a weight bank reads it in place, banks.ts)
  if (K === 0 || M === 1 || !batch.every((d) => d === 1)) return undefined;
  const av = broadcastView(a, [...batch, M, K]);
  const bv = broadcastView(b, [...batch, K, N]);
  if (wholeScratchFloats(av, bv, M, N, K) <= scratchChunk.bytes) return undefined;
  return matmulChunked(ctx, rt, av, bv, M, N, K, gemmStrides(av, bv, M, N, K));
}

/**
 * C = A @ B ([M, K] @ [K, N], strides from `gemmStrides`) in chunks of A's rows or B's columns.
 * Undefined when an operand is not a host array or a stride is negative (the caller runs the whole product).
 */
function matmulChunked(ctx: FastContext, rt: Runtime, av: View, bv: View, M: number, N: number, K: number, s: { ars: number; acs: number; brs: number; bcs: number }): Float32Array | undefined {
  if (!av.storage.data || !bv.storage.data || [s.ars, s.acs, s.brs, s.bcs].some((x) => x < 0)) return undefined;
  // chunk A's rows (B shared: copied once) or B's columns (A shared, and packed again for every chunk):
  // whichever shares less (the LM head's logits: columns; its weight's gradient and dX = dY·W: rows)
  const rows = K * N <= 2 * M * K;
  const shared = rows ? bv : av;
  const len = rows ? M : N;
  // a chunk of n rows copies and packs n·K of A and writes n·N; of n columns, copies n·K of B and writes M·n
  const per = Math.max(8, Math.floor(2 * scratchChunk.bytes / 4 / (rows ? 2 * K + N : K + M)));
  rt.reset();
  const w = copyIn(rt, shared);
  if (!w) return undefined;
  const wAt = w.addr + 4 * (shared.offset - w.lo);
  const out = outputBuffer(M * N);
  try {
    for (let s0 = 0; s0 < len; s0 += per) {
      const n = Math.min(per, len - s0);
      const mark = rt.mark();
      if (rows) {
        const a = block(rt, av, av.offset + s0 * s.ars, n, K, s.ars, s.acs);
        const c = rt.alloc(n * N);
        if (c < 0) throw new ScratchExhausted();
        runGemm(ctx, rt, { a: a.at, ars: a.rs, acs: a.cs, b: wAt, brs: s.brs, bcs: s.bcs }, n, N, K, [[0, 0]], c);
        out.set(rt.f32.subarray(c >> 2, (c >> 2) + n * N), s0 * N);
      } else {
        const b = block(rt, bv, bv.offset + s0 * s.bcs, K, n, s.brs, s.bcs);
        const c = rt.alloc(M * n);
        if (c < 0) throw new ScratchExhausted();
        runGemm(ctx, rt, { a: wAt, ars: s.ars, acs: s.acs, b: b.at, brs: b.rs, bcs: b.cs }, M, n, K, [[0, 0]], c);
        const f = rt.f32;
        for (let i = 0; i < M; i++) out.set(f.subarray((c >> 2) + i * n, (c >> 2) + (i + 1) * n), i * N + s0);
      }
      rt.release(mark);
    }
  } catch (e) {
    recycle(out);
    throw e;
  }
  return out;
}
