/**
 * Fast matmul for the WebAssembly backends: the SIMD GEMM of wasm/gemm.ts over copies of the operands
 * in scratch memory, batch items and output columns split over the thread pool.
 */
import type { View } from '../backend.js';
import { broadcastView } from '../kernels/codegen.js';
import type { Tensor } from '../tensor.js';
import { ScratchExhausted, JobList, runExtra, splitRanges, type Runtime } from '../wasm/runtime.js';
import type { FastContext } from './context.js';
import { outputFrom } from './buffers.js';

/** Below this many multiply-adds a job list is not worth waking other threads for. */
const THREAD_MIN_MACS = 1 << 22;

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
  /** byte address of A(0,0) / B(0,0) of batch item 0 and the element strides */
  a: number;
  ars: number;
  acs: number;
  b: number;
  brs: number;
  bcs: number;
  layout: 'row' | 'col';
}

/**
 * C = A @ B for every batch item into a contiguous [batch, M, N] block at `c` (byte address), on the
 * context's threads. `items[k]` holds the element offsets of item k's A and B from `g.a` / `g.b`.
 * Work is cut into units (items, column ranges or row ranges) that the threads claim dynamically.
 */
export function runGemm(ctx: FastContext, rt: Runtime, g: Gemm, M: number, N: number, K: number, items: readonly [number, number][], c: number): void {
  const { MR, KC, NV } = rt.kernels.gemm;
  const NR = 4 * NV;
  const nb = items.length;
  const fn = g.layout === 'row' ? 'gemm_row' : 'gemm_col';
  const threads = ctx.pool && nb * M * N * K >= THREAD_MIN_MACS ? ctx.threads : 1;
  // units: (item, m0, m1, n0, n1)
  const units: [number, number, number, number, number][] = [];
  const want = threads === 1 ? 1 : threads * 4; // a few units per thread: a preempted thread holds up little
  const parts = Math.max(1, Math.ceil(want / nb));
  const panels = Math.ceil(N / NR);
  const blocks = Math.ceil(M / MR);
  for (let k = 0; k < nb; k++) {
    if (parts === 1) units.push([k, 0, M, 0, N]);
    else if (panels >= parts || panels >= blocks) {
      for (const [s, e] of splitRanges(panels, Math.min(parts, panels))) units.push([k, 0, M, s * NR, Math.min(N, e * NR)]);
    } else {
      for (const [s, e] of splitRanges(blocks, Math.min(parts, blocks))) units.push([k, s * MR, Math.min(M, e * MR), 0, N]);
    }
  }
  const widest = Math.max(...units.map((u) => u[4] - u[3]));
  const bpFloats = KC * Math.ceil(widest / NR) * NR;
  // per-thread scratch: [bp | tile], thread t at + t·stride
  const scratch = rt.alloc((bpFloats + MR * NR + 16) * threads);
  if (scratch < 0) throw new ScratchExhausted();
  const list = new JobList();
  list.stride = 4 * (bpFloats + MR * NR + 16);
  const bp = scratch;
  const tile = scratch + 4 * bpFloats;
  for (const [k, m0, m1, n0, n1] of units) {
    const [oa, ob] = items[k];
    list.add(fn, rt, [g.a + 4 * oa, g.ars, g.acs, g.b + 4 * ob, g.brs, g.bcs, c + 4 * k * M * N, N, m0, m1, n0, n1, K, bp, tile], [14, 15]);
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
  const cb = av.storage === bv.storage && ca ? ca : copyIn(rt, bv);
  if (!ca || !cb) return undefined;
  let ars = av.strides[r - 2];
  let acs = av.strides[r - 1];
  let brs = bv.strides[r - 2];
  let bcs = bv.strides[r - 1];
  if (K === 1) [acs, brs] = [1, 1];
  if (M === 1) ars = acs === 1 ? K : 1;
  if (N === 1) bcs = 1;
  let layout: 'row' | 'col';
  let aAddr = ca.addr + 4 * (av.offset - ca.lo);
  const aBatch = av.strides.slice(0, -2);
  if (acs === 1) layout = 'row';
  else if (ars === 1) layout = 'col';
  else {
    // neither rows nor columns are contiguous: gather A into a contiguous block first
    const nbA = batch.reduce((p, d) => p * d, 1);
    const dst = rt.alloc(nbA * M * K);
    if (dst < 0) return undefined;
    const f = rt.f32;
    const base = aAddr >> 2;
    forBatch(batch, aBatch, aBatch, (k, oa) => {
      let o = (dst >> 2) + k * M * K;
      for (let i = 0; i < M; i++) for (let q = 0; q < K; q++) f[o++] = f[base + oa + i * ars + q * acs];
    });
    aAddr = dst;
    [ars, acs] = [K, 1];
    layout = 'row';
    aBatch.splice(0, aBatch.length, ...batch.map((_, d) => batch.slice(d + 1).reduce((p, x) => p * x, M * K)));
  }
  const bAddr = cb.addr + 4 * (bv.offset - cb.lo);
  const items: [number, number][] = [];
  forBatch(batch, aBatch, bv.strides.slice(0, -2), (_k, oa, ob) => items.push([oa, ob]));
  const c = rt.alloc(node.size);
  if (c < 0) return undefined;
  runGemm(ctx, rt, { a: aAddr, ars, acs, b: bAddr, brs, bcs, layout }, M, N, K, items, c);
  return outputFrom(rt.f32, c, node.size);
}
