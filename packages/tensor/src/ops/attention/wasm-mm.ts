/**
 * The GEMM of the small-shape attention path (attention-small.ts): `C[mr × n] = A[mr × kk] · B[kk × n]`
 * with A read in place (row-major: mr row pointers; column-major: one pointer, the mr values of a k
 * step side by side, i.e. a block of Pᵀ or dSᵀ read from the score matrix) and B read in place as rows
 * `ldb` bytes apart, with no packing. At head dim 16 a packed GEMM call (gemm.ts) spends more on
 * packing B and on its per-call setup than on the 16-step k loop; here B is a transposed copy made once
 * per head (Kᵀ, Vᵀ) or the input rows themselves, and one call covers a strip of rows.
 *
 * Tiles are 4 × 8, not the 5 × 8 of gemm-packed.ts: a tile's rows are a strip's, and the strip
 * softmax of attention-softmax.ts spilled with 5 rows (7.2 against 4.3 ns per vector of exps), while
 * this GEMM measured the same ~41 GFLOPS with 4 rows (L1-resident, k = 16 to 256). Unrolling the k
 * loop by 2 spilled (30 GFLOPS). B must be readable up to column roundup(n, NR) (callers pad); C gets
 * exactly n columns (the last tile's stores are cut to the lanes that exist), so C can be the output.
 */
import { Fn, L, type Local } from '../../backends/cpu/wasm/emit.js';
import { tileRowMulAdd } from '../../backends/cpu/wasm/gemm-tile.js';

/** Rows and f32x4 columns of the register tile. */
export const SMALL_MR = 4;
export const SMALL_NV = 2;
export const SMALL_NR = 4 * SMALL_NV;

export type Layout = 'row' | 'col';

export const mmName = (layout: Layout, mr: number): string => `attn_mm_${layout}_${mr}`;

/**
 * `attn_mm_<layout>_<mr>(a, ars, acs, b, ldb, c, ldc, n, kk, tile)` (strides in bytes): A(r, k) at
 * a + r·ars + k·acs (row layout: acs is 4; col layout: ars is 4); kk ≥ 1; `tile`: MR·NR floats.
 */
export function mmKernel(layout: Layout, mr: number, fma: boolean): Fn {
  const NV = SMALL_NV;
  const NR = SMALL_NR;
  const f = new Fn(mmName(layout, mr), Array(10).fill('i32'));
  const [a, ars, acs, b, ldb, c, ldc, n, kk, tile] = f.params;
  const acc: Local[][] = [];
  for (let r = 0; r < mr; r++) acc.push(Array.from({ length: NV }, () => f.local('v128')));
  const bv = Array.from({ length: NV }, () => f.local('v128'));
  const av = f.local('v128');
  const p: Local[] = Array.from({ length: layout === 'row' ? mr : 1 }, () => f.local('i32'));
  const pb = f.local('i32');
  const end = f.local('i32');
  const j = f.local('i32');
  const row = f.local('i32');
  const rem = f.local('i32');
  const pc = f.local('i32');
  const ld = f.local('i32');
  const q = f.local('i32');

  const step = (first: boolean): void => {
    for (let v = 0; v < NV; v++) f.get(pb).v128Load(16 * v).set(bv[v]);
    for (let r = 0; r < mr; r++) {
      if (layout === 'row') f.get(p[r]).load32Splat();
      else f.get(p[0]).load32Splat(4 * r);
      f.set(av);
      tileRowMulAdd(f, av, bv, acc[r], first, fma);
    }
    for (const ptr of p) f.addTo(ptr, layout === 'row' ? 4 : L(acs));
    f.addTo(pb, L(ldb));
  };
  f.forRange(j, 0, L(n), NR, () => {
    f.get(b).get(j).i32(2).i32Shl().i32Add().set(pb);
    f.get(a).set(p[0]);
    for (let r = 1; r < p.length; r++) f.get(p[r - 1]).get(ars).i32Add().set(p[r]);
    // as tileKLoop (first step peeled, pointer-compare exit), B rows being ldb bytes apart
    f.get(pb).get(kk).get(ldb).i32Mul().i32Add().set(end);
    step(true);
    f.block().loop();
    f.get(pb).get(end).i32GeS().brIf(1);
    step(false);
    f.br(0).end().end();
    // a cut tile goes through the tile buffer: lane stores of the accumulators made V8 spill them (2× slower)
    f.get(n).get(j).i32Sub().set(rem);
    f.get(c).get(j).i32(2).i32Shl().i32Add().set(pc);
    f.get(pc).set(row);
    f.get(ldc).set(ld);
    f.get(rem).i32(NR).i32LtS().if();
    f.get(tile).set(row);
    f.i32(4 * NR).set(ld);
    f.end();
    acc.forEach((rowAcc, r) => {
      if (r > 0) f.addTo(row, L(ld));
      rowAcc.forEach((x, v) => f.get(row).get(x).v128Store(16 * v));
    });
    f.get(rem).i32(NR).i32LtS().if();
    for (let r = 0; r < mr; r++) {
      f.forRange(q, 0, L(rem), 1, () => {
        f.get(pc).get(q).i32(2).i32Shl().i32Add();
        f.get(tile).get(q).i32(2).i32Shl().i32Add().f32Load(4 * NR * r);
        f.f32Store();
      });
      if (r < mr - 1) f.addTo(pc, L(ldc));
    }
    f.end();
  });
  return f;
}
