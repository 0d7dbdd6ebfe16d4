/**
 * Fast matmul for the WebAssembly backends: the SIMD GEMMs of backends/cpu/wasm/gemm-packed.ts (A packed) and
 * backends/cpu/wasm/gemm.ts (A read in place: products with few output columns, see readAInPlace) over the operands
 * in wasm memory (in place when their storage lives there, else copied into scratch); packing A and then
 * the output's column (or row) ranges are split over the thread pool.
 */
import type { View } from '../../backend.js';
import { broadcastView } from '../../kernels/codegen.js';
import type { Tensor } from '../../tensor.js';
import { ScratchExhausted, JobList, runExtra, splitRanges, type Pool, type Runtime } from './runtime.js';
import type { FastContext } from './context.js';
import { adoptIntoWasm, finishOutput, kernelOutput, recycle, wasmAddress } from './buffers.js';
import { GEMM_PR_WORDS, gemmScratchFloats } from './wasm/gemm-packed.js';
import { bankMatvec } from './banks.js';

/** Below this many multiply-adds a job list is not worth waking other threads for. */
const THREAD_MIN_MACS = 1 << 22;
/** Smaller products with a small B (floats) still split over the threads, as row units (`gemmRows`). */
const THREAD_MIN_MACS_ROWS = 1 << 20;
const ROWS_MAX_B = 1 << 16;
/**
 * Rows of A a row unit of `gemmRows` gets at least: each unit packs all of B, which costs about as much as
 * multiplying ~6 rows by it, so thin units (a weight gradient's M = 64 in 8 units) spent most of their time
 * packing and ran slower on two threads than on one (measured 233 vs 114 µs at [64,512]@[512,64]).
 */
const ROWS_PER_UNIT = 32;

/** Index range [lo, hi] of the storage elements a view reaches. */
export function span(v: View): [number, number] {
  let lo = v.offset;
  let hi = v.offset;
  v.shape.forEach((d, k) => {
    if (d === 0) return;
    const s = (d - 1) * v.strides[k];
    if (s < 0) lo += s;
    else hi += s;
  });
  return [lo, hi];
}

/**
 * Copy the part of a view's storage that the view reaches into scratch memory. Returns the byte
 * address that storage element `lo` landed at, and `lo`, so element s sits at `addr + 4·(s − lo)`.
 */
export function copyIn(rt: Runtime, v: View): { addr: number; lo: number } | undefined {
  const data = v.storage.data;
  if (!data) return undefined;
  const inPlace = wasmAddress(data);
  if (inPlace !== undefined) return { addr: inPlace, lo: 0 }; // already in wasm memory: no copy
  const adopted = adoptIntoWasm(v.storage); // copied once, read in place from now on
  if (adopted !== undefined) return { addr: adopted, lo: 0 };
  const [lo, hi] = span(v);
  const addr = rt.alloc(hi - lo + 1);
  if (addr < 0) return undefined;
  rt.f32.set(lo === 0 && hi === data.length - 1 ? data : data.subarray(lo, hi + 1), addr >> 2);
  return { addr, lo };
}

/** Iterate the batch multi-indices of `shape`, calling fn(k, offsetA, offsetB) with strided offsets. */
function forBatch(shape: readonly number[], sa: readonly number[], sb: readonly number[], fn: (k: number, oa: number, ob: number) => void): void {
  const r = shape.length;
  const n = shape.reduce((p, d) => p * d, 1);
  const idx = new Array<number>(r).fill(0);
  let oa = 0;
  let ob = 0;
  for (let k = 0; k < n; k++) {
    fn(k, oa, ob);
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++;
      oa += sa[d];
      ob += sb[d];
      if (idx[d] < shape[d]) break;
      oa -= sa[d] * shape[d];
      ob -= sb[d] * shape[d];
      idx[d] = 0;
    }
  }
}

interface Gemm {
  /** byte address of A(0,0) / B(0,0) of batch item 0 and the element strides (any sign or order) */
  a: number;
  ars: number;
  acs: number;
  b: number;
  brs: number;
  bcs: number;
}

/** Work units per thread: claimed dynamically, so a thread the OS parks for a while holds up little. */
const UNITS_PER_THREAD = 4;

