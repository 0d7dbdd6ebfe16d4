/**
 * The small-shape path's dS kernel and copies (attention-small.ts).
 *
 * `attn_strip_dscore(S, ldS, rows, i0, jstart, ncols, off, window, scaleBits, g, ldg, O, dP, dvDim)`:
 * P ← scale·P∘(dP − Δ + dL) per row (Δ = Σ_c<Dv dO·O, dL = g[Dv]; rows of g and O ldg floats apart):
 * dS takes P's place (the backward has used P for dV before), so a head's backward holds one [Tq, ldt]
 * matrix and a strip of dP, with P (at S) and dP as the row kernels of attention-rows.ts lay them out. Unlike those it runs whole
 * vectors over [lo & −4, roundup(hi, 4)) without masks, P being 0 there outside the visible keys (the
 * probabilities kernel wrote it) and dP finite (zeroed pads of Vᵀ), and zeroes the rest of the row
 * below roundup(ncols, 4): scalar tails cost a T = 64 row as much as its vectors.
 */
import { Fn, L, type Local, type Operand } from '../../backends/cpu/wasm/emit.js';
import { max, min } from './wasm-rows.js';

export function dscoreKernel(): Fn {
  const f = new Fn('attn_strip_dscore', Array(14).fill('i32'));
  const [S, ldS, rows, i0, jstart, ncols, off, window, scaleBits, g, ldg, O, dP, dvDim] = f.params;
  const [r, c, lo, hi, lo4, hi4, end4, prow, drow, grow, orow] = Array.from({ length: 11 }, () => f.local('i32'));
  const [scale, acc, mv] = Array.from({ length: 3 }, () => f.local('v128'));
  const sf = f.local('f32');
  f.get(scaleBits).f32ReinterpretI32().f32x4Splat().set(scale);
  f.get(ncols).i32(3).i32Add().i32(-4).i32And().set(end4);
  const vloop = (from: Operand, to: Local, body: () => void): void => {
    f.forRange(c, from, L(to), 4, body);
  };
  const addr = (base: Local) => () => f.get(base).get(c).i32(2).i32Shl().i32Add();

  f.forRange(r, 0, L(rows), 1, () => {
    const i = () => f.get(i0).get(r).i32Add().get(off).i32Add().i32(1).i32Add().get(jstart).i32Sub();
    min(f, () => f.get(ncols), i);
    f.set(hi);
    f.i32(0).set(lo);
    f.get(window).i32(0).i32GtS().if();
    max(f, () => f.i32(0), () => {
      i();
      f.get(window).i32Sub();
    });
    f.set(lo);
    f.end();
    f.get(lo).i32(-4).i32And().set(lo4);
    f.get(hi).i32(3).i32Add().i32(-4).i32And().set(hi4);
    f.get(S).get(r).get(ldS).i32Mul().i32(2).i32Shl().i32Add().set(prow);
    f.get(dP).get(r).get(ldS).i32Mul().i32(2).i32Shl().i32Add().set(drow);
    f.get(g).get(r).get(ldg).i32Mul().i32(2).i32Shl().i32Add().set(grow);
    f.get(O).get(r).get(ldg).i32Mul().i32(2).i32Shl().i32Add().set(orow);
    // Δ over whole vectors, then a scalar tail; mv = dL − Δ
    f.v128Const([0, 0, 0, 0]).set(acc);
    f.i32(0).set(c);
    f.block().loop();
    f.get(c).i32(4).i32Add().get(dvDim).i32GtS().brIf(1);
    f.get(acc);
    addr(grow)().v128Load();
    addr(orow)().v128Load();
    f.f32x4Mul().f32x4Add().set(acc);
    f.addTo(c, 4);
    f.br(0).end().end();
    f.get(grow).get(dvDim).i32(2).i32Shl().i32Add().f32Load();
    f.get(acc).f32x4ExtractLane(0).get(acc).f32x4ExtractLane(1).f32Add().get(acc).f32x4ExtractLane(2).f32Add().get(acc).f32x4ExtractLane(3).f32Add();
    f.f32Sub().set(sf);
    f.block().loop();
    f.get(c).get(dvDim).i32GeS().brIf(1);
    f.get(sf);
    addr(grow)().f32Load();
    addr(orow)().f32Load();
    f.f32Mul().f32Sub().set(sf);
    f.addTo(c, 1);
    f.br(0).end().end();
    f.get(sf).f32x4Splat().set(mv);
    vloop(L(lo4), hi4, () => {
      addr(prow)();
      addr(drow)().v128Load().get(mv).f32x4Add();
      addr(prow)().v128Load().f32x4Mul().get(scale).f32x4Mul().v128Store();
    });
    for (const [from, to] of [
      [0, lo4],
      [L(hi4), end4],
    ] as const) vloop(from, to, () => addr(prow)().v128Const([0, 0, 0, 0]).v128Store());
  });
  return f;
}

