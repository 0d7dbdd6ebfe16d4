/**
 * Matmul with a bfloat16-resident operand (bf16.ts) on webasm / threads, decoded inside the kernel: its bits
 * are copied into scratch (half the bytes of float32) and widened there by the wasm kernels of wasm/bf16.ts.
 *
 * - A decoding step (one row of A times a weight read as `Wᵀ`, W's rows contiguous): `gemv_bf16` on the threads
 *   over W in place: in the runtime's heap when it fits there, else in a weight bank (banks.ts); without either
 *   (banks off, or no memory for one), over blocks of rows copied into scratch that stays in cache. The weight
 *   crosses main memory once per token, as bfloat16.
 * - Anything else: B (or A) decoded to float32 in blocks of columns of at most `bf16Tuning.block` elements, each block
 *   multiplied by the packed GEMM (matmul.ts `runGemm`) into its columns of the output.
 *
 * Batched products (batch items) decline: the backend then decodes the operand and runs its fallback.
 */
import type { View } from '../../backend.js';
import { broadcastView } from '../../kernels/codegen.js';
import type { Tensor } from '../../tensor.js';
import type { FastContext } from './context.js';
import { JobList, ScratchExhausted, splitRanges, type Runtime } from './runtime.js';
import { adoptBitsIntoWasm, finishOutput, kernelOutput, recycle } from './buffers.js';
import { copyIn, gemmStrides, runGemm, runInline, span } from './matmul.js';
import { bankGemv, isInBank } from './banks.js';

/**
 * Block sizes (tests lower them to cover several blocks on small shapes): `block`, elements of a bfloat16
 * operand decoded at a time in the GEMM path (32 MiB of bits, 64 MiB of floats); `gemvBytes`, bytes of weight
 * rows per block of the matrix–vector path, copied and then read from cache by the threads; `adopt`, whether
 * bits move into wasm memory (up to its storage cap) to be read in place.
 */
export const bf16Tuning = { block: 1 << 24, gemvBytes: 1 << 20, adopt: true };

const scratch = (rt: Runtime, floats: number): number => {
  const at = rt.alloc(floats);
  if (at < 0) throw new ScratchExhausted();
  return at;
};

/**
 * The byte address of storage element 0 of bits adopted into wasm memory (small weights, up to the heap cap), or
 * undefined. Bits in a weight bank stay there (a second copy in the heap would only add memory).
 */
const bitsInPlace = (v: View): number | undefined => (bf16Tuning.adopt && !isInBank(v.storage) ? adoptBitsIntoWasm(v.storage) : undefined);

/** Copy the bits a view reaches into scratch: the byte address where storage element `lo` landed, and `lo`. */
function copyBits(rt: Runtime, bits: Uint16Array, lo: number, hi: number, at?: number): number {
  const addr = at ?? scratch(rt, Math.ceil((hi - lo + 1) / 2) + 4);
  new Uint16Array(rt.f32.buffer, addr, hi - lo + 1).set(bits.subarray(lo, hi + 1));
  return addr;
}

/** Run a job list on the context's threads (inline without a pool). */
function run(ctx: FastContext, rt: Runtime, list: JobList): void {
  if (ctx.pool && ctx.threads > 1 && list.jobs.length > 1) ctx.pool.run(list);
  else runInline(rt, list);
}

/** Widen `n` bfloat16 at byte address `src` to float32 at `dst`, split over the threads. */
function decodeInto(ctx: FastContext, rt: Runtime, src: number, dst: number, n: number): void {
  const list = new JobList();
  const parts = n >= 1 << 16 && ctx.pool ? ctx.threads : 1;
  for (const [i0, i1] of splitRanges(n, parts)) if (i1 > i0) list.add('bf16_decode', rt, [src + 2 * i0, dst + 4 * i0, i1 - i0]);
  run(ctx, rt, list);
}

/** A view's values as float32 in scratch ({addr, lo} as `copyIn`): bits copied, then decoded. */
function decodeIn(ctx: FastContext, rt: Runtime, v: View): { addr: number; lo: number } {
  const [lo, hi] = span(v);
  const at = bitsInPlace(v);
  const bits = at !== undefined ? at + 2 * lo : copyBits(rt, v.storage.bf16!, lo, hi);
  const addr = scratch(rt, hi - lo + 1);
  decodeInto(ctx, rt, bits, addr, hi - lo + 1);
  return { addr, lo };
}

