/**
 * Fused causal attention in WebAssembly SIMD, one head per call (threads take whole heads):
 *
 *   forward   S = Q·Kᵀ (per block of BQ query rows, only the key columns some row may see),
 *             P = softmax(scale·S) over the allowed keys, O = P·V, L = logsumexp(scale·S)
 *   backward  S recomputed, P = exp(scale·S − L), dP = dO·Vᵀ, dS = scale·P∘(dP − rowsum(dO∘O) + dL),
 *             dQ = dS·K, dK += dSᵀ·Q, dV += Pᵀ·dO
 *
 * so at most one [BQ, Tk] block of scores (and one of dP) exists per head at a time. The GEMMs are
 * the module's own drivers. Query row i (of Tq) sees key j (of Tk) when j ≤ i + Tk − Tq and, with a
 * window w > 0, j > i + Tk − Tq − w.
 *
 * Arguments come in a parameter block (int32 words, scale as float32 bits): see PARAM.
 */
import { Fn, L, type Local } from './emit.js';
import { VecCode } from './elementwise.js';
import type { GemmConfig } from './gemm.js';

/** Word offsets in the parameter block. Scratch offsets are relative to the thread's scratch base. */
export const PARAM = {
  q: 0,
  qrs: 1,
  k: 2,
  krs: 3,
  v: 4,
  vrs: 5,
  out: 6, // forward: output [Tq, Dv+1]; backward: the forward's output
  g: 7, // backward: cotangent [Tq, Dv+1]
  dq: 8,
  dk: 9,
  dv: 10,
  tq: 11,
  tk: 12,
  d: 13,
  dvDim: 14,
  scale: 15,
  window: 16,
  bq: 17,
  s: 18,
  dp: 19,
  bp: 20,
  tile: 21,
  /** key offset: query i sees keys j ≤ i + off (Tk − Tq when causal, Tk otherwise) */
  off: 22,
  WORDS: 23,
} as const;

type Idx = (name: string) => number;

/** Load param word `w` of block `pp` into a new i32 local. */
function field(f: Fn, pp: Local, w: number): Local {
  const l = f.local('i32');
  f.get(pp).i32Load(4 * w).set(l);
  return l;
}

const min = (f: Fn, a: () => void, b: () => void): void => {
  a();
  b();
  a();
  b();
  f.i32LtS().select();
};
const max = (f: Fn, a: () => void, b: () => void): void => {
  a();
  b();
  a();
  b();
  f.i32GtS().select();
};

/**
 * Row kernels over a score block (row r at S + 4·r·ldS, columns c = key j − jstart), mode:
 * - 'softmax': P = softmax(scale·S) over the allowed columns (0 elsewhere); L → Lptr + 4·r·ldL
 * - 'probs':   P = exp(scale·S − L) over the allowed columns (0 elsewhere), L read from Lptr
 * - 'dscore':  dP ← scale·P∘(dP − Δ + dL) where Δ = Σ_c dO·O and dL = g[Dv] (row r of g / O at
 *              Lptr-relative pointers: here Lptr = g row 0, Optr = O row 0, both with stride ldL)
 */
