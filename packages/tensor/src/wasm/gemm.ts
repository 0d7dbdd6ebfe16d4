/**
 * WebAssembly SIMD single-precision GEMM, generated with the emitter:
 *
 * - the right operand is packed per KC-deep slab into NR-wide column panels (zero-padded), with a SIMD
 *   4×4 transpose when it is column-major (the `Wᵀ` of a backward pass);
 * - the left operand is read in place (row-major: MR row pointers; column-major: one pointer, the MR
 *   rows side by side), so `Xᵀ @ dY` needs no copy either;
 * - an MR×NR register tile (MR·NR/4 f32x4 accumulators) is updated with `f32x4.mul` + `f32x4.add` per k;
 * - edge tiles (fewer than NR columns) go through a small tile buffer.
 *
 * The driver computes the columns [n0, n1) of `C = A @ B` (rows [m0, m1)), so threads split the
 * output by calling it on disjoint ranges with their own packing buffers.
 */
import { Fn, L, type Local, type Operand } from './emit.js';

export interface GemmConfig {
  /** rows of the register tile */
  readonly MR: number;
  /** f32x4 vectors per tile row (NR = 4·NV columns) */
  readonly NV: number;
  /** depth of a packed slab */
  readonly KC: number;
  /** k-loop unroll of the row-major microkernel */
  readonly U: number;
}

export const DEFAULT_GEMM: GemmConfig = { MR: 5, NV: 2, KC: 256, U: 1 };

export type ALayout = 'row' | 'col';

/**
 * The microkernel `mk_<layout>_<mr>(pa, ars, acs, pb, pc, ldcb, kc, acc)`: C[mr × NR] (+)= A[mr × kc] · Bpanel[kc × NR].
 * pa: address of A(0,0); ars/acs: A strides in bytes (row / k); pb: packed panel; pc: C tile;
 * ldcb: C row stride in bytes; acc: 1 to add to the existing C tile.
 */
