/**
 * Softmax and probabilities over a whole strip of mr ≤ MR score rows at once (small-shape path):
 *
 * - `attn_sx_softmax_<mr>`: P = softmax(S) over each row's visible columns, 0 elsewhere;
 *   L = max + log Σ → Lp + r·ldL (floats)
 * - `attn_sx_probs_<mr>`:   P = exp(S − L), L read from Lp + r·ldL
 *
 * with S already scaled (the caller scales Kᵀ: one register and one multiply less per vector here).
 * (S, ldS, i0, jstart, ncols, off, window, Lp, ldL, cst): row r (query i0 + r) at S + 4·r·ldS,
 * column c = key jstart + c, visible for c in [max(0, lb + r), min(ncols, hb + r)) with
 * hb = i0 + off + 1 − jstart and lb = hb − window (window > 0); cst: SX_CONSTS·16 bytes of scratch
 * (see ConstPool).
 *
 * Why a strip and not a row at a time: at T = 64 a row has ~8 vectors, and per-row work (setup, a
 * loop exit and an edge branch that mispredict, a serial max → exp → sum → log chain) cost as much as
 * its exps: 7.7 ns per vector of probabilities row by row, 3.9 here. The rows of a strip share the
 * column loops, their chains interleave, and one vector log serves four rows. The vectors some row
 * does not fully see (the first and last few) are masked per row, in loops of their own; rows are
 * written in [lo₀ & −4, roundup(hi_last, 4)) and zeroed elsewhere below roundup(ncols, 4), so the
 * scores there must be finite (zeroed pads of Kᵀ).
 */
import { Fn, L, type Local } from '../../backends/cpu/wasm/emit.js';
import { VecCode } from '../../backends/cpu/wasm/elementwise.js';
import { ConstPool, fastExp, max, min } from './wasm-rows.js';

/** 16-byte constant slots the kernels' `cst` scratch needs */
export const SX_CONSTS = 16;

export const sxName = (mode: 'softmax' | 'probs', mr: number): string => `attn_sx_${mode}_${mr}`;