function rowKernel(mode: 'softmax' | 'probs' | 'dscore'): Fn {
  // (S, ldS, rows, i0, jstart, ncols, off, window, scaleBits, Lptr, ldL, Optr, dP, dvDim)
  const f = new Fn(`attn_${mode}`, Array(14).fill('i32'));
  const [S, ldS, rows, i0, jstart, ncols, off, window, scaleBits, Lp, ldL, Op, dP, dvDim] = f.params;
  const vc = new VecCode(f);
  const r = f.local('i32');
  const c = f.local('i32');
  const lo = f.local('i32');
  const hi = f.local('i32');
  const row = f.local('i32');
  const drow = f.local('i32');
  const scale = f.local('v128');
  const acc = f.local('v128');
  const x = f.local('v128');
  const mv = f.local('v128');
  const sf = f.local('f32');
  const lrow = f.local('i32');
  const orow = f.local('i32');
  f.get(scaleBits).f32ReinterpretI32().f32x4Splat().set(scale);

  f.forRange(r, 0, L(rows), 1, () => {
    // allowed columns [lo, hi) of this row
    const i = () => f.get(i0).get(r).i32Add();
    min(f, () => f.get(ncols), () => {
      i();
      f.get(off).i32Add().i32(1).i32Add().get(jstart).i32Sub();
    });
    f.set(hi);
    f.i32(0).set(lo);
    f.get(window).i32(0).i32GtS().if();
    max(f, () => f.i32(0), () => {
      i();
      f.get(off).i32Add().i32(1).i32Add().get(window).i32Sub().get(jstart).i32Sub();
    });
    f.set(lo);
    f.end();
    f.get(S).get(r).get(ldS).i32Mul().i32(2).i32Shl().i32Add().set(row);
    f.get(Lp).get(r).get(ldL).i32Mul().i32(2).i32Shl().i32Add().set(lrow);

    /** for c in [from, to): body(address of column c, vector?) with a splat tail */
    const columns = (from: Local, to: Local, body: (addr: () => void, vec: boolean) => void) => {
      f.get(from).set(c);
      f.block().loop();
      f.get(c).i32(4).i32Add().get(to).i32GtS().brIf(1);
      body(() => f.get(row).get(c).i32(2).i32Shl().i32Add(), true);
      f.addTo(c, 4);
      f.br(0).end().end();
      f.block().loop();
      f.get(c).get(to).i32GeS().brIf(1);
      body(() => f.get(row).get(c).i32(2).i32Shl().i32Add(), false);
      f.addTo(c, 1);
      f.br(0).end().end();
    };
    const load = (addr: () => void, vec: boolean) => {
      addr();
      if (vec) f.v128Load();
      else f.load32Splat();
    };
    const store = (addr: () => void, vec: boolean, value: () => void) => {
      addr();
      value();
      if (vec) f.v128Store();
      else f.f32x4ExtractLane(0).f32Store();
    };
    const zeroOutside = () => {
      const zero = f.local('i32');
      f.i32(0).set(zero);
      columns(zero, lo, (a, vec) => store(a, vec, () => f.v128Const([0, 0, 0, 0])));
      columns(hi, ncols, (a, vec) => store(a, vec, () => f.v128Const([0, 0, 0, 0])));
    };
    const hsum = (v: Local) => f.get(v).f32x4ExtractLane(0).get(v).f32x4ExtractLane(1).f32Add().get(v).f32x4ExtractLane(2).f32Add().get(v).f32x4ExtractLane(3).f32Add();

    if (mode === 'softmax') {
      // m = max scale·s ; p = exp(scale·s − m) ; l = Σ p ; P = p / l ; L = m + log l
      f.v128Const([-Infinity, -Infinity, -Infinity, -Infinity]).set(acc);
      columns(lo, hi, (a, vec) => {
        load(a, vec);
        f.get(scale).f32x4Mul().get(acc).f32x4Max().set(acc);
      });
      f.get(acc).f32x4ExtractLane(0).get(acc).f32x4ExtractLane(1).f32Max().get(acc).f32x4ExtractLane(2).f32Max().get(acc).f32x4ExtractLane(3).f32Max().set(sf);
      f.get(sf).f32x4Splat().set(mv);
      f.v128Const([0, 0, 0, 0]).set(acc);
      columns(lo, hi, (a, vec) => {
        load(a, vec);
        f.get(scale).f32x4Mul().get(mv).f32x4Sub().set(x);
        const e = vc.exp(x);
        if (vec) f.get(acc).get(e).f32x4Add().set(acc);
        else f.get(acc).get(e).v128Const([1, 0, 0, 0]).f32x4Mul().f32x4Add().set(acc);
        store(a, vec, () => f.get(e));
      });
      // acc lanes → l ; 1/l
      hsum(acc);
      f.f32x4Splat().set(x);
      const lg = vc.log(x);
      f.get(lrow).get(lg).f32x4ExtractLane(0).get(sf).f32Add().f32Store(4 * 0);
      f.v128Const([1, 1, 1, 1]).get(x).f32x4Div().set(x);
      columns(lo, hi, (a, vec) => store(a, vec, () => {
        load(a, vec);
        f.get(x).f32x4Mul();
      }));
      zeroOutside();
    } else if (mode === 'probs') {
      f.get(lrow).load32Splat().set(mv);
      columns(lo, hi, (a, vec) => {
        load(a, vec);
        f.get(scale).f32x4Mul().get(mv).f32x4Sub().set(x);
        const e = vc.exp(x);
        store(a, vec, () => f.get(e));
      });
      zeroOutside();
    } else {
      // Δ = Σ_c<Dv g·O ; dl = g[Dv] ; dP ← scale·P·(dP − Δ + dl)
      f.get(Op).get(r).get(ldL).i32Mul().i32(2).i32Shl().i32Add().set(orow);
      f.v128Const([0, 0, 0, 0]).set(acc);
      const cc = f.local('i32');
      f.forRange(cc, 0, L(dvDim), 1, () => {
        f.get(acc);
        f.get(lrow).get(cc).i32(2).i32Shl().i32Add().load32Splat();
        f.get(orow).get(cc).i32(2).i32Shl().i32Add().load32Splat();
        f.f32x4Mul().v128Const([1, 0, 0, 0]).f32x4Mul().f32x4Add().set(acc);
      });
      // mv = dl − Δ
      f.get(lrow).get(dvDim).i32(2).i32Shl().i32Add().f32Load();
      hsum(acc);
      f.f32Sub().f32x4Splat().set(mv);
      f.get(dP).get(r).get(ldS).i32Mul().i32(2).i32Shl().i32Add().set(drow);
      columns(lo, hi, (a, vec) => {
        // P at row (a), dP at drow + (a − row)
        const dpAddr = () => {
          f.get(drow).get(c).i32(2).i32Shl().i32Add();
        };
        dpAddr();
        load(a, vec);
        load(dpAddr, vec);
        f.get(mv).f32x4Add().f32x4Mul().get(scale).f32x4Mul();
        if (vec) f.v128Store();
        else f.f32x4ExtractLane(0).f32Store();
      });
      // zero dS outside the allowed columns
      const zero = f.local('i32');
      f.i32(0).set(zero);
      f.get(row).set(orow);
      f.get(drow).set(row);
      columns(zero, lo, (a, vec) => store(a, vec, () => f.v128Const([0, 0, 0, 0])));
      columns(hi, ncols, (a, vec) => store(a, vec, () => f.v128Const([0, 0, 0, 0])));
    }
  });
  vc.finish();
  return f;
}