/**
 * C = A @ B for every batch item into a contiguous [batch, M, N] block at `c` (byte address), on the
 * context's threads, in two job phases: pack every distinct A once (batch items that broadcast A share
 * its packed copy), then run `gemm_p` in units (column or row ranges of an item; each packs the B
 * columns it uses) that the threads claim dynamically. `items[k]` holds the element offsets of item
 * k's A and B from `g.a` / `g.b`. Throws ScratchExhausted past the scratch cap.
 */
export function runGemm(ctx: FastContext, rt: Runtime, g: Gemm, M: number, N: number, K: number, items: readonly [number, number][], c: number): void {
  const { MR, NV } = rt.kernels.gemm;
  const NR = 4 * NV;
  const MP = Math.ceil(M / MR);
  const NP = Math.ceil(N / NR);
  const nb = items.length;
  if (M === 0 || N === 0 || nb === 0) return;
  const macs = nb * M * N * K;
  const alloc = (floats: number): number => {
    const at = rt.alloc(floats);
    if (at < 0) throw new ScratchExhausted();
    return at;
  };
  if (ctx.pool && ctx.threads > 1 && nb === 1 && macs >= THREAD_MIN_MACS_ROWS && macs < THREAD_MIN_MACS && K * N <= ROWS_MAX_B) {
    gemmRows(ctx.pool, rt, g, M, N, K, items[0], c, alloc);
    return;
  }
  const threads = ctx.pool && macs >= THREAD_MIN_MACS ? ctx.threads : 1;
  const want = threads === 1 ? 1 : threads * UNITS_PER_THREAD;
  if (nb === 1 && readAInPlace(g, M, N, K, threads)) {
    gemmInPlace(ctx, rt, g, M, N, K, items[0], c, threads, want, alloc);
    return;
  }
  const pack = new JobList();
  const aAt = new Map<number, number>();
  for (const [oa] of items) if (!aAt.has(oa)) aAt.set(oa, alloc(MP * MR * K));
  // pack each distinct A (all slabs), its micro-panels in near-equal parts
  const aParts = Math.min(MP, Math.max(1, Math.ceil(want / aAt.size)));
  for (const [oa, dst] of aAt) {
    for (const [t0, t1] of splitRanges(MP, aParts)) {
      if (t1 > t0) pack.add('pack_a_slabs', rt, [g.a + 4 * (oa + t0 * MR * g.ars), g.ars, g.acs, K, Math.min(M, t1 * MR) - t0 * MR, dst, MP, t0]);
    }
  }
  // compute units: column ranges of an item where there are enough panels, else row ranges
  const parts = Math.max(1, Math.ceil(want / nb));
  const cols = parts === 1 || NP >= parts || NP >= MP;
  const per = gemmScratchFloats(rt.kernels.gemm);
  const scratch = alloc(per * threads);
  const list = new JobList();
  list.stride = 4 * per;
  items.forEach(([oa, ob], k) => {
    const unit = (i0: number, i1: number, j0: number, j1: number): void =>
      list.add('gemm_p', rt, [aAt.get(oa)!, g.b + 4 * ob, g.brs, g.bcs, c + 4 * k * M * N, N, M, N, K, i0, i1, j0, j1, scratch, MP], [14]);
    if (cols) for (const [j0, j1] of splitRanges(NP, Math.min(parts, NP))) unit(0, MP, j0, j1);
    else for (const [i0, i1] of splitRanges(MP, Math.min(parts, MP))) unit(i0, i1, 0, NP);
  });
  if (ctx.pool && threads > 1) {
    ctx.pool.run(pack);
    ctx.pool.run(list);
  } else {
    runInline(rt, pack);
    runInline(rt, list);
  }
}

/**
 * A small product on the threads in one job list: row units that each pack their own A panels and all
 * of B (`gemm_pr`), so no unit waits for another's packing. Worth it from ~1 M multiply-adds when B is
 * small (it is packed once per unit).
 */
