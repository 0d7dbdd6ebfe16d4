/**
 * WebAssembly SIMD paths of the fused softmax cross-entropy primitives (webasm, threads): a module of two
 * functions over a list of row indices (the rows whose label counts), split over the threads by rows.
 *
 * - `ce_fwd(x, ldx, C, list, count, ms)`: per row its max m (one pass) and s = Σ e^(x − m) folded in
 *   float64 lanes (a second pass); `ms[2r] = m`, `ms[2r + 1] = s`. The caller finishes
 *   `loss = (m − x[label]) + log s` in float64.
 * - `ce_bwd(x, ldx, C, list, count, par, out)`: `out[r, c] = g·e^((x − hi) − lo)` with the row's
 *   logsumexp split as hi + lo (two float32s) and g in `par[3r …]`; the caller subtracts g at the label.
 *
 * e^d is computed here as 2^(d·log2e), not with the elementwise kernels' exp (Cody–Waite and a
 * float-to-int conversion: half again as many instructions, and these kernels are bound by instruction
 * count); see emitExp. The backward gives 0 below e^−86.6 ≈ 2.4e-38, where the forward's sum cannot tell.
 * Rows with a non-finite max or logsumexp (NaN, ±∞) are the caller's: their results are NaN.
 */
import type { View } from '../../backend.js';
import { Fn, encodeModule, floatAt as at, widthLoops, type Local } from '../../backends/cpu/wasm/emit.js';
import { VecCode } from '../../backends/cpu/wasm/elementwise.js';
import { JobList, splitRanges, type Runtime } from '../../backends/cpu/runtime.js';
import { relaxedSimd } from '../../backends/cpu/relaxed-simd.js';
import type { FastContext } from '../../backends/cpu/context.js';
import { finishOutput, kernelOutput, outputBuffer } from '../../backends/cpu/buffers.js';
import { copyIn } from '../../backends/cpu/matmul.js';

const LOG2E = 1.4426950408889634;
const MAGIC = 12582912; // 1.5·2^23
const MAGIC_BITS = 0x4b400000;
/** 2^f on [−½, ½]: near-minimax for relative error (≤ 1e-7 evaluated in float32), highest power first */
const EXP2_POLY = [1.534580806037411e-4, 1.3399930903688073e-3, 9.618489071726799e-3, 5.550328642129898e-2, 0.24022646248340607, 0.6931471824645996, 1];

/**
 * `outs[v] = e^ds[v]` (f32x4) for v128 locals `ds`, stage by stage across them (independent chains side
 * by side keep the core busy). e^d = 2^x with x = d·log2e clamped to [−125, 127]: x + 1.5·2^23 rounds it
 * to an integer n held in the low mantissa bits, so 2^n is an integer add to the exponent bits of 2^(x − n),
 * a degree-6 polynomial on [−½, ½] (≤ 1e-7 relative, plus |d|·6e-8 from rounding d·log2e: only where
 * e^d is already small). `backward`: 0 where x < −125 (e^d below 2.4e-38; the forward's sum cannot tell).
 */
function emitExp(f: Fn, k: VecCode, ds: readonly Local[], outs: readonly Local[], backward: boolean): void {
  const fma = relaxedSimd(); // the polynomial's steps as one multiply-add each where the engine has it
  const each = (body: (v: number) => void) => ds.forEach((_, v) => body(v));
  const [x, xc, t, p] = [0, 1, 2, 3].map(() => ds.map(() => f.local('v128')));
  each((v) => f.get(ds[v]).get(k.c(LOG2E)).f32x4Mul().set(x[v]));
  // (the forward's d = x − max is never positive; the backward's could be, by a rounding, or from a foreign `fwd`)
  // pmax / pmin: one instruction each in V8 on x64 (max / min: ~7, for their NaN rules; a NaN x comes through these too)
  each((v) => (f.get(x[v]).get(k.c(-125)).f32x4Pmax(), backward && f.get(k.c(127)).f32x4Pmin(), f.set(xc[v])));
  each((v) => f.get(xc[v]).get(k.c(MAGIC)).f32x4Add().set(t[v]));
  each((v) => f.get(xc[v]).get(t[v]).get(k.c(MAGIC)).f32x4Sub().f32x4Sub().set(xc[v])); // x − n ∈ [−½, ½]
  each((v) => f.get(xc[v]).get(k.c(EXP2_POLY[0])).f32x4Mul().get(k.c(EXP2_POLY[1])).f32x4Add().set(p[v]));
  for (const c of EXP2_POLY.slice(2)) {
    if (fma) each((v) => f.get(p[v]).get(xc[v]).get(k.c(c)).f32x4RelaxedMadd().set(p[v]));
    else each((v) => f.get(p[v]).get(xc[v]).f32x4Mul().get(k.c(c)).f32x4Add().set(p[v]));
  }
  each((v) => f.get(p[v]).get(t[v]).get(k.ci(MAGIC_BITS)).i32x4Sub().i32(23).i32x4Shl().i32x4Add().set(outs[v]));
  if (backward) each((v) => f.get(outs[v]).get(x[v]).get(k.c(-125)).f32x4Lt().v128Not().v128And().set(outs[v]));
}

