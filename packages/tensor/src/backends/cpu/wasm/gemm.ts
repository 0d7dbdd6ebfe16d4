/**
 * WebAssembly SIMD single-precision GEMM, generated with the emitter. This file holds the in-place GEMM
 * (`gemm_row` / `gemm_col`, used inside fused attention on small blocks and by matmul for products with
 * few output columns, where packing A would not pay: backends/cpu/matmul.ts readAInPlace); other products use
 * the packed GEMM of gemm-packed.ts. The in-place GEMM:
 *
 * - the right operand is packed per KC-deep slab into NR-wide column panels (zero-padded), with a SIMD
 *   4×4 transpose when it is column-major (the `Wᵀ` of a backward pass);
 * - the left operand is read in place (row-major: MR row pointers; column-major: one pointer, the MR
 *   rows side by side), so `Xᵀ @ dY` needs no copy either;
 * - an MR×NR register tile (MR·NR/4 f32x4 accumulators) is updated with `f32x4.mul` + `f32x4.add` per k
 *   (first step peeled, loop ending on a pointer compare: see gemm-packed.ts), then stored or added to C;
 * - edge tiles (fewer than NR columns) go through a small tile buffer.
 *
 * The driver computes the columns [n0, n1) of `C = A @ B` (rows [m0, m1)), so threads split the
 * output by calling it on disjoint ranges with their own packing buffers.
 */
import { Fn, L, type Local, type Operand } from './emit.js';
import { byRows, cTile, tileKLoop, tileRowMulAdd, tileStore } from './gemm-tile.js';
import { packedDriver, packedKernel, packedRowsDriver } from './gemm-packed.js';
import { packA as packAFn, packASlabs, packB } from './gemm-pack.js';

export interface GemmConfig {
  /** rows of the register tile */
  readonly MR: number;
  /** f32x4 vectors per tile row (NR = 4·NV columns) */
  readonly NV: number;
  /** depth of a packed slab */
  readonly KC: number;
  /** k-loop unroll: no longer used (unrolled k loops made V8 spill the accumulators: 2–4× slower) */
  readonly U: number;
  /** multiply-add with relaxed SIMD's `f32x4.relaxed_madd` (backends/cpu/relaxed-simd.ts) */
  readonly fma: boolean;
}

/**
 * The register tile for this engine: 6×8 with fused multiply-adds (12 accumulators, 2 B vectors and the
 * broadcast A fill V8's 15 usable registers), else 5×8 (a mul + add needs one more register for the
 * product: gemm-packed.ts).
 */
export const gemmConfig = (fma: boolean): GemmConfig => ({ MR: fma ? 6 : 5, NV: 2, KC: 256, U: 1, fma });

export type ALayout = 'row' | 'col';

/**
 * The microkernel `mk_<layout>_<mr>(pa, ars, acs, pb, pc, ldcb, kc, acc)`: C[mr × NR] (+)= A[mr × kc] · Bpanel[kc × NR].
 * pa: address of A(0,0); ars/acs: A strides in bytes (row / k); pb: packed panel; pc: C tile;
 * ldcb: C row stride in bytes; acc: 1 to add to the existing C tile.
 */
