/**
 * Causal drivers for the blocked attention kernels (attention.ts): the in-place GEMM of gemm.ts (same
 * B packing, same microkernels `mk_<layout>_<mr>`), but each register tile skips the work that only
 * touches masked scores. A block holds query rows [i0, i0 + rows) over keys [js, je); row r sees
 * column c (both block-relative) iff c < r + t0, t0 = i0 + off + 1 − js. Done in full, the block's
 * diagonal 64 × 64 part is half masked: ~11 % of every GEMM's flops at T = 512.
 *
 * - `n`: C[rows × cols] = A·B (S = Q·Kᵀ, dP = dO·Vᵀ): a row tile computes only the column panels one
 *   of its rows sees. The columns left unwritten are past every row's last visible key: the row
 *   kernels of attention-rows.ts read a row's visible columns only and zero the rest.
 * - `k`: C[rows × n] = A[rows × cols]·B (O = P·V, dQ = dS·K): a row tile's k loop stops after its
 *   last visible column; the terms skipped are products with P or dS, which are 0 there.
 * - `m`: C[cols × n] += A[cols × rows]·B with A column-major (dV += Pᵀ·dO, dK += dSᵀ·Q): a tile of
 *   columns starts its k loop (query rows) at the first row that sees its first column.
 *
 * Skipping exact zeros (x + 0·y = x for the finite values here) leaves results as they were.
 */
import { Fn, L, type Operand } from './emit.js';
import type { GemmConfig } from './gemm.js';
import type { Idx } from './attention-rows.js';

export type Trim = 'n' | 'k' | 'm';

/**
 * `attn_g<trim>(a, ars, acs, b, brs, bcs, c, ldc, M, N, K, bp, tile, t0)`: as gemm.ts's drivers
 * (byte addresses, element strides, `bp`: KC·roundup(N, NR) floats, `tile`: MR·NR), over rows [0, M),
 * columns [0, N), trimmed by `t0` as above; `m` adds to C, the others overwrite it.
 */
export function causalDriver(cfg: GemmConfig, trim: Trim, idx: Idx): Fn {
  const { MR, KC } = cfg;
  const NR = 4 * cfg.NV;
  const layout = trim === 'm' ? 'col' : 'row';
  const f = new Fn(`attn_g${trim}`, Array(14).fill('i32'));
  const [a, ars, acs, b, brs, bcs, c, ldc, M, N, K, bp, tile, t0] = f.params;
  const [pc, kc, i, mr, pa, j, nr, pbp, pcc, acc, ldcb, arsB, acsB, r, q, lim, k0, kk] = Array.from({ length: 18 }, () => f.local('i32'));
  f.get(ldc).i32(2).i32Shl().set(ldcb);
  f.get(ars).i32(2).i32Shl().set(arsB);
  f.get(acs).i32(2).i32Shl().set(acsB);

  const callMk = (pcArg: Operand, ldcArg: Operand, accArg: Operand): void => {
    for (let m = MR; m >= 1; m--) {
      if (m > 1) f.get(mr).i32(m).i32Eq().if();
      f.get(pa).get(arsB).get(acsB).get(pbp).push(pcArg).push(ldcArg).get(kk).push(accArg);
      f.call(idx(`mk_${layout}_${m}`));
      if (m > 1) f.else();
    }
    for (let m = MR; m > 1; m--) f.end();
  };
  const clampTo = (x: typeof lim, lo: Operand, hi: Operand): void => {
    // x = min(max(x, lo), hi)
    f.push(lo).get(x).get(x).push(lo).i32LtS().select().set(x);
    f.push(hi).get(x).get(x).push(hi).i32GtS().select().set(x);
  };

  f.forRange(pc, 0, L(K), KC, () => {
    f.get(K).get(pc).i32Sub().set(kc);
    f.i32(KC).get(kc).get(kc).i32(KC).i32GtS().select().set(kc);
    if (trim === 'm') f.i32(1).set(acc);
    else f.get(pc).i32(0).i32GtS().set(acc);
    f.get(b).get(pc).get(brs).i32Mul().i32(2).i32Shl().i32Add();
    f.get(brs).get(bcs).get(kc).get(N).get(bp).call(idx('pack_b'));
    f.forRange(i, 0, L(M), MR, () => {
      f.get(M).get(i).i32Sub().set(mr);
      f.i32(MR).get(mr).get(mr).i32(MR).i32GtS().select().set(mr);
      // this tile's k range [k0, k0 + kk) within the slab, and its column limit lim
      f.i32(0).set(k0);
      f.get(kc).set(kk);
      f.get(N).set(lim);
      if (trim === 'n' || trim === 'k') {
        f.get(i).get(mr).i32Add().i32(1).i32Sub().get(t0).i32Add().set(lim);
        if (trim === 'n') clampTo(lim, 1, L(N));
        else {
          // kk = clamp(lim − pc, 0, kc), the first slab keeping ≥ 1 step so that C is written
          clampTo(lim, 1, L(K));
          f.get(lim).get(pc).i32Sub().set(kk);
          clampTo(kk, 0, L(kc));
          f.get(N).set(lim);
        }
      } else {
        f.get(i).get(t0).i32Sub().i32(1).i32Add().get(pc).i32Sub().set(k0);
        clampTo(k0, 0, L(kc));
        f.get(kc).get(k0).i32Sub().set(kk);
      }
      f.get(kk).i32(0).i32GtS().if();
      // pa = a + 4·(i·ars + (pc + k0)·acs)
      f.get(a).get(i).get(ars).i32Mul().get(pc).get(k0).i32Add().get(acs).i32Mul().i32Add().i32(2).i32Shl().i32Add().set(pa);
      f.forRange(j, 0, L(lim), NR, () => {
        f.get(N).get(j).i32Sub().set(nr);
        // the panel of column j, from its k0-th row (panels are kc·NR floats, NR per k step)
        f.get(bp).get(j).get(kc).i32Mul().get(k0).i32(NR).i32Mul().i32Add().i32(2).i32Shl().i32Add().set(pbp);
        f.get(c).get(i).get(ldc).i32Mul().get(j).i32Add().i32(2).i32Shl().i32Add().set(pcc);
        f.get(nr).i32(NR).i32GeS().if();
        callMk(L(pcc), L(ldcb), L(acc));
        f.else();
        {
          // edge panel through the tile buffer, as gemm.ts
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
      f.end();
    });
  });
  return f;
}

export const causalDrivers = (cfg: GemmConfig, idx: Idx): Fn[] => (['n', 'k', 'm'] as const).map((t) => causalDriver(cfg, t, idx));
