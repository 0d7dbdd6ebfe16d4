/**
 * The small-shape attention kernels' parameter block and the code their forward and backward share
 * (attention-small.ts): reading the block, strip geometry, per-mr dispatch, padded operands.
 */
import { L, type Fn, type Local } from '../../backends/cpu/wasm/emit.js';
import { PARAM } from './wasm.js';
import { field, max, min, type Idx } from './wasm-rows.js';
import { SMALL_MR as MR, SMALL_NR as NR } from './wasm-mm.js';

/**
 * Parameter block of the small path: PARAM's words, then scratch offsets (bytes, relative to the
 * thread's scratch base), the row stride ldt (floats) of Kᵀ, Vᵀ, S, dS, and flags: bit 0 copies K and Q
 * to row-padded buffers kp / qp (D not a multiple of NR), bit 1 copies V (forward) or dO (backward) to
 * gp (Dv not a multiple of NR), as the GEMM reads B up to a multiple of NR columns.
 */
export const SMALL = {
  kt: PARAM.WORDS,
  vt: PARAM.WORDS + 1,
  s: PARAM.WORDS + 2,
  ds: PARAM.WORDS + 3,
  kp: PARAM.WORDS + 4,
  qp: PARAM.WORDS + 5,
  gp: PARAM.WORDS + 6,
  tile: PARAM.WORDS + 7,
  cst: PARAM.WORDS + 8,
  ldt: PARAM.WORDS + 9,
  flags: PARAM.WORDS + 10,
  /** absolute address of this head's kept P ([Tq, ldt]: see ops/attention/cpu-cache.ts), or 0 */
  pc: PARAM.WORDS + 11,
  WORDS: PARAM.WORDS + 12,
} as const;

/** Row stride (floats) of Kᵀ / S for Tk keys: room for a strip's widened, NR-rounded column range. */
export const smallLdt = (tk: number): number => Math.ceil((tk + MR + NR) / 4) * 4;
export const padTo = (n: number): number => Math.ceil(n / NR) * NR;

export type Params = ReturnType<typeof params>;

/** The shared prologue: parameter words as locals, scratch offsets made absolute, strides in bytes. */
export function params(f: Fn) {
  const [pp, scr] = f.params;
  const w = (k: number) => field(f, pp, k);
  const p = {
    q: w(PARAM.q), qrs: w(PARAM.qrs), k: w(PARAM.k), krs: w(PARAM.krs), v: w(PARAM.v), vrs: w(PARAM.vrs),
    o: w(PARAM.out), g: w(PARAM.g), dq: w(PARAM.dq), dk: w(PARAM.dk), dv: w(PARAM.dv),
    tq: w(PARAM.tq), tk: w(PARAM.tk), d: w(PARAM.d), dvDim: w(PARAM.dvDim), scale: w(PARAM.scale),
    window: w(PARAM.window), off: w(PARAM.off),
    kt: w(SMALL.kt), vt: w(SMALL.vt), s: w(SMALL.s), ds: w(SMALL.ds), kp: w(SMALL.kp), qp: w(SMALL.qp), gp: w(SMALL.gp),
    tile: w(SMALL.tile), cst: w(SMALL.cst), ldt: w(SMALL.ldt), flags: w(SMALL.flags), pc: w(SMALL.pc),
  };
  for (const l of [p.kt, p.vt, p.s, p.ds, p.kp, p.qp, p.gp, p.tile, p.cst]) f.addTo(l, L(scr));
  // strides in bytes from here on
  for (const l of [p.qrs, p.krs, p.vrs]) f.get(l).i32(2).i32Shl().set(l);
  return p;
}

/** `x = base + (row·stride + col)·4` helpers (stride in bytes). */
export const at = (f: Fn, base: Local, row: () => void, strideB: Local | null, col?: () => void): void => {
  f.get(base);
  if (strideB !== null) {
    row();
    f.get(strideB).i32Mul().i32Add();
  }
  if (col) {
    col();
    f.i32(2).i32Shl().i32Add();
  }
};

/** Call `name(mr)` for mr ∈ [1, MR] a local, arguments pushed by `args` (the kernels exist per mr). */
export function dispatch(f: Fn, idx: Idx, name: (m: number) => string, mr: Local, args: () => void): void {
  for (let m = MR; m >= 1; m--) {
    if (m > 1) f.get(mr).i32(m).i32Eq().if();
    args();
    f.call(idx(name(m)));
    if (m > 1) f.else();
  }
  for (let m = MR; m > 1; m--) f.end();
}

export interface Strip {
  js: Local;
  je: Local;
  xs: Local;
  n: Local;
  nz: Local;
}

/**
 * Query strip [i0, i0 + mr): its visible keys [js, je); scores computed over [xs, xs + n) (xs = js,
 * or MR before with a window; n a multiple of NR), and written by the row kernels (zeros where not
 * visible) over [xs, xs + nz), nz reaching MR − 1 columns past je: see the header.
 */
export function strip(f: Fn, p: Params, i0: Local, mr: Local): Strip {
  const [js, je, xs, n, nz] = Array.from({ length: 5 }, () => f.local('i32'));
  min(f, () => f.get(p.tk), () => f.get(i0).get(mr).i32Add().get(p.off).i32Add());
  f.set(je);
  f.i32(0).set(js);
  f.i32(0).set(xs);
  f.get(p.window).i32(0).i32GtS().if();
  max(f, () => f.i32(0), () => f.get(i0).get(p.off).i32Add().i32(1).i32Add().get(p.window).i32Sub());
  f.set(js);
  max(f, () => f.i32(0), () => f.get(js).i32(MR).i32Sub());
  f.set(xs);
  f.end();
  f.get(je).get(xs).i32Sub().i32(NR - 1).i32Add().i32(-NR).i32And().set(n);
  min(f, () => f.get(je).i32(MR - 1).i32Add(), () => f.get(p.tk));
  f.get(xs).i32Sub().set(nz);
  return { js, je, xs, n, nz };
}

/** B operand `src` (rows `srs` bytes apart): in place, or copied row-padded to `pad` when `bit` is set. */
export function operandB(f: Fn, idx: Idx, p: Params, bit: number, src: Local, srs: Local, rows: Local, cols: Local, pad: Local): [Local, Local] {
  const b = f.local('i32');
  const ld = f.local('i32');
  f.get(src).set(b);
  f.get(srs).set(ld);
  f.get(p.flags).i32(bit).i32And().if();
  f.get(cols).i32(NR - 1).i32Add().i32(-NR).i32And().i32(2).i32Shl().set(ld);
  f.get(src).get(srs).get(rows).get(cols).get(pad).get(ld).call(idx('attn_cp'));
  f.get(pad).set(b);
  f.end();
  return [b, ld];
}
