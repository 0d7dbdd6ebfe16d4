/**
 * The matmul GEMM (backends/cpu/matmul.ts): packed operands and a register-tiled microkernel.
 *
 * - A is packed once per op into MR-row micro-panels (`pack_a_slabs`, gemm-pack.ts), as its own job
 *   phase, and the threads share it. B (usually the big operand: weights) is packed by each work unit
 *   for its own columns, NCB panels at a time, right before use while the data is in cache (packing
 *   all of B in the first phase instead measured 2–10 % slower, and needs a second copy of B).
 * - `mk_p` is the MR×NR microkernel over two packed panels. Its shape was chosen by measurement in V8
 *   (Node 20, x64): V8 keeps 15 v128 values in registers (xmm15 is scratch), and the tile needs
 *   MR·NV accumulators + NV B vectors + the broadcast A + one product temporary, so 5×8 (10+2+1+1) is
 *   the largest tile that does not spill; 6×8 and 4×12 spill and run ~40 % slower, 3×12 and 2×16
 *   (no spill) 6–15 % slower. With relaxed SIMD's fused multiply-add (backends/cpu/relaxed-simd.ts) there is no
 *   product temporary, and 6×8 fits (12+2+1): 53.8 GFLOPS at 1024³ on one thread, against 50.8 for 5×8
 *   with FMA and 45.0 for 5×8 with mul + add (4×12 and 3×16 with FMA spill: ~26).
 *   The k loop is deliberately not unrolled: Turbofan hoists the loads of
 *   later steps above the arithmetic of earlier ones and spills the accumulators (2–4× slower); an
 *   exit test between two steps was 8 % slower. The first k step is peeled (`c = a·b`), which also
 *   makes V8 compute the `memory base + offset` addresses of the A broadcasts once, before the loop,
 *   instead of one `lea` per broadcast in it; the loop ends on a pointer compare (no counter).
 *   L1-resident loop (CPU time, so load-independent): 48.4 GFLOPS vs 41.5 for the in-place kernel of
 *   gemm.ts; the engine's f32x4 mul+add port peak is ~57. A pre-broadcast A (4× the memory) gained 3 %.
 * - `gemm_p` runs the tiles of one work unit (micro-panel rows [i0, i1), panels [j0, j1)) in the
 *   GotoBLAS order: per slab and block of NCB B panels (packed once, ~64 KB), per chunk of ≤ MC rows of
 *   A (in L2), a B panel stays in L1 while the chunk's A micro-panels stream past it. Edge tiles go
 *   through a per-thread tile buffer.
 *
 * Every output element is the sum over slabs (in order) of a k-sequential slab sum, whatever the split
 * into units, so results do not depend on the number of threads.
 */
import { Fn, L, type Local } from './emit.js';
import { byRows, tileKLoop, tileRowMulAdd, tileStore } from './gemm-tile.js';
import type { GemmConfig } from './gemm.js';

/** Depth of a slab of the packed GEMM (its own: the in-place drivers of attention keep GemmConfig.KC). */
export const KCP = 256;
/** Micro-panels of A per row chunk in `gemm_p`: MC = MCP·MR rows, sized so MC×KCP floats (~600 KB) sit in L2. */
export const MCP = 120;
/**
 * B panels packed at a time per unit in `gemm_p` (KCP·NCB·NR floats of per-thread scratch: 64 KB). 2, 4, 16
 * and 64 measured the same within noise; KCP 384 / 512 (with MCP scaled down) too.
 */
export const NCB = 8;
/** Floats of per-thread scratch `gemm_p` needs: the packed B block and the edge tile. */
export const gemmScratchFloats = (cfg: GemmConfig): number => KCP * NCB * 4 * cfg.NV + cfg.MR * 4 * cfg.NV + 16;

/**
 * `mk_p(pa, pb, pc, ldcb, kc, acc)`: C[MR × NR] (+)= Apanel[kc × MR]ᵀ · Bpanel[kc × NR]; kc ≥ 1.
 * `mk_p<mr>` (mr < MR): the same over the first mr rows of the micro-panel only, for the last,
 * partial micro-panel (and M < MR: a matrix–vector product must not pay for MR rows).
 */