export function microkernel(cfg: GemmConfig, layout: ALayout, mr: number): Fn {
  const { NV } = cfg;
  const NR = 4 * NV;
  const f = new Fn(`mk_${layout}_${mr}`, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [pa, ars, acs, pb, pc, ldcb, kc, acc] = f.params;
  const c: Local[][] = [];
  for (let r = 0; r < mr; r++) c.push(Array.from({ length: NV }, () => f.local('v128')));
  const b = Array.from({ length: NV }, () => f.local('v128'));
  const a = f.local('v128');
  const end = f.local('i32');
  const rowAddr = f.local('i32');
  const p: Local[] = layout === 'row' ? Array.from({ length: mr }, () => f.local('i32')) : [f.local('i32')];

  // A pointers
  f.get(pa).set(p[0]);
  if (layout === 'row') for (let r = 1; r < mr; r++) f.get(p[r - 1]).get(ars).i32Add().set(p[r]);

  // One k step. As in gemm-packed.ts (measured there): the first step is peeled (c = a·b, no zeroed
  // accumulators) and the loop ends on a pointer compare; unrolling makes V8 spill.
  const step = (first: boolean): void => {
    for (let v = 0; v < NV; v++) f.get(pb).v128Load(16 * v).set(b[v]);
    for (let r = 0; r < mr; r++) {
      if (layout === 'row') f.get(p[r]).load32Splat();
      else f.get(p[0]).load32Splat(4 * r);
      f.set(a);
      tileRowMulAdd(f, a, b, c[r], first, cfg.fma);
    }
    if (layout === 'row') for (let r = 0; r < mr; r++) f.addTo(p[r], 4);
    else f.addTo(p[0], L(acs));
    f.addTo(pb, NR * 4);
  };
  tileKLoop(f, { pb, kc, end, NR }, step);
  // store: C = c, or C += c
  tileStore(f, { pc, ldcb, acc, row: rowAddr, c });
  return f;
}

/**
 * `gemm_<layout>(a, ars, acs, b, brs, bcs, c, ldc, m0, m1, n0, n1, K, bp, tile)`: C[m0:m1, n0:n1] = A @ B.
 * Addresses in bytes, strides in elements. `bp` holds KC·roundup(n1−n0, NR) floats, `tile` MR·NR.
 * Callees by handle: `mk(mr)` the microkernels of this layout, `pack` pack_b.
 */
export function driver(cfg: GemmConfig, layout: ALayout, mk: (mr: number) => Fn, pack: Fn, accumulate = false): Fn {
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

  const callMk = (pcArg: Operand, ldcArg: Operand, accArg: Operand): void =>
    byRows(f, mr, MR, (m) => {
      f.get(pa).get(arsB).get(acsB).get(pbp).push(pcArg).push(ldcArg).get(kc).push(accArg);
      f.call(mk(m));
    });

  f.forRange(pc, 0, L(K), KC, () => {
    // kc = min(KC, K - pc); acc = pc > 0
    f.get(K).get(pc).i32Sub().set(kc);
    f.i32(KC).get(kc).get(kc).i32(KC).i32GtS().select().set(kc);
    if (accumulate) f.i32(1).set(acc);
    else f.get(pc).i32(0).i32GtS().set(acc);
    // pack B[pc:pc+kc, n0:n1]
    f.get(b).get(pc).get(brs).i32Mul().get(n0).get(bcs).i32Mul().i32Add().i32(2).i32Shl().i32Add();
    f.get(brs).get(bcs).get(kc).get(n1).get(n0).i32Sub().get(bp).call(pack);
    f.forRange(i, L(m0), L(m1), MR, () => {
      f.get(m1).get(i).i32Sub().set(mr);
      f.i32(MR).get(mr).get(mr).i32(MR).i32GtS().select().set(mr);
      // pa = a + 4*(i*ars + pc*acs)
      f.get(a).get(i).get(ars).i32Mul().get(pc).get(acs).i32Mul().i32Add().i32(2).i32Shl().i32Add().set(pa);
      f.forRange(j, L(n0), L(n1), NR, () => {
        f.get(n1).get(j).i32Sub().set(nr);
        // pbp = bp + (j - n0) * kc * 4
        f.get(bp).get(j).get(n0).i32Sub().get(kc).i32Mul().i32(2).i32Shl().i32Add().set(pbp);
        cTile(f, { c, i, ldc, j, tile, pcc, ldcb, acc, mr, nr, r, q, NR }, callMk);
      });
    });
  });
  return f;
}

/**
 * All GEMM functions (calls between them by handle, so their order is free): `gemm_row` / `gemm_col` overwrite C,
 * `gemm_row_acc` / `gemm_col_acc` add to it (the in-place drivers, used inside fused attention);
 * `pack_a`, `mk_p`, `gemm_p` are the packed GEMM of gemm-packed.ts (used by matmul).
 */
export function gemmFunctions(cfg: GemmConfig): Fn[] {
  const pack = packB(cfg);
  const fns: Fn[] = [pack];
  for (const layout of ['row', 'col'] as const) {
    const mks: Fn[] = [];
    for (let mr = 1; mr <= cfg.MR; mr++) mks.push(microkernel(cfg, layout, mr));
    fns.push(...mks, driver(cfg, layout, (m) => mks[m - 1], pack), driver(cfg, layout, (m) => mks[m - 1], pack, true));
  }
  const packA = packAFn(cfg);
  const slabs = packASlabs(cfg, packA);
  const mkps: Fn[] = []; // mk_p1 … mk_p<MR-1>, mk_p
  for (let mr = 1; mr <= cfg.MR; mr++) mkps.push(packedKernel(cfg, mr));
  const gemmP = packedDriver(cfg, (mr) => mkps[mr - 1], pack);
  fns.push(packA, slabs, ...mkps, gemmP, packedRowsDriver(slabs, gemmP));
  return fns;
}
