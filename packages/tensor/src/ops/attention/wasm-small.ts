/**
 * Fused attention for short sequences, one head per call (the blocked kernels of attention.ts are for
 * long ones). Per strip of MR query rows, with the GEMM of attention-mm.ts and the strip kernels of
 * attention-softmax.ts / attention-strip.ts:
 *
 *   forward   S = Q·(scale·K)ᵀ over the strip's visible keys only, P = softmax(S), O = P·V
 *   backward  S, P = exp(S − L) for the whole head (unless the forward kept P); per strip of MR keys
 *             dV = Pᵀ·dO over the rows that see them; per query strip dP = dO·Vᵀ (a strip buffer),
 *             dS = scale·P∘(dP − rowsum(dO∘O) + dL) written over P, dQ = dS·K; per key strip dK = dSᵀ·Q
 *
 * Why: at T = 64, d = 16 the blocked path spent its time packing, on the setup of GEMMs with a
 * 16-step k loop, and on the masked half of every [64, T] block of scores. Here scale·Kᵀ (and Vᵀ) are
 * transposed once per head, a strip computes scores only up to its last visible key, and they stay in
 * L1. The backward keeps the head's whole P, then dS in its place ([Tq, ldt]: one matrix, dV taken from
 * P first), so that dK and dV are GEMMs with a long k loop rather than a read-modify-write of dK, dV per
 * strip: ops/attention/cpu.ts sends only shapes whose matrix stays in cache. When training, the forward writes P straight into a matrix it
 * keeps (pc, ops/attention/cpu-cache.ts) and the backward skips S and the exps. Kernel time at
 * [8, 4, 64, 16] on one thread: forward 370 → 222 µs, backward 665 → 262 µs (390 recomputing P).
 *
 * In the backward pass each strip's P and dS rows are written (zeros past the visible keys) up to
 * MR − 1 columns past its last visible key, and with a window its scores are computed from MR columns
 * before its first: the key strips, which read MR columns of every row that sees one of them, never
 * read an unwritten entry.
 */
import { Fn, L, type Local } from '../../backends/cpu/wasm/emit.js';
import { heads, max, min, type Idx } from './wasm-rows.js';
import { SMALL_MR as MR, mmKernel, mmName, type Layout } from './wasm-mm.js';
import { copyKernel, dscoreKernel, transposeKernel } from './wasm-strip.js';
import { stripSoftmax, sxName } from './wasm-softmax.js';
import { SMALL, at, dispatch, operandB, params, strip } from './wasm-params.js';

export { SMALL, padTo, smallLdt } from './wasm-params.js';

/**
 * `attn_sfwd(pp, scratch)`: one head's forward. P lives one strip at a time in the strip buffer S, or
 * row by row in the kept matrix (pc ≠ 0), laid out as the backward pass reads it.
 */
/**
 * What both kernels start with: byte row strides of the probability tile (ldtB) and of the output rows
 * (ldo floats, ldoB bytes: dv values + the logsumexp column), and the tile-matmul dispatcher for `mr` rows.
 */
function prologue(f: Fn, idx: Idx, p: ReturnType<typeof params>, mr: Local) {
  const ldtB = f.local('i32');
  const ldo = f.local('i32');
  const ldoB = f.local('i32');
  const mm = (layout: Layout, args: () => void) => dispatch(f, idx, (m) => mmName(layout, m), mr, () => {
    args();
    f.get(p.tile);
  });
  f.get(p.ldt).i32(2).i32Shl().set(ldtB);
  f.get(p.dvDim).i32(1).i32Add().set(ldo);
  f.get(ldo).i32(2).i32Shl().set(ldoB);
  return { ldtB, ldo, ldoB, mm };
}