export function microkernel(cfg: GemmConfig, layout: ALayout, mr: number): Fn {
  const { NV, U } = cfg;
  const NR = 4 * NV;
  const f = new Fn(`mk_${layout}_${mr}`, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [pa, ars, acs, pb, pc, ldcb, kc, acc] = f.params;
  const c: Local[][] = [];
  for (let r = 0; r < mr; r++) c.push(Array.from({ length: NV }, () => f.local('v128')));
  const b = Array.from({ length: NV }, () => f.local('v128'));
  const a = f.local('v128');
  const k = f.local('i32');
  const rowAddr = f.local('i32');
  const p: Local[] = layout === 'row' ? Array.from({ length: mr }, () => f.local('i32')) : [f.local('i32')];

  // load or zero the accumulators
  f.get(acc).if();
  f.get(pc).set(rowAddr);
  for (let r = 0; r < mr; r++) {
    if (r > 0) f.addTo(rowAddr, L(ldcb));
    for (let v = 0; v < NV; v++) f.get(rowAddr).v128Load(16 * v).set(c[r][v]);
  }
  f.else();
  for (let r = 0; r < mr; r++) for (let v = 0; v < NV; v++) f.v128Const([0, 0, 0, 0]).set(c[r][v]);
  f.end();

  // A pointers
  if (layout === 'row') {
    f.get(pa).set(p[0]);
    for (let r = 1; r < mr; r++) f.get(p[r - 1]).get(ars).i32Add().set(p[r]);
  } else {
    f.get(pa).set(p[0]);
  }

  /** one k step; `u` selects immediates (row layout) */
  const step = (u: number): void => {
    for (let v = 0; v < NV; v++) f.get(pb).v128Load(u * NR * 4 + 16 * v).set(b[v]);
    for (let r = 0; r < mr; r++) {
      if (layout === 'row') f.get(p[r]).load32Splat(4 * u);
      else f.get(p[0]).load32Splat(4 * r);
      f.set(a);
      for (let v = 0; v < NV; v++) f.get(c[r][v]).get(a).get(b[v]).f32x4Mul().f32x4Add().set(c[r][v]);
    }
  };

  f.get(kc).set(k);
  if (layout === 'row' && U > 1) {
    // unrolled main loop
    f.block().loop();
    f.get(k).i32(U).i32LtS().brIf(1);
    for (let u = 0; u < U; u++) step(u);
    for (let r = 0; r < mr; r++) f.addTo(p[r], 4 * U);
    f.addTo(pb, U * NR * 4);
    f.get(k).i32(U).i32Sub().set(k);
    f.br(0).end().end();
  }
  // remaining steps
  f.block().loop();
  f.get(k).i32Eqz().brIf(1);
  step(0);
  if (layout === 'row') for (let r = 0; r < mr; r++) f.addTo(p[r], 4);
  else f.addTo(p[0], L(acs));
  f.addTo(pb, NR * 4);
  f.get(k).i32(1).i32Sub().set(k);
  f.br(0).end().end();

  // store
  f.get(pc).set(rowAddr);
  for (let r = 0; r < mr; r++) {
    if (r > 0) f.addTo(rowAddr, L(ldcb));
    for (let v = 0; v < NV; v++) f.get(rowAddr).get(c[r][v]).v128Store(16 * v);
  }
  return f;
}

/**
 * `pack_b(src, brs, bcs, kc, ncols, dst)`: B(k, j) at src + 4·(k·brs + j·bcs) for k < kc, j < ncols →
 * NR-wide panels, each kc·NR floats, columns past ncols zero. Strides in elements.
 */
export function packB(cfg: GemmConfig): Fn {
  const NR = 4 * cfg.NV;
  const f = new Fn('pack_b', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [src, brs, bcs, kc, ncols, dst] = f.params;
  const jp = f.local('i32');
  const w = f.local('i32');
  const k = f.local('i32');
  const j = f.local('i32');
  const s = f.local('i32');
  const d = f.local('i32');
  const brsB = f.local('i32');
  const bcsB = f.local('i32');
  const r = Array.from({ length: 4 }, () => f.local('v128'));
  const t = Array.from({ length: 4 }, () => f.local('v128'));
  f.get(brs).i32(2).i32Shl().set(brsB);
  f.get(bcs).i32(2).i32Shl().set(bcsB);
  f.forRange(jp, 0, L(ncols), NR, () => {
    // w = min(NR, ncols - jp)
    f.get(ncols).get(jp).i32Sub().set(w);
    f.i32(NR).get(w).get(w).i32(NR).i32GtS().select().set(w);
    // s = src + jp*bcs*4
    f.get(src).get(jp).get(bcsB).i32Mul().i32Add().set(s);
    f.get(w).i32(NR).i32Eq().get(bcs).i32(1).i32Eq().i32And().if();
    {
      // row-major B: vector copies
      f.forRange(k, 0, L(kc), 1, () => {
        for (let v = 0; v < cfg.NV; v++) f.get(dst).get(s).v128Load(16 * v).v128Store(16 * v);
        f.addTo(s, L(brsB));
        f.addTo(dst, NR * 4);
      });
    }
    f.else();
    f.get(w).i32(NR).i32Eq().get(brs).i32(1).i32Eq().i32And().if();
    {
      // column-major B: 4×4 transposes, k in steps of 4, scalar tail
      f.i32(0).set(k);
      f.block().loop();
      f.get(k).i32(4).i32Add().get(kc).i32GtS().brIf(1);
      for (let g = 0; g < cfg.NV; g++) {
        // columns jp+4g .. jp+4g+3, rows k..k+3: address s + 4k + (4g + c)·bcs·4
        for (let c = 0; c < 4; c++) {
          f.get(s).get(k).i32(2).i32Shl().i32Add();
          if (4 * g + c > 0) f.get(bcsB).i32(4 * g + c).i32Mul().i32Add();
          f.v128Load().set(r[c]);
        }
        f.get(r[0]).get(r[1]).shuffle32([0, 4, 1, 5]).set(t[0]);
        f.get(r[0]).get(r[1]).shuffle32([2, 6, 3, 7]).set(t[1]);
        f.get(r[2]).get(r[3]).shuffle32([0, 4, 1, 5]).set(t[2]);
        f.get(r[2]).get(r[3]).shuffle32([2, 6, 3, 7]).set(t[3]);
        // row k+q of the panel: dst + (k+q)·NR·4 + 16g
        const out = (q: number, x: Local, y: Local, lanes: number[]) => {
          f.get(dst).get(k).i32(NR * 4).i32Mul().i32Add();
          f.get(x).get(y).shuffle32(lanes).v128Store(q * NR * 4 + 16 * g);
        };
        out(0, t[0], t[2], [0, 1, 4, 5]);
        out(1, t[0], t[2], [2, 3, 6, 7]);
        out(2, t[1], t[3], [0, 1, 4, 5]);
        out(3, t[1], t[3], [2, 3, 6, 7]);
      }
      f.addTo(k, 4);
      f.br(0).end().end();
      // tail rows
      f.block().loop();
      f.get(k).get(kc).i32GeS().brIf(1);
      f.forRange(j, 0, NR, 1, () => {
        f.get(dst).get(k).i32(NR).i32Mul().get(j).i32Add().i32(2).i32Shl().i32Add();
        f.get(s).get(k).get(brsB).i32Mul().i32Add().get(j).get(bcsB).i32Mul().i32Add().f32Load();
        f.f32Store();
      });
      f.addTo(k, 1);
      f.br(0).end().end();
      f.get(dst).get(kc).i32(NR * 4).i32Mul().i32Add().set(dst);
    }
    f.else();
    {
      // general strides or a partial panel: scalar, zero padding
      f.forRange(k, 0, L(kc), 1, () => {
        f.get(s).set(d);
        f.forRange(j, 0, NR, 1, () => {
          f.get(dst).get(j).i32(2).i32Shl().i32Add();
          f.get(j).get(w).i32LtS().ifResult('f32');
          f.get(d).f32Load();
          f.else();
          f.f32(0);
          f.end();
          f.f32Store();
          f.addTo(d, L(bcsB));
        });
        f.addTo(s, L(brsB));
        f.addTo(dst, NR * 4);
      });
    }
    f.end();
    f.end();
  });
  return f;
}

/**
 * `gemm_<layout>(a, ars, acs, b, brs, bcs, c, ldc, m0, m1, n0, n1, K, bp, tile)`: C[m0:m1, n0:n1] = A @ B.
 * Addresses in bytes, strides in elements. `bp` holds KC·roundup(n1−n0, NR) floats, `tile` MR·NR.
 * Function indices: mk[mr-1] are the microkernels of this layout, packIdx pack_b.
 */
export function driver(cfg: GemmConfig, layout: ALayout, mkIndex: (mr: number) => number, packIdx: number, accumulate = false): Fn {
  const { MR, KC } = cfg;
  const NR = 4 * cfg.NV;
  const f = new Fn(`gemm_${layout}${accumulate ? '_acc' : ''}`, Array(15).fill('i32'));
  const [a, ars, acs, b, brs, bcs, c, ldc, m0, m1, n0, n1, K, bp, tile] = f.params;
  const pc = f.local('i32');
  const kc = f.local('i32');
  const i = f.local('i32');
  const mr = f.local('i32');
  const pa = f.local('i32');
  const j = f.local('i32');
  const nr = f.local('i32');
  const pbp = f.local('i32');
  const pcc = f.local('i32');
  const acc = f.local('i32');
  const ldcb = f.local('i32');
  const arsB = f.local('i32');
  const acsB = f.local('i32');
  const r = f.local('i32');
  const q = f.local('i32');
  f.get(ldc).i32(2).i32Shl().set(ldcb);
  f.get(ars).i32(2).i32Shl().set(arsB);
  f.get(acs).i32(2).i32Shl().set(acsB);

  const callMk = (pcArg: Operand, ldcArg: Operand, accArg: Operand) => {
    // dispatch on mr (mr == MR is the common case)
    const emitCall = (m: number) => {
      f.get(pa).get(arsB).get(acsB).get(pbp).push(pcArg).push(ldcArg).get(kc).push(accArg);
      f.call(mkIndex(m));
    };
    for (let m = MR; m >= 1; m--) {
      if (m > 1) {
        f.get(mr).i32(m).i32Eq().if();
        emitCall(m);
        f.else();
      } else emitCall(1);
    }
    for (let m = MR; m > 1; m--) f.end();
  };

  f.forRange(pc, 0, L(K), KC, () => {
    // kc = min(KC, K - pc); acc = pc > 0
    f.get(K).get(pc).i32Sub().set(kc);
    f.i32(KC).get(kc).get(kc).i32(KC).i32GtS().select().set(kc);
    if (accumulate) f.i32(1).set(acc);
    else f.get(pc).i32(0).i32GtS().set(acc);
    // pack B[pc:pc+kc, n0:n1]
    f.get(b).get(pc).get(brs).i32Mul().get(n0).get(bcs).i32Mul().i32Add().i32(2).i32Shl().i32Add();
    f.get(brs).get(bcs).get(kc).get(n1).get(n0).i32Sub().get(bp).call(packIdx);
    f.forRange(i, L(m0), L(m1), MR, () => {
      f.get(m1).get(i).i32Sub().set(mr);
      f.i32(MR).get(mr).get(mr).i32(MR).i32GtS().select().set(mr);
      // pa = a + 4*(i*ars + pc*acs)
      f.get(a).get(i).get(ars).i32Mul().get(pc).get(acs).i32Mul().i32Add().i32(2).i32Shl().i32Add().set(pa);
      f.forRange(j, L(n0), L(n1), NR, () => {
        f.get(n1).get(j).i32Sub().set(nr);
        // pbp = bp + (j - n0) * kc * 4 ; pcc = c + 4*(i*ldc + j)
        f.get(bp).get(j).get(n0).i32Sub().get(kc).i32Mul().i32(2).i32Shl().i32Add().set(pbp);
        f.get(c).get(i).get(ldc).i32Mul().get(j).i32Add().i32(2).i32Shl().i32Add().set(pcc);
        f.get(nr).i32(NR).i32GeS().if();
        callMk(L(pcc), L(ldcb), L(acc));
        f.else();
        {
          // edge panel through the tile buffer: tile[r][q] = acc ? C : 0, then copy back the valid part
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
          callMk(L(tile), NR * 4, 1);
          f.forRange(r, 0, L(mr), 1, () => {
            f.forRange(q, 0, L(nr), 1, () => {
              f.get(pcc).get(r).get(ldcb).i32Mul().i32Add().get(q).i32(2).i32Shl().i32Add();
              f.get(tile).get(r).i32(NR).i32Mul().get(q).i32Add().i32(2).i32Shl().i32Add().f32Load();
              f.f32Store();
            });
          });
        }
        f.end();
      });
    });
  });
  return f;
}

/**
 * All GEMM functions in module order (indices from `base`): `gemm_row` / `gemm_col` overwrite C,
 * `gemm_row_acc` / `gemm_col_acc` add to it.
 */
export function gemmFunctions(cfg: GemmConfig = DEFAULT_GEMM, base = 0): Fn[] {
  const fns: Fn[] = [];
  const pack = packB(cfg);
  fns.push(pack);
  const packIdx = base;
  for (const layout of ['row', 'col'] as const) {
    const first = base + fns.length;
    for (let mr = 1; mr <= cfg.MR; mr++) fns.push(microkernel(cfg, layout, mr));
    fns.push(driver(cfg, layout, (m) => first + m - 1, packIdx));
    fns.push(driver(cfg, layout, (m) => first + m - 1, packIdx, true));
  }
  return fns;
}