export function stripSoftmax(mode: 'softmax' | 'probs', mr: number): Fn {
  const f = new Fn(sxName(mode, mr), Array(10).fill('i32'));
  const [S, ldS, i0, jstart, ncols, off, window, Lp, ldL, cst] = f.params;
  const vc = new VecCode(f);
  const pool = new ConstPool(f, cst);
  const [c, c0, c1, cA, cB, end4, hb, lb] = Array.from({ length: 8 }, () => f.local('i32'));
  const rowp = Array.from({ length: mr }, () => f.local('i32'));
  const m = Array.from({ length: mr }, () => f.local('v128'));
  const sum = Array.from({ length: mr }, () => f.local('v128'));
  const [cidx, flb, fhb, fnc, x] = Array.from({ length: 5 }, () => f.local('v128'));
  const BIG = 1 << 30;

  for (let r = 0; r < mr; r++) f.get(S).i32(4 * r).get(ldS).i32Mul().i32Add().set(rowp[r]);
  f.get(i0).get(off).i32Add().i32(1).i32Add().get(jstart).i32Sub().set(hb);
  f.i32(-BIG).set(lb);
  f.get(window).i32(0).i32GtS().if();
  f.get(hb).get(window).i32Sub().set(lb);
  f.end();
  // union of the rows' ranges [c0, c1) in whole vectors
  max(f, () => f.i32(0), () => f.get(lb));
  f.i32(-4).i32And().set(c0);
  min(f, () => f.get(ncols), () => f.get(hb).i32(mr - 1).i32Add());
  f.i32(3).i32Add().i32(-4).i32And().set(c1);
  // cA = roundup(lo of the last row, 4), cB = (hi of row 0) & −4, both within [c0, c1]
  max(f, () => f.i32(0), () => f.get(lb).i32(mr - 1).i32Add());
  f.i32(3).i32Add().i32(-4).i32And().set(cA);
  max(f, () => f.get(cA), () => f.get(c0));
  f.set(cA);
  min(f, () => f.get(cA), () => f.get(c1));
  f.set(cA);
  min(f, () => f.get(ncols), () => f.get(hb));
  f.i32(-4).i32And().set(cB);
  min(f, () => f.get(cB), () => f.get(c1));
  f.set(cB);
  max(f, () => f.get(cB), () => f.get(cA));
  f.set(cB);
  f.get(ncols).i32(3).i32Add().i32(-4).i32And().set(end4);
  f.get(lb).f32ConvertI32S().f32x4Splat().set(flb);
  f.get(hb).f32ConvertI32S().f32x4Splat().set(fhb);
  f.get(ncols).f32ConvertI32S().f32x4Splat().set(fnc);

  const at = (r: number) => f.get(rowp[r]).get(c).i32(2).i32Shl().i32Add();
  /**
   * Column loop over the union: masked vectors [c0, cA) and [cB, c1) around unmasked [cA, cB). Three
   * loops, not one with a branch: V8 reloaded a dozen spilled values at every iteration of the merged one.
   */
  const columns = (body: (masked: boolean) => void): void => {
    const masked = (from: Local, to: Local) =>
      f.forRange(c, L(from), L(to), 4, () => {
        f.get(c).f32ConvertI32S().f32x4Splat().v128Const([0, 1, 2, 3]).f32x4Add().set(cidx);
        body(true);
      });
    masked(c0, cA);
    f.forRange(c, L(cA), L(cB), 4, () => body(false));
    masked(cB, c1);
  };
  /** v = v where row r sees the column, else `other` (inside an edge vector) */
  const mask = (r: number, v: Local, other: number): void => {
    f.get(v).v128Const([other, other, other, other]);
    f.get(cidx).v128Const([r, r, r, r]).f32x4Sub().set(x);
    f.get(x).get(flb).f32x4Ge().get(x).get(fhb).f32x4Lt().v128And().get(cidx).get(fnc).f32x4Lt().v128And();
    f.v128Bitselect().set(v);
  };
  const e = f.local('v128');
  const expPass = (withSum: boolean): void => {
    columns((masked) => {
      for (let r = 0; r < mr; r++) {
        at(r).v128Load().get(m[r]).f32x4Sub().set(e);
        f.get(fastExp(f, pool, e)).set(e);
        if (masked) mask(r, e, 0);
        at(r).get(e).v128Store();
        if (withSum) f.get(sum[r]).get(e).f32x4Add().set(sum[r]);
      }
    });
  };
  /** all lanes of v ← op over its lanes */
  const allLanes = (v: Local, op: () => void): void => {
    for (const lanes of [
      [2, 3, 0, 1],
      [1, 0, 3, 2],
    ]) {
      f.get(v).get(v).get(v).shuffle32(lanes);
      op();
      f.set(v);
    }
  };

  if (mode === 'softmax') {
    for (const v of m) f.v128Const([-Infinity, -Infinity, -Infinity, -Infinity]).set(v);
    columns((masked) => {
      for (let r = 0; r < mr; r++) {
        at(r).v128Load().set(e);
        if (masked) mask(r, e, -Infinity);
        f.get(e).get(m[r]).f32x4Pmax().set(m[r]);
      }
    });
    for (const v of m) allLanes(v, () => f.f32x4Pmax());
    for (const v of sum) f.v128Const([0, 0, 0, 0]).set(v);
    expPass(true);
    // row sums → lanes of one vector per 4 rows: one log and one division for all of them
    const l4 = f.local('v128');
    const lg = f.local('v128');
    for (let g = 0; g < mr; g += 4) {
      const rows = sum.slice(g, g + 4);
      for (const v of rows) allLanes(v, () => f.f32x4Add());
      f.v128Const([1, 1, 1, 1]).set(l4);
      rows.forEach((v, k) => f.get(l4).get(v).f32x4ExtractLane(0).f32x4ReplaceLane(k).set(l4));
      f.get(vc.log(l4)).set(lg);
      f.v128Const([1, 1, 1, 1]).get(l4).f32x4Div().set(l4);
      rows.forEach((_, k) => {
        const r = g + k;
        f.get(Lp).i32(4 * r).get(ldL).i32Mul().i32Add();
        f.get(lg).f32x4ExtractLane(k).get(m[r]).f32x4ExtractLane(0).f32Add().f32Store();
        f.get(l4).get(l4).shuffle32([k, k, k, k]).set(sum[r]);
      });
    }
    columns(() => {
      for (let r = 0; r < mr; r++) {
        at(r);
        at(r).v128Load().get(sum[r]).f32x4Mul().v128Store();
      }
    });
  } else {
    for (let r = 0; r < mr; r++) f.get(Lp).i32(4 * r).get(ldL).i32Mul().i32Add().load32Splat().set(m[r]);
    expPass(false);
  }
  // zeros outside the union, up to roundup(ncols, 4)
  for (const [from, to] of [
    [0, c0],
    [L(c1), end4],
  ] as const) {
    f.forRange(c, from, L(to), 4, () => {
      for (let r = 0; r < mr; r++) at(r).v128Const([0, 0, 0, 0]).v128Store();
    });
  }
  pool.finish();
  vc.finish();
  if (pool.size > SX_CONSTS) throw new Error('attention-softmax: constant pool overflow');
  return f;
}
