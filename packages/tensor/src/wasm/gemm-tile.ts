/**
 * The register-tile pieces both microkernels emit (the packed one of gemm-packed.ts and the in-place one of
 * gemm.ts): the k loop with its first step peeled and a pointer-compare exit, the multiply-add of one
 * broadcast A value into a tile row, and the store (or add) of the tile to C. Why this shape: gemm-packed.ts.
 */
import { L, type Fn, type Local } from './emit.js';

/** `c[v] = a·b[v]` on the first k step, `c[v] += a·b[v]` after, for one tile row. */
export function tileRowMulAdd(f: Fn, a: Local, b: readonly Local[], row: readonly Local[], first: boolean): void {
  for (let v = 0; v < b.length; v++) {
    if (first) f.get(a).get(b[v]).f32x4Mul().set(row[v]);
    else f.get(row[v]).get(a).get(b[v]).f32x4Mul().f32x4Add().set(row[v]);
  }
}

/** `step(true)`, then `step(false)` until the packed B pointer `pb` has advanced kc·NR floats. kc ≥ 1. */
export function tileKLoop(f: Fn, l: { pb: Local; kc: Local; end: Local; NR: number }, step: (first: boolean) => void): void {
  f.get(l.pb).get(l.kc).i32(l.NR * 4).i32Mul().i32Add().set(l.end);
  step(true);
  f.block().loop();
  f.get(l.pb).get(l.end).i32GeS().brIf(1);
  step(false);
  f.br(0).end().end();
}

/** C = tile, or C += tile when `acc` is set; C's rows start at `pc`, `ldcb` bytes apart (`row`: a scratch local). */
export function tileStore(f: Fn, l: { pc: Local; ldcb: Local; acc: Local; row: Local; c: readonly (readonly Local[])[] }): void {
  const store = (add: boolean): void => {
    f.get(l.pc).set(l.row);
    l.c.forEach((tileRow, r) => {
      if (r > 0) f.addTo(l.row, L(l.ldcb));
      tileRow.forEach((acc, v) => {
        f.get(l.row);
        if (add) f.get(l.row).v128Load(16 * v).get(acc).f32x4Add();
        else f.get(acc);
        f.v128Store(16 * v);
      });
    });
  };
  f.get(l.acc).if();
  store(true);
  f.else();
  store(false);
  f.end();
}
