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
 *
 * B may come packed already (`pre` > 0, by attn_pack): K and V are the same for all of a head's query
 * blocks: packing them once per head, not per block, took a [12, 512, 64] forward + backward from
 * 33.6–34.1 to 33.1–33.4 ms on one thread, the forward from 12.6 to 12.3 (best of 30, three A/B runs).
 */
import { Fn, L, type Local, type Operand } from '../../backends/cpu/wasm/emit.js';
import type { GemmConfig } from '../../backends/cpu/wasm/gemm.js';
import { byRows, cTile } from '../../backends/cpu/wasm/gemm-tile.js';
import type { Idx } from './wasm-rows.js';

export type Trim = 'n' | 'k' | 'm';

/**
 * `attn_g<trim>(a, ars, acs, b, brs, bcs, c, ldc, M, N, K, bp, tile, t0, pre, ldp)`: as gemm.ts's
 * drivers (byte addresses, element strides, `bp`: KC·roundup(N, NR) floats, `tile`: MR·NR), over rows
 * [0, M), columns [0, N), trimmed by `t0` as above; `m` adds to C, the others overwrite it. With
 * `pre` > 0, `bp` holds B already packed by attn_pack over `pre` ≥ K rows and ldp ≥ N columns (ldp a
 * multiple of NR), and b, brs, bcs are not read.
 */
export function causalDriver(cfg: GemmConfig, trim: Trim, idx: Idx): Fn {
  const { MR, KC } = cfg;
  const NR = 4 * cfg.NV;
  const layout = trim === 'm' ? 'col' : 'row';
  const f = new Fn(`attn_g${trim}`, Array(16).fill('i32'));
  const [a, ars, acs, b, brs, bcs, c, ldc, M, N, K, bp, tile, t0, pre, ldp] = f.params;
  const [pc, kc, i, mr, pa, j, nr, pbp, pcc, acc, ldcb, arsB, acsB, r, q, lim, k0, kk] = Array.from({ length: 18 }, () => f.local('i32'));
  // the slab's packed base and depth (panels are kcs·NR floats apart)
  const slab = f.local('i32');
  const kcs = f.local('i32');
  f.get(ldc).i32(2).i32Shl().set(ldcb);
  f.get(ars).i32(2).i32Shl().set(arsB);
  f.get(acs).i32(2).i32Shl().set(acsB);

  const callMk = (pcArg: Operand, ldcArg: Operand, accArg: Operand): void =>
    byRows(f, mr, MR, (m) => {
      f.get(pa).get(arsB).get(acsB).get(pbp).push(pcArg).push(ldcArg).get(kk).push(accArg);
      f.call(idx(`mk_${layout}_${m}`));
    });
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
    f.get(pre).if();
    f.get(bp).get(pc).get(ldp).i32Mul().i32(2).i32Shl().i32Add().set(slab);
    f.get(pre).get(pc).i32Sub().set(kcs);
    f.i32(KC).get(kcs).get(kcs).i32(KC).i32GtS().select().set(kcs);
    f.else();
    f.get(b).get(pc).get(brs).i32Mul().i32(2).i32Shl().i32Add();
    f.get(brs).get(bcs).get(kc).get(N).get(bp).call(idx('pack_b'));
    f.get(bp).set(slab);
    f.get(kc).set(kcs);
    f.end();
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
        f.get(slab).get(j).get(kcs).i32Mul().get(k0).i32(NR).i32Mul().i32Add().i32(2).i32Shl().i32Add().set(pbp);
        cTile(f, { c, i, ldc, j, tile, pcc, ldcb, acc, mr, nr, r, q, NR }, callMk);
      });
      f.end();
    });
  });
  return f;
}

/**
 * `attn_pack(b, brs, bcs, K, N, dst)`: B [K × N] packed whole, as the drivers' slabs: slab pc (KC rows,
 * fewer for the last) at dst + 4·pc·roundup(N, NR), in pack_b's panels. A driver reads it for any
 * K' ≤ K rows and N' ≤ N columns from the same origin: its slabs start at the same rows, and the
 * columns past N' it reads only into the tile buffer's discarded lanes.
 */
function packWhole(cfg: GemmConfig, idx: Idx): Fn {
  const { KC } = cfg;
  const NR = 4 * cfg.NV;
  const f = new Fn('attn_pack', Array(6).fill('i32'));
  const [b, brs, bcs, K, N, dst] = f.params;
  const [pc, kc, ldp] = Array.from({ length: 3 }, () => f.local('i32'));
  f.get(N).i32(NR - 1).i32Add().i32(-NR).i32And().set(ldp);
  f.forRange(pc, 0, L(K), KC, () => {
    f.get(K).get(pc).i32Sub().set(kc);
    f.i32(KC).get(kc).get(kc).i32(KC).i32GtS().select().set(kc);
    f.get(b).get(pc).get(brs).i32Mul().i32(2).i32Shl().i32Add();
    f.get(brs).get(bcs).get(kc).get(N);
    f.get(dst).get(pc).get(ldp).i32Mul().i32(2).i32Shl().i32Add().call(idx('pack_b'));
  });
  return f;
}

/**
 * B for a driver, packed once per head when window = 0 (see PARAM.pkt; else the blocks' keys start at
 * different rows): packs [K × N] at `dst` unless `skip` ≠ 0, and returns the drivers' last arguments
 * [bp, pre, ldp]: `bp` itself and pre = 0 (pack per call) when not packed.
 */
export function packedB(f: Fn, cfg: GemmConfig, idx: Idx, window: Local, bp: Local, dst: Local, b: Local, brs: Operand, bcs: Operand, K: Local, N: Local, skip?: Local): [Local, Local, Local] {
  const NR = 4 * cfg.NV;
  const [at, pre, ldp] = [f.local('i32'), f.local('i32'), f.local('i32')];
  f.get(bp).set(at);
  f.i32(0).set(pre);
  f.get(N).i32(NR - 1).i32Add().i32(-NR).i32And().set(ldp);
  f.get(window).i32Eqz();
  if (skip) f.get(skip).i32Eqz().i32And();
  f.if();
  f.get(b).push(brs).push(bcs).get(K).get(N).get(dst).call(idx('attn_pack'));
  f.get(dst).set(at);
  f.get(K).set(pre);
  f.end();
  return [at, pre, ldp];
}

export const causalDrivers = (cfg: GemmConfig, idx: Idx): Fn[] => [...(['n', 'k', 'm'] as const).map((t) => causalDriver(cfg, t, idx)), packWhole(cfg, idx)];