export function packedKernel(cfg: GemmConfig, mr = cfg.MR): Fn {
  const { MR, NV } = cfg;
  const NR = 4 * NV;
  const f = new Fn(mr === MR ? 'mk_p' : `mk_p${mr}`, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [pa, pb, pc, ldcb, kc, acc] = f.params;
  const c: Local[][] = [];
  for (let r = 0; r < mr; r++) c.push(Array.from({ length: NV }, () => f.local('v128')));
  const b = Array.from({ length: NV }, () => f.local('v128'));
  const a = f.local('v128');
  const end = f.local('i32');
  const row = f.local('i32');
  const step = (first: boolean): void => {
    for (let v = 0; v < NV; v++) f.get(pb).v128Load(16 * v).set(b[v]);
    for (let r = 0; r < mr; r++) {
      f.get(pa).load32Splat(4 * r).set(a);
      tileRowMulAdd(f, a, b, c[r], first, cfg.fma);
    }
    f.addTo(pa, MR * 4);
    f.addTo(pb, NR * 4);
  };
  tileKLoop(f, { pb, kc, end, NR }, step);
  // write back: C = c, or C += c when accumulating over slabs
  tileStore(f, { pc, ldcb, acc, row, c });
  return f;
}

/**
 * `gemm_p(ap, b, brs, bcs, c, ldc, M, N, K, i0, i1, j0, j1, scratch, MP)`: C[i0·MR : i1·MR, j0·NR : j1·NR]
 * (clipped to M × N) = A @ B. `ap` is A packed by `pack_a` (MP micro-panels per slab; the slab at pc
 * starts at pc·MP·MR floats, its micro-panel t at t·kc·MR within); B(k, j) is read at b + 4·(k·brs + j·bcs)
 * and packed here, NCB panels at a time, into the per-thread `scratch` (KCP·NCB·NR floats, then the
 * MR·NR edge-tile buffer): B is usually the big operand (weights), so it is packed where it is used,
 * while it is in cache, and never copied whole. Byte addresses, element strides.
 */
export function packedDriver(cfg: GemmConfig, mk: (mr: number) => Fn, packB: Fn): Fn {
  const { MR } = cfg;
  const KC = KCP;
  const NR = 4 * cfg.NV;
  const f = new Fn('gemm_p', Array(15).fill('i32'));
  const [ap, b, brs, bcs, c, ldc, M, N, K, i0, i1, j0, j1, bp, MP] = f.params;
  const ic = f.local('i32');
  const ie = f.local('i32');
  const pc = f.local('i32');
  const kc = f.local('i32');
  const acc = f.local('i32');
  const as = f.local('i32');
  const jb = f.local('i32');
  const je = f.local('i32');
  const j = f.local('i32');
  const pbj = f.local('i32');
  const i = f.local('i32');
  const cij = f.local('i32');
  const ldcb = f.local('i32');
  const mr = f.local('i32');
  const nr = f.local('i32');
  const r = f.local('i32');
  const q = f.local('i32');
  const ta = f.local('i32');
  const ca = f.local('i32');
  const pai = f.local('i32');
  const tile = f.local('i32');
  f.get(ldc).i32(2).i32Shl().set(ldcb);
  f.get(bp).i32(KC * NCB * NR * 4).i32Add().set(tile);
  /** call the kernel for `mr` rows (mk_p when mr = MR, the common case first) */
  const callMk = (rest: () => void): void =>
    byRows(f, mr, MR, (m) => {
      f.get(pai).get(pbj);
      rest();
      f.call(mk(m));
    });
  const min = (x: Local, cap: () => void): void => {
    // x = min(x, cap)
    cap();
    f.get(x).get(x);
    cap();
    f.i32GtS().select().set(x);
  };
  // per slab and block of B panels (packed once), A in chunks of ≤ MCP micro-panels that stay in L2
  // while the block's panels pass; a C tile is written once per slab
  f.forRange(pc, 0, L(K), KC, () => {
    f.get(K).get(pc).i32Sub().set(kc);
    min(kc, () => f.i32(KC));
    f.get(pc).i32(0).i32GtS().set(acc);
    f.get(ap).get(pc).get(MP).i32Mul().i32(MR * 4).i32Mul().i32Add().set(as);
    f.forRange(jb, L(j0), L(j1), NCB, () => {
      f.get(jb).i32(NCB).i32Add().set(je);
      min(je, () => f.get(j1));
      // pack B[pc : pc+kc, jb·NR : min(N, je·NR)] into NR-wide panels
      f.get(b).get(pc).get(brs).i32Mul().get(jb).i32(NR).i32Mul().get(bcs).i32Mul().i32Add().i32(2).i32Shl().i32Add();
      f.get(brs).get(bcs).get(kc);
      f.get(je).i32(NR).i32Mul().set(nr);
      min(nr, () => f.get(N));
      f.get(nr).get(jb).i32(NR).i32Mul().i32Sub();
      f.get(bp).call(packB);
      const tileAt = (): void => {
        f.get(bp).get(j).get(jb).i32Sub().get(kc).i32Mul().i32(NR * 4).i32Mul().i32Add().set(pbj);
        // nr = N - j·NR, mr = M - i·MR (≥ NR, MR: a full tile)
        f.get(N).get(j).i32(NR).i32Mul().i32Sub().set(nr);
        f.get(M).get(i).i32(MR).i32Mul().i32Sub().set(mr);
        f.get(c).get(i).i32(MR).i32Mul().get(ldc).i32Mul().get(j).i32(NR).i32Mul().i32Add().i32(2).i32Shl().i32Add().set(cij);
        f.get(as).get(i).get(kc).i32Mul().i32(MR * 4).i32Mul().i32Add().set(pai);
        min(mr, () => f.i32(MR));
        f.get(nr).i32(NR).i32GeS().if();
        callMk(() => f.get(cij).get(ldcb).get(kc).get(acc));
        f.else();
        {
          // edge tile (fewer than NR columns): compute into the tile buffer, then store / add the part inside C
          callMk(() => f.get(tile).i32(NR * 4).get(kc).i32(0));
          min(nr, () => f.i32(NR));
          f.forRange(r, 0, L(mr), 1, () => {
            f.forRange(q, 0, L(nr), 1, () => {
              f.get(tile).get(r).i32(NR).i32Mul().get(q).i32Add().i32(2).i32Shl().i32Add().set(ta);
              f.get(cij).get(r).get(ldcb).i32Mul().i32Add().get(q).i32(2).i32Shl().i32Add().set(ca);
              f.get(ca);
              f.get(acc).ifResult('f32');
              f.get(ta).f32Load().get(ca).f32Load().f32Add();
              f.else();
              f.get(ta).f32Load();
              f.end();
              f.f32Store();
            });
          });
        }
        f.end();
      };
      f.forRange(ic, L(i0), L(i1), MCP, () => {
        f.get(ic).i32(MCP).i32Add().set(ie);
        min(ie, () => f.get(i1));
        f.forRange(j, L(jb), L(je), 1, () => f.forRange(i, L(ic), L(ie), 1, tileAt));
      });
    });
  });
  return f;
}

/** Words of a `gemm_pr` parameter block: `pack_a_slabs`'s 8 arguments, then `gemm_p`'s but its scratch. */
export const GEMM_PR_WORDS = 22;

/**
 * `gemm_pr(params, scratch)`: pack the A micro-panels of one row range, then multiply them — a row unit
 * that needs no other unit's packing, so a small product runs on the threads in one job list (no
 * barrier between a packing phase and a compute phase, which costs more than it saves below ~4 M
 * multiply-adds). `params` holds `pack_a_slabs`'s 8 arguments, then `gemm_p`'s first 13 and its MP.
 */
export function packedRowsDriver(packASlabs: Fn, gemmP: Fn): Fn {
  const f = new Fn('gemm_pr', ['i32', 'i32']);
  const [p, scratch] = f.params;
  for (let w = 0; w < 8; w++) f.get(p).i32Load(4 * w);
  f.call(packASlabs);
  for (let w = 8; w < 21; w++) f.get(p).i32Load(4 * w);
  f.get(scratch).get(p).i32Load(4 * 21);
  f.call(gemmP);
  return f;
}