/** `attn_fwd(pp, scratch)`: one head's forward. */
function forward(cfg: GemmConfig, idx: Idx): Fn {
  const f = new Fn('attn_fwd', ['i32', 'i32']);
  const [pp, scr] = f.params;
  const q = field(f, pp, PARAM.q);
  const qrs = field(f, pp, PARAM.qrs);
  const k = field(f, pp, PARAM.k);
  const krs = field(f, pp, PARAM.krs);
  const v = field(f, pp, PARAM.v);
  const vrs = field(f, pp, PARAM.vrs);
  const out = field(f, pp, PARAM.out);
  const tq = field(f, pp, PARAM.tq);
  const tk = field(f, pp, PARAM.tk);
  const d = field(f, pp, PARAM.d);
  const dv = field(f, pp, PARAM.dvDim);
  const scale = field(f, pp, PARAM.scale);
  const window = field(f, pp, PARAM.window);
  const bq = field(f, pp, PARAM.bq);
  const S = field(f, pp, PARAM.s);
  const bp = field(f, pp, PARAM.bp);
  const tile = field(f, pp, PARAM.tile);
  for (const l of [S, bp, tile]) f.addTo(l, L(scr));
  const off = f.local('i32');
  const ldo = f.local('i32');
  const i0 = f.local('i32');
  const rows = f.local('i32');
  const js = f.local('i32');
  const je = f.local('i32');
  const nc = f.local('i32');
  f.get(pp).i32Load(4 * PARAM.off).set(off);
  f.get(dv).i32(1).i32Add().set(ldo);
  void cfg;
  f.forRange(i0, 0, L(tq), L(bq), () => {
    min(f, () => f.get(bq), () => f.get(tq).get(i0).i32Sub());
    f.set(rows);
    min(f, () => f.get(tk), () => f.get(i0).get(rows).i32Add().get(off).i32Add());
    f.set(je);
    f.i32(0).set(js);
    f.get(window).i32(0).i32GtS().if();
    max(f, () => f.i32(0), () => f.get(i0).get(off).i32Add().i32(1).i32Add().get(window).i32Sub());
    f.set(js);
    f.end();
    f.get(je).get(js).i32Sub().set(nc);
    // S = Q_blk · K[js:je]ᵀ
    f.get(q).get(i0).get(qrs).i32Mul().i32(2).i32Shl().i32Add().get(qrs).i32(1);
    f.get(k).get(js).get(krs).i32Mul().i32(2).i32Shl().i32Add().i32(1).get(krs);
    f.get(S).get(tk).i32(0).get(rows).i32(0).get(nc).get(d).get(bp).get(tile).call(idx('gemm_row'));
    // softmax rows; L → out column Dv
    f.get(S).get(tk).get(rows).get(i0).get(js).get(nc).get(off).get(window).get(scale);
    f.get(out).get(i0).get(ldo).i32Mul().get(dv).i32Add().i32(2).i32Shl().i32Add().get(ldo).i32(0).i32(0).i32(0).call(idx('attn_softmax'));
    // O_blk = P · V[js:je]
    f.get(S).get(tk).i32(1);
    f.get(v).get(js).get(vrs).i32Mul().i32(2).i32Shl().i32Add().get(vrs).i32(1);
    f.get(out).get(i0).get(ldo).i32Mul().i32(2).i32Shl().i32Add().get(ldo).i32(0).get(rows).i32(0).get(dv).get(nc).get(bp).get(tile).call(idx('gemm_row'));
  });
  return f;
}