function forwardFn(): Fn {
  const f = new Fn('ce_fwd', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [x, ldx, C, list, count, ms] = f.params;
  const k = new VecCode(f);
  const [i, r, row, j] = [f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32')];
  const [mv, d, e, d2, e2, acc0, acc1] = [0, 1, 2, 3, 4, 5, 6].map(() => f.local('v128'));
  const m = f.local('f32');
  const tail = f.local('f64');
  f.forRange(i, 0, { local: count }, 1, () => {
    f.get(list).get(i).i32(2).i32Shl().i32Add().i32Load().set(r);
    f.get(x).get(r).get(ldx).i32Mul().i32Add().set(row);
    // the row max (NaN propagates)
    f.get(k.c(-Infinity)).set(mv);
    const maxOf = (load: (off: number) => void, off = 0) => void (load(off), f.get(mv).f32x4Max().set(mv));
    widthLoops(f, j, C, [
      [8, () => (maxOf((o) => at(f, row, j).v128Load(o)), maxOf((o) => at(f, row, j).v128Load(o), 16))],
      [4, () => maxOf((o) => at(f, row, j).v128Load(o))],
      [1, () => maxOf((o) => at(f, row, j).load32Splat(o))],
    ]);
    f.get(mv).f32x4ExtractLane(0).get(mv).f32x4ExtractLane(1).f32Max().get(mv).f32x4ExtractLane(2).get(mv).f32x4ExtractLane(3).f32Max().f32Max().set(m);
    f.get(m).f32x4Splat().set(mv);
    // Σ e^(x − m) in float64 lanes
    f.get(k.c(0)).set(acc0).get(k.c(0)).set(acc1);
    f.get(k.c(0)).f32x4ExtractLane(0).f64PromoteF32().set(tail);
    const addAll = (e: Local) => {
      f.get(acc0).get(e).f64x2PromoteLowF32x4().f64x2Add().set(acc0);
      f.get(acc1).get(e).get(e).shuffle32([2, 3, 0, 1]).f64x2PromoteLowF32x4().f64x2Add().set(acc1);
    };
    widthLoops(f, j, C, [
      [8, () => {
        at(f, row, j).v128Load().get(mv).f32x4Sub().set(d);
        at(f, row, j).v128Load(16).get(mv).f32x4Sub().set(d2);
        emitExp(f, k, [d, d2], [e, e2], false);
        f.get(e).get(e2).f32x4Add().set(e); // one float32 rounding of a two-term sum, then float64
        addAll(e);
      }],
      [4, () => {
        at(f, row, j).v128Load().get(mv).f32x4Sub().set(d);
        emitExp(f, k, [d], [e], false);
        addAll(e);
      }],
      [1, () => {
        at(f, row, j).load32Splat().get(mv).f32x4Sub().set(d);
        emitExp(f, k, [d], [e], false);
        f.get(tail).get(e).f32x4ExtractLane(0).f64PromoteF32().f64Add().set(tail);
      }],
    ]);
    f.get(acc0).get(acc1).f64x2Add().set(acc0);
    const out = () => f.get(ms).get(r).i32(3).i32Shl().i32Add();
    out().get(m).f32Store();
    out().get(acc0).f64x2ExtractLane(0).get(acc0).f64x2ExtractLane(1).f64Add().get(tail).f64Add().f32DemoteF64().f32Store(4);
  });
  k.finish();
  return f;
}

function backwardFn(): Fn {
  const f = new Fn('ce_bwd', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [x, ldx, C, list, count, par, out] = f.params;
  const k = new VecCode(f);
  const [i, r, row, orow, j, pr] = [f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32')];
  const [hi, lo, g, d, e, d2, e2] = [0, 1, 2, 3, 4, 5, 6].map(() => f.local('v128'));
  f.forRange(i, 0, { local: count }, 1, () => {
    f.get(list).get(i).i32(2).i32Shl().i32Add().i32Load().set(r);
    f.get(x).get(r).get(ldx).i32Mul().i32Add().set(row);
    f.get(out).get(r).get(C).i32Mul().i32(2).i32Shl().i32Add().set(orow);
    f.get(par).get(r).i32(12).i32Mul().i32Add().set(pr);
    f.get(pr).load32Splat(0).set(hi).get(pr).load32Splat(4).set(lo).get(pr).load32Splat(8).set(g);
    /** e = g·e^((x − hi) − lo) for the vectors pushed by `loads` */
    const values = (loads: (() => void)[]) => {
      const ds = [d, d2].slice(0, loads.length);
      const es = [e, e2].slice(0, loads.length);
      loads.forEach((load, v) => void (load(), f.get(hi).f32x4Sub().get(lo).f32x4Sub().set(ds[v])));
      emitExp(f, k, ds, es, true);
      es.forEach((x) => f.get(x).get(g).f32x4Mul().set(x));
    };
    widthLoops(f, j, C, [
      [8, () => {
        values([() => void at(f, row, j).v128Load(), () => void at(f, row, j).v128Load(16)]);
        at(f, orow, j).get(e).v128Store();
        at(f, orow, j).get(e2).v128Store(16);
      }],
      [4, () => {
        values([() => void at(f, row, j).v128Load()]);
        at(f, orow, j).get(e).v128Store();
      }],
      [1, () => {
        values([() => void at(f, row, j).load32Splat()]);
        at(f, orow, j).get(e).f32x4ExtractLane(0).f32Store();
      }],
    ]);
  });
  k.finish();
  return f;
}

type Kernel = { id: number; fn: (...a: number[]) => void };
const compiled = new WeakMap<Runtime, { fwd: Kernel; bwd: Kernel } | null>();

function kernels(rt: Runtime): { fwd: Kernel; bwd: Kernel } | undefined {
  let k = compiled.get(rt);
  if (k === undefined) {
    try {
      const m = new WebAssembly.Module(encodeModule({ memory: { initial: 1, maximum: 32768, shared: true }, functions: [forwardFn(), backwardFn()] }));
      k = { fwd: rt.extra.add(m, 'ce_fwd'), bwd: rt.extra.add(m, 'ce_bwd') };
    } catch {
      k = null; // the engine refused the module: the JavaScript path from now on
    }
    compiled.set(rt, k);
  }
  return k ?? undefined;
}

/** Run `kernel` over `count` listed rows: inline, or split by rows over the threads. */
function run(ctx: FastContext, rt: Runtime, kernel: Kernel, count: number, C: number, args: (start: number, n: number) => number[]): void {
  const threads = ctx.pool && ctx.threads > 1 && count * C >= 1 << 16 ? Math.min(ctx.threads, count) : 1;
  if (threads === 1) return kernel.fn(...args(0, count));
  const jobs = new JobList();
  for (const [s, e] of splitRanges(count, threads * 2)) if (e > s) jobs.addExtra(rt, kernel.id, args(s, e - s));
  ctx.pool!.run(jobs);
}

/** What both paths need: the logits in wasm memory (rows of unit column stride) and element readers. */
interface Rows {
  base: number;
  ldx: number;
  /** logits[n, c] */
  x: (n: number, c: number) => number;
}

function rowsOf(rt: Runtime, v: View): Rows | undefined {
  const [N, C] = v.shape;
  if (C > 1 && v.strides[1] !== 1) return undefined;
  const c = copyIn(rt, v);
  if (!c) return undefined;
  const data = v.storage.data!; // (copyIn may have moved it into wasm memory)
  const [s0, s1] = v.strides;
  return { base: c.addr + 4 * (v.offset - c.lo), ldx: 4 * (N > 1 ? s0 : C), x: (n, col) => data[v.offset + n * s0 + col * s1] };
}

/** Element n of a 1-D view. */
function reader(v: View): ((n: number) => number) | undefined {
  const d = v.storage.data;
  return d && ((n) => d[v.offset + n * v.strides[0]]);
}

/** The forward on the wasm runtime; undefined to decline (the caller runs the JavaScript path). */
export function forwardWasm(ctx: FastContext, rt: Runtime, counts: (n: number) => boolean, label: (n: number) => number, x: View): Float32Array | undefined {
  const k = kernels(rt);
  const [N, C] = x.shape;
  if (!k) return undefined;
  rt.reset();
  const rows = rowsOf(rt, x);
  const list = rt.alloc(N);
  const ms = rt.alloc(2 * N);
  if (!rows || list < 0 || ms < 0) return undefined;
  let count = 0;
  const w = rt.i32;
  for (let n = 0; n < N; n++) if (counts(n)) w[(list >> 2) + count++] = n;
  run(ctx, rt, k.fwd, count, C, (s, cnt) => [rows.base, rows.ldx, C, list + 4 * s, cnt, ms]);
  const f = rt.f32;
  const out = outputBuffer(N);
  for (let n = 0; n < N; n++) {
    if (!counts(n)) {
      out[n] = 0;
      continue;
    }
    const m = f[(ms >> 2) + 2 * n];
    out[n] = m - m === 0 ? m - rows.x(n, label(n)) + Math.log(f[(ms >> 2) + 2 * n + 1]) : NaN;
  }
  return out;
}

/** The gradient on the wasm runtime (into `into` when given); undefined to decline. */
export function backwardWasm(ctx: FastContext, rt: Runtime, counts: (n: number) => boolean, label: (n: number) => number, x: View, fwd: View, g: View, into?: Float32Array): Float32Array | undefined {
  const k = kernels(rt);
  const [N, C] = x.shape;
  const [fr, gr] = [reader(fwd), reader(g)];
  if (!k || !fr || !gr) return undefined;
  rt.reset();
  const rows = rowsOf(rt, x);
  const list = rt.alloc(N);
  const par = rt.alloc(3 * N);
  const o = rows && list >= 0 && par >= 0 ? kernelOutput(rt, N * C, into) : undefined;
  if (!rows || !o) return undefined;
  const lse = new Float64Array(N);
  // the label logits, read before the kernel writes: `into` may be the logits' own array (primitive.ts inPlace)
  const xl = new Float64Array(N);
  let count = 0;
  const [w, pf] = [rt.i32, rt.f32];
  for (let n = 0; n < N; n++) {
    if (!counts(n)) continue;
    xl[n] = rows.x(n, label(n));
    lse[n] = xl[n] + fr(n); // the row's logsumexp; NaN / ±∞ rows are filled with NaN below
    if (lse[n] - lse[n] !== 0) continue;
    const at = (par >> 2) + 3 * n;
    pf[at] = lse[n]; // hi: lse rounded to float32
    pf[at + 1] = lse[n] - pf[at]; // lo: the rest
    pf[at + 2] = gr(n);
    w[(list >> 2) + count++] = n;
  }
  run(ctx, rt, k.bwd, count, C, (s, cnt) => [rows.base, rows.ldx, C, list + 4 * s, cnt, par, o.at]);
  const out = finishOutput(rt, o);
  for (let n = 0; n < N; n++) {
    const b = n * C;
    if (!counts(n)) out.fill(0, b, b + C);
    else if (lse[n] - lse[n] !== 0) out.fill(NaN, b, b + C);
    else out[b + label(n)] = gr(n) * (Math.exp(xl[n] - lse[n]) - 1);
  }
  return out;
}