function gemmRows(pool: Pool, rt: Runtime, g: Gemm, M: number, N: number, K: number, [oa, ob]: readonly [number, number], c: number, alloc: (floats: number) => number): void {
  const { MR } = rt.kernels.gemm;
  const MP = Math.ceil(M / MR);
  const NP = Math.ceil(N / (4 * rt.kernels.gemm.NV));
  const ap = alloc(MP * MR * K);
  const per = gemmScratchFloats(rt.kernels.gemm);
  const scratch = alloc(per * pool.threads);
  const units = Math.max(pool.threads, Math.min(pool.threads * UNITS_PER_THREAD, Math.floor(M / ROWS_PER_UNIT)));
  const ranges = splitRanges(MP, Math.min(MP, units)).filter(([i0, i1]) => i1 > i0);
  const params = alloc(GEMM_PR_WORDS * ranges.length);
  const w = rt.i32;
  const list = new JobList();
  list.stride = 4 * per;
  ranges.forEach(([i0, i1], u) => {
    const at = (params >> 2) + u * GEMM_PR_WORDS;
    const words = [
      ...[g.a + 4 * (oa + i0 * MR * g.ars), g.ars, g.acs, K, Math.min(M, i1 * MR) - i0 * MR, ap, MP, i0],
      ...[ap, g.b + 4 * ob, g.brs, g.bcs, c, N, M, N, K, i0, i1, 0, NP, MP],
    ];
    words.forEach((v, k) => (w[at + k] = v));
    list.add('gemm_pr', rt, [params + 4 * u * GEMM_PR_WORDS, scratch], [2]);
  });
  pool.run(list);
}

/** For tests and benchmarks: force reading A in place (true) or packing it (false); undefined: by shape. */
export const matmulTuning: { inPlace: boolean | undefined } = { inPlace: undefined };

/**
 * Whether to skip packing A and read it in place (the drivers of backends/cpu/wasm/gemm.ts). Packing A is a pass over
 * it, and on the threads a job phase of its own that waits for the worker to wake; column units then
 * read the packed copy once per 8 output columns. With few columns the pass costs more than it saves.
 * Measured, in place / packed (in-process alternation, median of 200): row-major A with N = 64 (a
 * backward's dX = dY·W, [512, K] @ [K, 64]) 0.83–0.88 on threads, 0.94 on one thread; N = 192–256
 * 0.92–0.94 / 0.98–0.99; N = 512 level; the GPT-Neo MLP (N = 3072) 1.09 and 1024³ 1.02–1.04. Column-major
 * A (a weight gradient's Xᵀ) is loaded MR rows side by side: with M = 64 and N = 192–256, 0.94–0.96 on
 * threads but 1.10–1.13 on one thread (1.25 at N = 512); at N = 64, 0.87–0.95 on both.
 */
function readAInPlace(g: Gemm, M: number, N: number, K: number, threads: number): boolean {
  const possible = g.acs === 1 || g.ars === 1;
  if (matmulTuning.inPlace !== undefined) return matmulTuning.inPlace && possible;
  if (g.acs === 1) return N <= 256;
  return g.ars === 1 && N <= (threads > 1 ? 256 : 64) && M * K <= COL_IN_PLACE_MAX;
}

/**
 * Column-major A read in place: each column unit walks all of A column by column (a cache line per
 * column for its MR rows), so a big A that has just been written elsewhere costs every unit a pass
 * from L3: a training step's lm-head gradient dYᵀ·X ([512, 512]ᵀ @ [512, 64]) took 584 µs in place,
 * 474 packed (threads, in the step). Up to 2^17 floats (512 KB) it stays in L2.
 */
const COL_IN_PLACE_MAX = 1 << 17;

/**
 * C = A @ B for one batch item with A read in place (`gemm_row` / `gemm_col`): one job phase of column
 * units, each packing the B panels it uses per KC-deep slab into its thread's scratch.
 */