/** `attn_bwd(pp, scratch)`: one head's backward (dq, dk, dv contiguous rows). */
function backward(idx: Idx): Fn {
  const f = new Fn('attn_bwd', ['i32', 'i32']);
  const [pp, scr] = f.params;
  const q = field(f, pp, PARAM.q);
  const qrs = field(f, pp, PARAM.qrs);
  const k = field(f, pp, PARAM.k);
  const krs = field(f, pp, PARAM.krs);
  const v = field(f, pp, PARAM.v);
  const vrs = field(f, pp, PARAM.vrs);
  const o = field(f, pp, PARAM.out);
  const g = field(f, pp, PARAM.g);
  const dq = field(f, pp, PARAM.dq);
  const dk = field(f, pp, PARAM.dk);
  const dvo = field(f, pp, PARAM.dv);
  const tq = field(f, pp, PARAM.tq);
  const tk = field(f, pp, PARAM.tk);
  const d = field(f, pp, PARAM.d);
  const dv = field(f, pp, PARAM.dvDim);
  const scale = field(f, pp, PARAM.scale);
  const window = field(f, pp, PARAM.window);
  const bq = field(f, pp, PARAM.bq);
  const S = field(f, pp, PARAM.s);
  const dP = field(f, pp, PARAM.dp);
  const bp = field(f, pp, PARAM.bp);
  const tile = field(f, pp, PARAM.tile);
  for (const l of [S, dP, bp, tile]) f.addTo(l, L(scr));
  const off = f.local('i32');
  const ldo = f.local('i32');
  const i0 = f.local('i32');
  const rows = f.local('i32');
  const js = f.local('i32');
  const je = f.local('i32');
  const nc = f.local('i32');
  const z = f.local('i32');
  f.get(pp).i32Load(4 * PARAM.off).set(off);
  f.get(dv).i32(1).i32Add().set(ldo);
  // dK = 0, dV = 0 (accumulated over query blocks)
  const zero = (ptr: Local, n: () => void) => {
    f.forRange(z, 0, n, 1, () => {
      f.get(ptr).get(z).i32(2).i32Shl().i32Add().f32(0).f32Store();
    });
  };
  zero(dk, () => f.get(tk).get(d).i32Mul());
  zero(dvo, () => f.get(tk).get(dv).i32Mul());
  const addr = (base: Local, row: () => void, stride: Local) => {
    f.get(base);
    row();
    f.get(stride).i32Mul().i32(2).i32Shl().i32Add();
  };
  f.forRange(i0, 0, L(tq), L(bq), () => {
    min(f, () => f.get(bq), () => f.get(tq).get(i0).i32Sub());
    f.set(rows);
    min(f, () => f.get(tk), () => f.get(i0).get(rows).i32Add().get(off).i32Add());
    f.set(je);
    f.i32(0).set(js);
    f.get(window).i32(0).i32GtS().if();
    max(f, () => f.i32(0), () => f.get(i0).get(off).i32Add().i32(1).i32Add().get(window).i32Sub());
    f.set(js);
    f.end();
    f.get(je).get(js).i32Sub().set(nc);
    const gemm = (name: string, a: () => void, ars: () => void, acs: () => void, b: () => void, brs: () => void, bcs: () => void, c: () => void, ldc: () => void, m: () => void, n: () => void, kk: () => void) => {
      a();
      ars();
      acs();
      b();
      brs();
      bcs();
      c();
      ldc();
      f.i32(0);
      m();
      f.i32(0);
      n();
      kk();
      f.get(bp).get(tile).call(idx(name));
    };
    const one = () => f.i32(1);
    const G = (x: Local) => () => f.get(x);
    // S = Q_blk · K[js:je]ᵀ ; P = exp(scale·S − L)
    gemm('gemm_row', () => addr(q, () => f.get(i0), qrs), G(qrs), one, () => addr(k, () => f.get(js), krs), one, G(krs), G(S), G(tk), G(rows), G(nc), G(d));
    f.get(S).get(tk).get(rows).get(i0).get(js).get(nc).get(off).get(window).get(scale);
    f.get(o).get(i0).get(ldo).i32Mul().get(dv).i32Add().i32(2).i32Shl().i32Add().get(ldo).i32(0).i32(0).i32(0).call(idx('attn_probs'));
    // dP = dO_blk · V[js:je]ᵀ
    gemm('gemm_row', () => addr(g, () => f.get(i0), ldo), G(ldo), one, () => addr(v, () => f.get(js), vrs), one, G(vrs), G(dP), G(tk), G(rows), G(nc), G(dv));
    // dS = scale·P∘(dP − Δ + dL) into the dP block
    f.get(S).get(tk).get(rows).get(i0).get(js).get(nc).get(off).get(window).get(scale);
    addr(g, () => f.get(i0), ldo);
    f.get(ldo);
    addr(o, () => f.get(i0), ldo);
    f.get(dP).get(dv).call(idx('attn_dscore'));
    // dV[js:je] += Pᵀ · dO_blk  (Pᵀ read column-major from the S block)
    gemm('gemm_col_acc', G(S), one, G(tk), () => addr(g, () => f.get(i0), ldo), G(ldo), one, () => addr(dvo, () => f.get(js), dv), G(dv), G(nc), G(dv), G(rows));
    // dK[js:je] += dSᵀ · Q_blk
    gemm('gemm_col_acc', G(dP), one, G(tk), () => addr(q, () => f.get(i0), qrs), G(qrs), one, () => addr(dk, () => f.get(js), d), G(d), G(nc), G(d), G(rows));
    // dQ_blk = dS · K[js:je]
    gemm('gemm_row', G(dP), G(tk), one, () => addr(k, () => f.get(js), krs), G(krs), one, () => addr(dq, () => f.get(i0), d), G(d), G(rows), G(d), G(nc));
  });
  return f;
}

/** The attention functions, appended after the GEMM functions (indices from `base`). */
export function attentionFunctions(cfg: GemmConfig, base: number, index: Idx): Fn[] {
  const rowFns = [rowKernel('softmax'), rowKernel('probs'), rowKernel('dscore')];
  const names = new Map(rowFns.map((fn, k) => [fn.name, base + k]));
  const idx: Idx = (name) => names.get(name) ?? index(name);
  return [...rowFns, forward(cfg, idx), backward(idx)];
}