function forward(idx: Idx): Fn {
  const f = new Fn('attn_sfwd', ['i32', 'i32']);
  const p = params(f);
  const [i0, mr, sb] = [f.local('i32'), f.local('i32'), f.local('i32')];
  const { ldtB, ldo, ldoB, mm } = prologue(f, idx, p, mr);
  f.get(p.k).get(p.krs).get(p.tk).get(p.d).get(p.kt).get(ldtB).get(p.scale).call(idx('attn_tr'));
  const [vb, ldvb] = operandB(f, idx, p, 2, p.v, p.vrs, p.tk, p.dvDim, p.gp);
  f.forRange(i0, 0, L(p.tq), MR, () => {
    min(f, () => f.i32(MR), () => f.get(p.tq).get(i0).i32Sub());
    f.set(mr);
    const { js, je, xs, n, nz } = strip(f, p, i0, mr);
    f.get(p.s).set(sb);
    f.get(p.pc).if();
    at(f, p.pc, () => f.get(i0), ldtB);
    f.set(sb);
    f.end();
    // S = Q_strip · (scale·K)ᵀ[:, xs : xs + n]
    mm('row', () => {
      at(f, p.q, () => f.get(i0), p.qrs);
      f.get(p.qrs).i32(4);
      at(f, p.kt, () => f.i32(0), null, () => f.get(xs));
      f.get(ldtB);
      at(f, sb, () => f.i32(0), null, () => f.get(xs));
      f.get(ldtB).get(n).get(p.d);
    });
    // P = softmax(S) in place, L → column Dv of the output
    dispatch(f, idx, (m) => sxName('softmax', m), mr, () => {
      at(f, sb, () => f.i32(0), null, () => f.get(xs));
      f.get(p.ldt).get(i0).get(xs).get(nz).get(p.off).get(p.window);
      at(f, p.o, () => f.get(i0), ldoB, () => f.get(p.dvDim));
      f.get(ldo).get(p.cst);
    });
    // O_strip = P · V[js:je]
    mm('row', () => {
      at(f, sb, () => f.i32(0), null, () => f.get(js));
      f.get(ldtB).i32(4);
      at(f, vb, () => f.get(js), ldvb);
      f.get(ldvb);
      at(f, p.o, () => f.get(i0), ldoB);
      f.get(ldoB).get(p.dvDim).get(je).get(js).i32Sub();
    });
  });
  return f;
}