function gemmInPlace(ctx: FastContext, rt: Runtime, g: Gemm, M: number, N: number, K: number, [oa, ob]: readonly [number, number], c: number, threads: number, want: number, alloc: (floats: number) => number): void {
  const { MR, NV, KC } = rt.kernels.gemm;
  const NR = 4 * NV;
  const NP = Math.ceil(N / NR);
  const ranges = splitRanges(NP, Math.min(want, NP)).filter(([j0, j1]) => j1 > j0);
  const widest = Math.max(...ranges.map(([j0, j1]) => j1 - j0)) * NR;
  const tileAt = KC * widest + 16; // floats: the packed B slab, then the edge tile
  const per = tileAt + MR * NR + 16;
  const scratch = alloc(per * threads);
  const list = new JobList();
  list.stride = 4 * per;
  const layout = g.acs === 1 ? 'row' : 'col';
  for (const [j0, j1] of ranges) {
    list.add(`gemm_${layout}`, rt, [g.a + 4 * oa, g.ars, g.acs, g.b + 4 * ob, g.brs, g.bcs, c, N, 0, M, j0 * NR, Math.min(N, j1 * NR), K, scratch, scratch + 4 * tileAt], [14, 15]);
  }
  if (ctx.pool && threads > 1) ctx.pool.run(list);
  else runInline(rt, list);
}

/** Run a job list on the calling thread. */
export function runInline(rt: Runtime, list: JobList): void {
  const { fns, names } = rt.kernels;
  for (const [head, ...args] of list.jobs) {
    if ((head & 0xff) === 255) runExtra(rt, args[0], args[1]);
    else (fns[names[head & 0xff]] as (...a: number[]) => void)(...args);
  }
}

/** The matmul fast path (webasm / threads). */
/**
 * The row and column strides of the GEMM's A [M, K] and B [K, N] (views broadcast to `[...batch, M, K]` and
 * `[...batch, K, N]`): a dimension of size 1 gets the stride that makes its operand read as contiguous, so
 * the kernel's layout checks (row-major, in-place reads) accept it whatever stride the view happened to have.
 */
export function gemmStrides(av: View, bv: View, M: number, N: number, K: number): { ars: number; acs: number; brs: number; bcs: number } {
  const r = av.shape.length;
  let ars = av.strides[r - 2];
  let acs = av.strides[r - 1];
  let brs = bv.strides[r - 2];
  let bcs = bv.strides[r - 1];
  if (K === 1) [acs, brs] = [1, 1];
  if (M === 1) ars = acs === 1 ? K : 1;
  if (N === 1) bcs = 1;
  return { ars, acs, brs, bcs };
}

export function matmulFast(ctx: FastContext, node: Tensor, [a, b]: readonly View[]): Float32Array | undefined {
  const rt = ctx.rt;
  if (!rt || node.dtype !== 'float32') return undefined;
  const r = node.rank;
  const M = node.shape[r - 2];
  const N = node.shape[r - 1];
  const K = a.shape[a.shape.length - 1];
  if (K === 0) return new Float32Array(node.size);
  const batch = node.shape.slice(0, -2);
  const av = broadcastView(a, [...batch, M, K]);
  const bv = broadcastView(b, [...batch, K, N]);
  rt.reset();
  const ca = copyIn(rt, av);
  if (!ca) return undefined;
  const { ars, acs, brs, bcs } = gemmStrides(av, bv, M, N, K);
  const aAddr = ca.addr + 4 * (av.offset - ca.lo);
  if (M === 1 && acs === 1 && brs === 1 && batch.every((d) => d === 1) && av.storage !== bv.storage) {
    const y = bankMatvec(ctx, rt, bv, bcs, aAddr, N, K); // a weight too large for the heap: read in place from a bank
    if (y) return y;
  }
  const cb = av.storage === bv.storage ? ca : copyIn(rt, bv);
  if (!cb) return undefined;
  const aBatch = av.strides.slice(0, -2);
  const bAddr = cb.addr + 4 * (bv.offset - cb.lo);
  const items: [number, number][] = [];
  forBatch(batch, aBatch, bv.strides.slice(0, -2), (_k, oa, ob) => items.push([oa, ob]));
  const o = kernelOutput(rt, node.size);
  if (!o) return undefined;
  try {
    runGemm(ctx, rt, { a: aAddr, ars, acs, b: bAddr, brs, bcs }, M, N, K, items, o.at);
  } catch (e) {
    recycle(o.out);
    throw e;
  }
  return finishOutput(rt, o);
}