/**
 * `attn_tr(src, srs, rows, cols, dst, ldd, scaleBits)` (strides in bytes): dst[c][r] = scale·src[r][c]
 * (4×4 blocks by shuffles, scalar edges), then zeros in dst columns [rows, ldd/4): the pads the strip
 * kernels rely on.
 */
export function transposeKernel(): Fn {
  const f = new Fn('attn_tr', Array(7).fill('i32'));
  const [src, srs, rows, cols, dst, ldd, scaleBits] = f.params;
  const scale = f.local('v128');
  f.get(scaleBits).f32ReinterpretI32().f32x4Splat().set(scale);
  const [r, q, rows4, cols4] = Array.from({ length: 4 }, () => f.local('i32'));
  const v = Array.from({ length: 4 }, () => f.local('v128'));
  const t = Array.from({ length: 4 }, () => f.local('v128'));
  const from = (row: () => void, col: () => void) => {
    f.get(src);
    row();
    f.get(srs).i32Mul().i32Add();
    col();
    f.i32(2).i32Shl().i32Add();
  };
  const to = (row: () => void, col: () => void) => {
    f.get(dst);
    row();
    f.get(ldd).i32Mul().i32Add();
    col();
    f.i32(2).i32Shl().i32Add();
  };
  const scalar = (r0: Operand, r1: Local, q0: Operand, q1: Local) => {
    f.forRange(r, r0, L(r1), 1, () => {
      f.forRange(q, q0, L(q1), 1, () => {
        to(() => f.get(q), () => f.get(r));
        from(() => f.get(r), () => f.get(q));
        f.f32Load().get(scale).f32x4ExtractLane(0).f32Mul().f32Store();
      });
    });
  };
  f.get(rows).i32(-4).i32And().set(rows4);
  f.get(cols).i32(-4).i32And().set(cols4);
  f.forRange(r, 0, L(rows4), 4, () => {
    f.forRange(q, 0, L(cols4), 4, () => {
      for (let k = 0; k < 4; k++) {
        from(() => f.get(r).i32(k).i32Add(), () => f.get(q));
        f.v128Load().get(scale).f32x4Mul().set(v[k]);
      }
      f.get(v[0]).get(v[1]).shuffle32([0, 4, 1, 5]).set(t[0]);
      f.get(v[0]).get(v[1]).shuffle32([2, 6, 3, 7]).set(t[1]);
      f.get(v[2]).get(v[3]).shuffle32([0, 4, 1, 5]).set(t[2]);
      f.get(v[2]).get(v[3]).shuffle32([2, 6, 3, 7]).set(t[3]);
      for (let k = 0; k < 4; k++) {
        to(() => f.get(q).i32(k).i32Add(), () => f.get(r));
        f.get(t[k >> 1]).get(t[2 + (k >> 1)]).shuffle32(k % 2 ? [2, 3, 6, 7] : [0, 1, 4, 5]).v128Store();
      }
    });
  });
  scalar(0, rows4, L(cols4), cols);
  scalar(L(rows4), rows, 0, cols);
  f.forRange(q, 0, L(cols), 1, () => {
    f.forRange(r, L(rows), () => f.get(ldd).i32(2).i32ShrS(), 1, () => {
      to(() => f.get(q), () => f.get(r));
      f.f32(0).f32Store();
    });
  });
  return f;
}

/** `attn_cp(src, srs, rows, cols, dst, ldd)` (strides in bytes): a row-padded copy, for odd widths only. */
export function copyKernel(): Fn {
  const f = new Fn('attn_cp', Array(6).fill('i32'));
  const [src, srs, rows, cols, dst, ldd] = f.params;
  const r = f.local('i32');
  const q = f.local('i32');
  f.forRange(r, 0, L(rows), 1, () => {
    f.forRange(q, 0, L(cols), 1, () => {
      f.get(dst).get(r).get(ldd).i32Mul().i32Add().get(q).i32(2).i32Shl().i32Add();
      f.get(src).get(r).get(srs).i32Mul().i32Add().get(q).i32(2).i32Shl().i32Add().f32Load().f32Store();
    });
  });
  return f;
}