/** The matmul kernel when an operand is bfloat16-resident; undefined declines. */
export function matmulBF16(ctx: FastContext, node: Tensor, [a, b]: readonly View[]): Float32Array | undefined {
  const rt = ctx.rt;
  if (!rt || node.dtype !== 'float32') return undefined;
  const r = node.rank;
  const M = node.shape[r - 2];
  const N = node.shape[r - 1];
  const K = a.shape[a.shape.length - 1];
  const batch = node.shape.slice(0, -2);
  if (batch.some((d) => d !== 1)) return undefined;
  if (K === 0) return new Float32Array(node.size);
  const av = broadcastView(a, [...batch, M, K]);
  const bv = broadcastView(b, [...batch, K, N]);
  rt.reset();
  const ca = a.storage.bf16 ? decodeIn(ctx, rt, av) : copyIn(rt, av);
  if (!ca) return undefined;
  const { ars, acs, brs, bcs } = gemmStrides(av, bv, M, N, K);
  const aAddr = ca.addr + 4 * (av.offset - ca.lo);
  const o = kernelOutput(rt, node.size);
  if (!o) return undefined;
  try {
    if (!b.storage.bf16) {
      const cb = copyIn(rt, bv);
      if (!cb) throw new ScratchExhausted();
      runGemm(ctx, rt, { a: aAddr, ars, acs, b: cb.addr + 4 * (bv.offset - cb.lo), brs, bcs }, M, N, K, [[0, 0]], o.at);
    } else if (M === 1 && acs === 1 && brs === 1) {
      const at = bitsInPlace(bv);
      if (at !== undefined) gemv(ctx, rt, at + 2 * bv.offset, bcs, aAddr, o.at, N, K);
      else if (!bankGemv(ctx, rt, bv, bcs, aAddr, o.at, N, K)) gemvRows(ctx, rt, bv.storage.bf16!, bv.offset, bcs, aAddr, o.at, N, K);
    } else {
      gemmBlocks(ctx, rt, { a: aAddr, ars, acs }, bv, brs, bcs, M, N, K, o.at);
    }
  } catch (e) {
    recycle(o.out);
    throw e;
  }
  return finishOutput(rt, o);
}

/** y[n] = Σ_k x[k] · W(n, k) for n < N, W's rows of bits at byte address `w` (stride `ldw` elements), on the threads. */
function gemv(ctx: FastContext, rt: Runtime, w: number, ldw: number, x: number, y: number, N: number, K: number): void {
  const parts = ctx.pool && N * K >= 1 << 15 ? ctx.threads * 2 : 1;
  const list = new JobList();
  for (const [i0, i1] of splitRanges(N, Math.min(parts, N))) if (i1 > i0) list.add('gemv_bf16', rt, [x, w + 2 * i0 * ldw, y + 4 * i0, K, 0, i1 - i0, ldw]);
  run(ctx, rt, list);
}

/**
 * y[n] = Σ_k x[k] · W(n, k) for n < N, W(n, k) the bfloat16 at `offset + n·ldw + k`: blocks of rows copied
 * into one scratch area (reused, so it stays in cache) and multiplied on the threads.
 */
function gemvRows(ctx: FastContext, rt: Runtime, bits: Uint16Array, offset: number, ldw: number, x: number, y: number, N: number, K: number): void {
  const rows = Math.max(1, Math.min(N, Math.floor(bf16Tuning.gemvBytes / (2 * ldw))));
  const area = scratch(rt, Math.ceil((rows * ldw) / 2) + 4);
  for (let n0 = 0; n0 < N; n0 += rows) {
    const n1 = Math.min(N, n0 + rows);
    const lo = offset + n0 * ldw;
    copyBits(rt, bits, lo, lo + (n1 - n0 - 1) * ldw + K - 1, area);
    gemv(ctx, rt, area, ldw, x, y + 4 * n0, n1 - n0, K);
  }
}

/** C = A · B with B bfloat16: blocks of B's columns decoded into float32 scratch, each multiplied into its columns of C. */
function gemmBlocks(ctx: FastContext, rt: Runtime, a: { a: number; ars: number; acs: number }, bv: View, brs: number, bcs: number, M: number, N: number, K: number, c: number): void {
  const NR = 4 * rt.kernels.gemm.NV;
  const width = N <= Math.max(NR, Math.floor(bf16Tuning.block / K)) ? N : Math.max(NR, Math.floor(bf16Tuning.block / K / NR) * NR);
  const inPlace = bitsInPlace(bv);
  const bits = bv.storage.bf16!;
  const tmp = width < N ? scratch(rt, M * width) : c;
  let bitsAt = -1;
  let floatsAt = -1;
  for (let j0 = 0; j0 < N; j0 += width) {
    const w = Math.min(width, N - j0);
    const sub: View = { storage: bv.storage, shape: [K, w], strides: [brs, bcs], offset: bv.offset + j0 * bcs };
    const [lo, hi] = span(sub);
    if (floatsAt < 0) {
      if (inPlace === undefined) bitsAt = scratch(rt, Math.ceil((hi - lo + 1) / 2) + 4);
      floatsAt = scratch(rt, hi - lo + 1);
    }
    if (inPlace === undefined) copyBits(rt, bits, lo, hi, bitsAt);
    decodeInto(ctx, rt, inPlace === undefined ? bitsAt : inPlace + 2 * lo, floatsAt, hi - lo + 1);
    runGemm(ctx, rt, { ...a, b: floatsAt + 4 * (sub.offset - lo), brs, bcs }, M, w, K, [[0, 0]], tmp);
    if (tmp !== c) {
      const f = rt.f32;
      for (let i = 0; i < M; i++) f.copyWithin((c >> 2) + i * N + j0, (tmp >> 2) + i * w, (tmp >> 2) + i * w + w);
    }
  }
}
