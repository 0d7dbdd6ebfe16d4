/**
 * Packing routines of the WebAssembly GEMMs: B into NR-column panels (both GEMMs) and A into MR-row
 * micro-panels (the packed GEMM of gemm-packed.ts). Packed operands are contiguous and zero-padded,
 * so the microkernels run full tiles on unit-stride data whatever the operands' strides.
 */
import { Fn, L, type Local } from './emit.js';
import type { GemmConfig } from './gemm.js';
import { KCP } from './gemm-packed.js';

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
  const nfull = f.local('i32');
  const e = f.local('i32');
  const pstep = f.local('i32');
  f.get(kc).i32(NR * 4).i32Mul().set(pstep);
  f.get(brs).i32(2).i32Shl().set(brsB);
  f.get(bcs).i32(2).i32Shl().set(bcsB);
  f.i32(0).set(nfull);
  f.get(bcs).i32(1).i32Eq().if();
  {
    // row-major B: the full panels row by row (sequential reads; NR-float pieces to each panel)
    f.get(ncols).i32(NR).i32DivS().i32(NR).i32Mul().set(nfull);
    f.forRange(k, 0, L(kc), 1, () => {
      f.get(src).get(k).get(brsB).i32Mul().i32Add().set(s);
      f.get(dst).get(k).i32(NR * 4).i32Mul().i32Add().set(d);
      f.get(s).get(nfull).i32(2).i32Shl().i32Add().set(e);
      f.block().loop();
      f.get(s).get(e).i32GeS().brIf(1);
      for (let v = 0; v < cfg.NV; v++) f.get(d).get(s).v128Load(16 * v).v128Store(16 * v);
      f.addTo(s, NR * 4);
      f.addTo(d, L(pstep));
      f.br(0).end().end();
    });
    f.get(dst).get(nfull).get(kc).i32Mul().i32(2).i32Shl().i32Add().set(dst);
  }
  f.end();
  f.forRange(jp, L(nfull), L(ncols), NR, () => {
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
 * `pack_a(src, ars, acs, kc, nrows, dst)`: A(i, k) at src + 4·(i·ars + k·acs), i < nrows, k < kc →
 * MR-row micro-panels of kc·MR floats each, rows past nrows zero. Strides in elements.
 */
export function packA(cfg: GemmConfig): Fn {
  const { MR } = cfg;
  const f = new Fn('pack_a', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [src, ars, acs, kc, nrows, dst] = f.params;
  const i = f.local('i32');
  const k = f.local('i32');
  const r = f.local('i32');
  const s = f.local('i32');
  const w = f.local('i32');
  const arsB = f.local('i32');
  const acsB = f.local('i32');
  const off = Array.from({ length: MR }, () => f.local('i32'));
  const v = Array.from({ length: MR }, () => f.local('v128'));
  const t = Array.from({ length: 4 }, () => f.local('v128'));
  f.get(ars).i32(2).i32Shl().set(arsB);
  f.get(acs).i32(2).i32Shl().set(acsB);
  for (let q = 0; q < MR; q++) f.get(arsB).i32(q).i32Mul().set(off[q]);
  /** the scalar copy of A(i.., k) for k up to kc (s, dst advancing) */
  const scalarSteps = (): void => {
    f.block().loop();
    f.get(k).get(kc).i32GeS().brIf(1);
    for (let q = 0; q < MR; q++) f.get(dst).get(s).get(off[q]).i32Add().f32Load().f32Store(4 * q);
    f.addTo(s, L(acsB));
    f.addTo(dst, MR * 4);
    f.addTo(k, 1);
    f.br(0).end().end();
  };
  f.forRange(i, 0, L(nrows), MR, () => {
    // s = address of A(i, 0)
    f.get(src).get(i).get(arsB).i32Mul().i32Add().set(s);
    f.get(nrows).get(i).i32Sub().set(w);
    f.i32(0).set(k);
    f.get(w).i32(MR).i32GeS().if();
    // Full micro-panel. Row-major A (the activations of a forward or a dY @ Wᵀ): 4 k at a time, rows
    // 0–3 through a 4×4 transpose (one vector store per k), rows 4… as lanes; column-major A (the Xᵀ of a
    // weight gradient): each k's MR values are contiguous, a vector and lanes. Scalar copies measured
    // ~20 % of the microkernel's time in a small training step.
    f.get(acs).i32(1).i32Eq().if();
    {
      f.block().loop();
      f.get(k).i32(4).i32Add().get(kc).i32GtS().brIf(1);
      for (let q = 0; q < MR; q++) f.get(s).get(off[q]).i32Add().v128Load().set(v[q]);
      f.get(v[0]).get(v[1]).shuffle32([0, 4, 1, 5]).set(t[0]); // [a0 b0 a1 b1]
      f.get(v[0]).get(v[1]).shuffle32([2, 6, 3, 7]).set(t[1]); // [a2 b2 a3 b3]
      f.get(v[2]).get(v[3]).shuffle32([0, 4, 1, 5]).set(t[2]); // [c0 d0 c1 d1]
      f.get(v[2]).get(v[3]).shuffle32([2, 6, 3, 7]).set(t[3]); // [c2 d2 c3 d3]
      const col = (kk: number, x: Local, y: Local, lanes: number[]): void => {
        f.get(dst).get(x).get(y).shuffle32(lanes).v128Store(kk * MR * 4);
        for (let q = 4; q < MR; q++) f.get(dst).get(v[q]).f32x4ExtractLane(kk).f32Store((kk * MR + q) * 4);
      };
      col(0, t[0], t[2], [0, 1, 4, 5]);
      col(1, t[0], t[2], [2, 3, 6, 7]);
      col(2, t[1], t[3], [0, 1, 4, 5]);
      col(3, t[1], t[3], [2, 3, 6, 7]);
      f.addTo(s, 16);
      f.addTo(dst, 4 * MR * 4);
      f.addTo(k, 4);
      f.br(0).end().end();
    }
    f.else();
    f.get(ars).i32(1).i32Eq().if();
    {
      f.block().loop();
      f.get(k).get(kc).i32GeS().brIf(1);
      f.get(dst).get(s).v128Load().v128Store();
      for (let q = 4; q < MR; q++) f.get(dst).get(s).f32Load(4 * q).f32Store(4 * q);
      f.addTo(s, L(acsB));
      f.addTo(dst, MR * 4);
      f.addTo(k, 1);
      f.br(0).end().end();
    }
    f.end();
    f.end();
    scalarSteps();
    f.else();
    // last, partial micro-panel: zero padding
    f.forRange(k, 0, L(kc), 1, () => {
      f.forRange(r, 0, MR, 1, () => {
        f.get(dst).get(r).i32(2).i32Shl().i32Add();
        f.get(r).get(w).i32LtS().ifResult('f32');
        f.get(s).get(r).get(arsB).i32Mul().i32Add().f32Load();
        f.else();
        f.f32(0);
        f.end();
        f.f32Store();
      });
      f.addTo(s, L(acsB));
      f.addTo(dst, MR * 4);
    });
    f.end();
  });
  return f;
}

/**
 * `pack_a_slabs(src, ars, acs, K, nrows, ap, MP, t0)`: `pack_a` over every KCP slab of the micro-panels
 * t0 … of A (src = address of their first row), into the packed layout `gemm_p` reads (one job per
 * row range, however deep K is).
 */
export function packASlabs(cfg: GemmConfig, packA: Fn): Fn {
  const { MR } = cfg;
  const f = new Fn('pack_a_slabs', Array(8).fill('i32'));
  const [src, ars, acs, K, nrows, ap, MP, t0] = f.params;
  const pc = f.local('i32');
  const kc = f.local('i32');
  f.forRange(pc, 0, L(K), KCP, () => {
    f.get(K).get(pc).i32Sub().set(kc);
    f.i32(KCP).get(kc).get(kc).i32(KCP).i32GtS().select().set(kc);
    f.get(src).get(pc).get(acs).i32Mul().i32(2).i32Shl().i32Add().get(ars).get(acs).get(kc).get(nrows);
    // ap + 4·(pc·MP·MR + t0·kc·MR)
    f.get(ap).get(pc).get(MP).i32Mul().get(t0).get(kc).i32Mul().i32Add().i32(MR * 4).i32Mul().i32Add();
    f.call(packA);
  });
  return f;
}
