/**
 * The register-tile pieces both microkernels emit (the packed one of gemm-packed.ts and the in-place one of
 * gemm.ts): the k loop with its first step peeled and a pointer-compare exit, the multiply-add of one
 * broadcast A value into a tile row, and the store (or add) of the tile to C. Why this shape: gemm-packed.ts.
 */
import { L, type Fn, type Local, type Operand } from './emit.js';

/**
 * `c[v] = a·b[v]` on the first k step, `c[v] += a·b[v]` after, for one tile row: one relaxed multiply-add
 * per vector when `fma` (backends/cpu/relaxed-simd.ts), else a mul and an add.
 */
export function tileRowMulAdd(f: Fn, a: Local, b: readonly Local[], row: readonly Local[], first: boolean, fma: boolean): void {
  for (let v = 0; v < b.length; v++) {
    if (first) f.get(a).get(b[v]).f32x4Mul().set(row[v]);
    else if (fma) f.get(a).get(b[v]).get(row[v]).f32x4RelaxedMadd().set(row[v]);
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

/**
 * A tile whose B panel has only `nr` < NR valid columns, run through the per-thread tile buffer: `tile[r][q]` =
 * C's value where `acc` is set and q < nr, else 0, for the `mr` rows; then `call()` (the microkernel on the
 * buffer, accumulating); then the valid part copied back to C at `pcc` (rows `ldcb` bytes apart).
 */
export function edgeTile(f: Fn, l: { tile: Local; pcc: Local; ldcb: Local; acc: Local; mr: Local; nr: Local; r: Local; q: Local; NR: number }, call: () => void): void {
  const { tile, pcc, ldcb, acc, mr, nr, r, q, NR } = l;
  f.forRange(r, 0, L(mr), 1, () => {
    f.forRange(q, 0, NR, 1, () => {
      f.get(tile).get(r).i32(NR).i32Mul().get(q).i32Add().i32(2).i32Shl().i32Add();
      f.get(acc).get(q).get(nr).i32LtS().i32And().ifResult('f32');
      f.get(pcc).get(r).get(ldcb).i32Mul().i32Add().get(q).i32(2).i32Shl().i32Add().f32Load();
      f.else();
      f.f32(0);
      f.end();
      f.f32Store();
    });
  });
  call();
  f.forRange(r, 0, L(mr), 1, () => {
    f.forRange(q, 0, L(nr), 1, () => {
      f.get(pcc).get(r).get(ldcb).i32Mul().i32Add().get(q).i32(2).i32Shl().i32Add();
      f.get(tile).get(r).i32(NR).i32Mul().get(q).i32Add().i32(2).i32Shl().i32Add().f32Load();
      f.f32Store();
    });
  });
}

/** `call(m)` for the tile's row count in local `mr` (1 ≤ mr ≤ MR): an if-chain from MR, the common case, down. */
export function byRows(f: Fn, mr: Local, MR: number, call: (m: number) => void): void {
  for (let m = MR; m >= 1; m--) {
    if (m > 1) f.get(mr).i32(m).i32Eq().if();
    call(m);
    if (m > 1) f.else();
  }
  for (let m = MR; m > 1; m--) f.end();
}

/**
 * The C tile at row `i`, column `j` of the in-place drivers (`pcc` = c + 4·(i·ldc + j)): the microkernel
 * `callMk(pc, ldcb, acc)` straight into C when its panel has `nr` ≥ NR columns, else through the tile
 * buffer (edgeTile).
 */
export function cTile(
  f: Fn,
  l: { c: Local; i: Local; ldc: Local; j: Local; tile: Local; pcc: Local; ldcb: Local; acc: Local; mr: Local; nr: Local; r: Local; q: Local; NR: number },
  callMk: (pc: Operand, ldcb: Operand, acc: Operand) => void,
): void {
  f.get(l.c).get(l.i).get(l.ldc).i32Mul().get(l.j).i32Add().i32(2).i32Shl().i32Add().set(l.pcc);
  f.get(l.nr).i32(l.NR).i32GeS().if();
  callMk(L(l.pcc), L(l.ldcb), L(l.acc));
  f.else();
  edgeTile(f, l, () => callMk(L(l.tile), l.NR * 4, 1));
  f.end();
}