/** `attn_sbwd(pp, scratch)`: one head's backward into dq, dk, dv (contiguous rows); dS overwrites P. */
function backward(idx: Idx): Fn {
  const f = new Fn('attn_sbwd', ['i32', 'i32']);
  const p = params(f);
  const dB = f.local('i32');
  const dvB = f.local('i32');
  const [i0, mr, ilo, ihi, z] = Array.from({ length: 5 }, () => f.local('i32'));
  const { ldtB, ldo, ldoB, mm } = prologue(f, idx, p, mr);
  f.get(p.d).i32(2).i32Shl().set(dB);
  f.get(p.dvDim).i32(2).i32Shl().set(dvB);
  // scale·Kᵀ only for recomputing S
  f.get(p.pc).i32Eqz().if();
  f.get(p.k).get(p.krs).get(p.tk).get(p.d).get(p.kt).get(ldtB).get(p.scale).call(idx('attn_tr'));
  f.end();
  f.get(p.v).get(p.vrs).get(p.tk).get(p.dvDim).get(p.vt).get(ldtB).i32(0x3f800000).call(idx('attn_tr'));
  const [kb, ldkb] = operandB(f, idx, p, 1, p.k, p.krs, p.tk, p.d, p.kp);
  const [qb, ldqb] = operandB(f, idx, p, 1, p.q, p.qrs, p.tq, p.d, p.qp);
  const [gb, ldgb] = operandB(f, idx, p, 2, p.g, ldoB, p.tq, p.dvDim, p.gp);
  f.get(p.pc).if();
  f.get(p.pc).set(p.s);
  f.end();
  /** address of row `row`, column `col` of the [Tq, ldt] matrix `m` */
  const cell = (m: Local, row: Local, col: Local) => () => at(f, m, () => f.get(row), ldtB, () => f.get(col));
  /** address of column `col` of the strip buffer ds ([MR, ldt]: one strip's dP) */
  const stripCell = (col: Local) => () => at(f, p.ds, () => f.i32(0), null, () => f.get(col));
  const queryStrips = (body: (s: ReturnType<typeof strip>) => void) =>
    f.forRange(i0, 0, L(p.tq), MR, () => {
      min(f, () => f.i32(MR), () => f.get(p.tq).get(i0).i32Sub());
      f.set(mr);
      body(strip(f, p, i0, mr));
    });
  // key strips [i0, i0 + mr) (i0 counts keys): out[i0 : i0 + mr] = m[ilo:ihi, i0 : i0 + mr]ᵀ · b[ilo:ihi]
  // over the rows [ilo, ihi) that see one of them; keys no row sees (a window behind the first query)
  // get zeros
  const keyStrips = (m: Local, b: Local, ldb: Local, out: Local, w: Local, wB: Local) =>
    f.forRange(i0, 0, L(p.tk), MR, () => {
      min(f, () => f.i32(MR), () => f.get(p.tk).get(i0).i32Sub());
      f.set(mr);
      max(f, () => f.i32(0), () => f.get(i0).get(p.off).i32Sub());
      f.set(ilo);
      f.get(p.tq).set(ihi);
      f.get(p.window).i32(0).i32GtS().if();
      min(f, () => f.get(p.tq), () => f.get(i0).get(mr).i32Add().i32(-1).i32Add().get(p.off).i32Sub().get(p.window).i32Add());
      f.set(ihi);
      f.end();
      f.get(ihi).get(ilo).i32GtS().if();
      mm('col', () => {
        cell(m, ilo, i0)();
        f.i32(4).get(ldtB);
        at(f, b, () => f.get(ilo), ldb);
        f.get(ldb);
        at(f, out, () => f.get(i0), wB);
        f.get(wB).get(w).get(ihi).get(ilo).i32Sub();
      });
      f.else();
      f.forRange(z, 0, () => f.get(mr).get(w).i32Mul(), 1, () => {
        at(f, out, () => f.get(i0), wB, () => f.get(z));
        f.f32(0).f32Store();
      });
      f.end();
    });

  // P = exp(S − L) with S = Q · (scale·K)ᵀ, unless the forward kept P
  f.get(p.pc).i32Eqz().if();
  queryStrips(({ xs, n, nz }) => {
    mm('row', () => {
      at(f, p.q, () => f.get(i0), p.qrs);
      f.get(p.qrs).i32(4);
      at(f, p.kt, () => f.i32(0), null, () => f.get(xs));
      f.get(ldtB);
      cell(p.s, i0, xs)();
      f.get(ldtB).get(n).get(p.d);
    });
    dispatch(f, idx, (m) => sxName('probs', m), mr, () => {
      cell(p.s, i0, xs)();
      f.get(p.ldt).get(i0).get(xs).get(nz).get(p.off).get(p.window);
      at(f, p.o, () => f.get(i0), ldoB, () => f.get(p.dvDim));
      f.get(ldo).get(p.cst);
    });
  });
  f.end();
  // dV = Pᵀ · dO, before dS takes P's place
  keyStrips(p.s, gb, ldgb, p.dv, p.dvDim, dvB);
  queryStrips(({ js, je, xs, n, nz }) => {
    // dP = dO_strip · Vᵀ into the strip buffer; dS = scale·P∘(dP − Δ + dL) over P's rows
    mm('row', () => {
      at(f, p.g, () => f.get(i0), ldoB);
      f.get(ldoB).i32(4);
      at(f, p.vt, () => f.i32(0), null, () => f.get(xs));
      f.get(ldtB);
      stripCell(xs)();
      f.get(ldtB).get(n).get(p.dvDim);
    });
    cell(p.s, i0, xs)();
    f.get(p.ldt).get(mr).get(i0).get(xs).get(nz).get(p.off).get(p.window).get(p.scale);
    at(f, p.g, () => f.get(i0), ldoB);
    f.get(ldo);
    at(f, p.o, () => f.get(i0), ldoB);
    stripCell(xs)();
    f.get(p.dvDim).call(idx('attn_strip_dscore'));
    // dQ_strip = dS · K[js:je]
    mm('row', () => {
      cell(p.s, i0, js)();
      f.get(ldtB).i32(4);
      at(f, kb, () => f.get(js), ldkb);
      f.get(ldkb);
      at(f, p.dq, () => f.get(i0), dB);
      f.get(dB).get(p.d).get(je).get(js).i32Sub();
    });
  });
  // dK = dSᵀ · Q
  keyStrips(p.s, qb, ldqb, p.dk, p.d, dB);
  return f;
}

/** The small-path functions (calls by handle; `index` resolves the names outside them). */
export function smallAttentionFunctions(index: Idx, fma: boolean): Fn[] {
  const own: Fn[] = [transposeKernel(), copyKernel(), dscoreKernel()];
  for (const mode of ['softmax', 'probs'] as const) for (let mr = 1; mr <= MR; mr++) own.push(stripSoftmax(mode, mr));
  for (const layout of ['row', 'col'] as const) for (let mr = 1; mr <= MR; mr++) own.push(mmKernel(layout, mr, fma));
  const names = new Map(own.map((fn) => [fn.name, fn]));
  const idx: Idx = (name) => names.get(name) ?? index(name);
  const fwd = forward(idx);
  const bwd = backward(idx);
  return [...own, fwd, bwd, heads('attn_sfwd', fwd, SMALL.WORDS), heads('attn_sbwd', bwd, SMALL.WORDS)];
}
