/**
 * Fused causal attention in WebAssembly SIMD for long sequences (attention-small.ts has the kernels
 * for short ones), one head per call (threads take whole heads):
 *
 *   forward   S = Q·Kᵀ (per block of BQ query rows, only the key columns some row may see),
 *             P = softmax(scale·S) over the allowed keys, O = P·V, L = logsumexp(scale·S)
 *   backward  S recomputed, P = exp(scale·S − L) (or P as the forward kept it: PARAM.pk),
 *             dP = dO·Vᵀ, dS = scale·P∘(dP − rowsum(dO∘O) + dL), dQ = dS·K, dK += dSᵀ·Q, dV += Pᵀ·dO
 *
 * so at most one [BQ, Tk] block of scores (and one of dP) exists per head at a time, unless P is kept
 * (training: ops/attention/cpu-cache.ts). The GEMMs are the module's in-place ones behind the causal
 * drivers of attention-gemm.ts, which skip the masked half of each block's diagonal part. Query row
 * i (of Tq) sees key j (of Tk) when j ≤ i + off (PARAM.off: Tk − Tq by default, any offset ≤ that
 * with a KV cache, the padded key run's shifted one: ops/attention/cpu.ts) and, with a window w > 0, j > i + off − w.
 *
 * Arguments come in a parameter block (int32 words, scale as float32 bits): see PARAM.
 */
import { Fn, L, type Local } from '../../backends/cpu/wasm/emit.js';
import type { GemmConfig } from '../../backends/cpu/wasm/gemm.js';
import { field, heads, max, min, rowKernel, type Idx } from './wasm-rows.js';
import { causalDrivers, packedB } from './wasm-gemm.js';

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
  /**
   * absolute address of this head's kept P (ops/attention/cpu-cache.ts), or 0: the forward writes each
   * block's P there instead of to scratch, and the backward reads it instead of recomputing S and P.
   * Blocks lie one after the other, rows blockLd(nc) floats apart (see keptFloats).
   */
  pk: 23,
  /**
   * Scratch for B operands packed once per head (attn_pack), used when window = 0 (every block's keys
   * then start at 0): forward Kᵀ and V, backward Kᵀ (unless pk), Vᵀ and K.
   */
  pkt: 24,
  pvb: 25,
  pkr: 26,
  WORDS: 27,
} as const;

/**
 * Row stride (floats) of a score block: an odd multiple of 16 floats. At a stride of Tk = 512 (2 KiB)
 * the rows of a block map to 2 of L1's 64 sets, and the GEMMs that read a block down its columns
 * (Pᵀ·dO, dSᵀ·Q: one row per k step) thrash them; an odd number of cache lines per row spreads the
 * rows over all sets (one thread, [12, 512, 64] forward + backward: 45 → 43 ms, measured).
 */
export const blockLd = (tk: number): number => ((tk + 15) & -16) | 16;

/**
 * Floats of kept P per head: the blocks of the kernels' loop, each `rows` rows of blockLd(nc) floats
 * (the causal triangle, not [Tq, Tk]: 7.5 MB for 12 heads at T = 512).
 */
export function keptFloats(tq: number, tk: number, bq: number, causal: boolean, window: number, offset = tk - tq): number {
  const off = causal ? offset : tk;
  let n = 0;
  for (let i0 = 0; i0 < tq; i0 += bq) {
    const rows = Math.min(bq, tq - i0);
    const je = Math.min(tk, i0 + rows + off);
    const js = causal && window > 0 ? Math.max(0, i0 + off + 1 - window) : 0;
    n += rows * blockLd(je - js);
  }
  return n;
}

/** `ld = blockLd(n)` in wasm, into `ld`. */
function setLd(f: Fn, n: Local, ld: Local): void {
  f.get(n).i32(15).i32Add().i32(-16).i32And().set(ld);
  // ld | 16 (no i32.or in the emitter)
  f.get(ld).i32(16).i32Add().get(ld).i32(16).i32And().i32Sub().set(ld);
}

/**
 * `Sb` = this block's P: at `pk` (kept P, then advanced past the block) when pk ≠ 0, else the
 * scratch block `S`.
 */
function blockAt(f: Fn, pk: Local, S: Local, Sb: Local, rows: Local, ld: Local): void {
  f.get(S).set(Sb);
  f.get(pk).if();
  f.get(pk).set(Sb);
  f.get(pk).get(rows).get(ld).i32Mul().i32(2).i32Shl().i32Add().set(pk);
  f.end();
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
  const pkt = field(f, pp, PARAM.pkt);
  const pvb = field(f, pp, PARAM.pvb);
  for (const l of [S, bp, tile, pkt, pvb]) f.addTo(l, L(scr));
  const off = f.local('i32');
  const ldo = f.local('i32');
  const i0 = f.local('i32');
  const rows = f.local('i32');
  const js = f.local('i32');
  const je = f.local('i32');
  const nc = f.local('i32');
  const lds = f.local('i32');
  const t0 = f.local('i32');
  const pk = field(f, pp, PARAM.pk);
  const Sb = f.local('i32');
  f.get(pp).i32Load(4 * PARAM.off).set(off);
  f.get(dv).i32(1).i32Add().set(ldo);
  const [bS, preS, ldS] = packedB(f, cfg, idx, window, bp, pkt, k, 1, L(krs), d, tk);
  const [bO, preO, ldO] = packedB(f, cfg, idx, window, bp, pvb, v, L(vrs), 1, tk, dv);
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
    f.get(i0).get(off).i32Add().i32(1).i32Add().get(js).i32Sub().set(t0);
    setLd(f, nc, lds);
    blockAt(f, pk, S, Sb, rows, lds);
    // S = Q_blk · K[js:je]ᵀ
    f.get(q).get(i0).get(qrs).i32Mul().i32(2).i32Shl().i32Add().get(qrs).i32(1);
    f.get(k).get(js).get(krs).i32Mul().i32(2).i32Shl().i32Add().i32(1).get(krs);
    f.get(Sb).get(lds).get(rows).get(nc).get(d).get(bS).get(tile).get(t0).get(preS).get(ldS).call(idx('attn_gn'));
    // softmax rows; L → out column Dv
    f.get(Sb).get(lds).get(rows).get(i0).get(js).get(nc).get(off).get(window).get(scale);
    f.get(out).get(i0).get(ldo).i32Mul().get(dv).i32Add().i32(2).i32Shl().i32Add().get(ldo).i32(0).i32(0).i32(0).call(idx('attn_softmax'));
    // O_blk = P · V[js:je]
    f.get(Sb).get(lds).i32(1);
    f.get(v).get(js).get(vrs).i32Mul().i32(2).i32Shl().i32Add().get(vrs).i32(1);
    f.get(out).get(i0).get(ldo).i32Mul().i32(2).i32Shl().i32Add().get(ldo).get(rows).get(dv).get(nc).get(bO).get(tile).get(t0).get(preO).get(ldO).call(idx('attn_gk'));
  });
  return f;
}

/** `attn_bwd(pp, scratch)`: one head's backward (dq, dk, dv contiguous rows). */
function backward(cfg: GemmConfig, idx: Idx): Fn {
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
  const pkt = field(f, pp, PARAM.pkt);
  const pvb = field(f, pp, PARAM.pvb);
  const pkr = field(f, pp, PARAM.pkr);
  for (const l of [S, dP, bp, tile, pkt, pvb, pkr]) f.addTo(l, L(scr));
  const off = f.local('i32');
  const ldo = f.local('i32');
  const i0 = f.local('i32');
  const rows = f.local('i32');
  const js = f.local('i32');
  const je = f.local('i32');
  const nc = f.local('i32');
  const z = f.local('i32');
  const t0 = f.local('i32');
  const lds = f.local('i32');
  const pk = field(f, pp, PARAM.pk);
  const Sb = f.local('i32');
  f.get(pp).i32Load(4 * PARAM.off).set(off);
  f.get(dv).i32(1).i32Add().set(ldo);
  // dK = 0, dV = 0 (accumulated over query blocks)
  const zn = f.local('i32');
  const zero = (ptr: Local, n: () => void) => {
    // whole vectors, then the scalar tail (scalar stores only: ~0.5 ms of a [12, 512, 64] backward)
    n();
    f.set(zn);
    f.i32(0).set(z);
    f.block().loop();
    f.get(z).i32(4).i32Add().get(zn).i32GtS().brIf(1);
    f.get(ptr).get(z).i32(2).i32Shl().i32Add().v128Const([0, 0, 0, 0]).v128Store();
    f.addTo(z, 4);
    f.br(0).end().end();
    f.forRange(z, L(z), L(zn), 1, () => {
      f.get(ptr).get(z).i32(2).i32Shl().i32Add().f32(0).f32Store();
    });
  };
  zero(dk, () => f.get(tk).get(d).i32Mul());
  zero(dvo, () => f.get(tk).get(dv).i32Mul());
  const pS = packedB(f, cfg, idx, window, bp, pkt, k, 1, L(krs), d, tk, pk);
  const pP = packedB(f, cfg, idx, window, bp, pvb, v, 1, L(vrs), dv, tk);
  const pQ = packedB(f, cfg, idx, window, bp, pkr, k, L(krs), 1, tk, d);
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
    f.get(i0).get(off).i32Add().i32(1).i32Add().get(js).i32Sub().set(t0);
    setLd(f, nc, lds);
    blockAt(f, pk, S, Sb, rows, lds);
    const gemm = (name: string, a: () => void, ars: () => void, acs: () => void, b: () => void, brs: () => void, bcs: () => void, c: () => void, ldc: () => void, m: () => void, n: () => void, kk: () => void, pb?: [Local, Local, Local]) => {
      a();
      ars();
      acs();
      b();
      brs();
      bcs();
      c();
      ldc();
      m();
      n();
      kk();
      if (pb) f.get(pb[0]).get(tile).get(t0).get(pb[1]).get(pb[2]);
      else f.get(bp).get(tile).get(t0).i32(0).i32(0);
      f.call(idx(name));
    };
    const one = () => f.i32(1);
    const G = (x: Local) => () => f.get(x);
    // S = Q_blk · K[js:je]ᵀ ; P = exp(scale·S − L)
    f.get(pk).i32Eqz().if();
    gemm('attn_gn', () => addr(q, () => f.get(i0), qrs), G(qrs), one, () => addr(k, () => f.get(js), krs), one, G(krs), G(Sb), G(lds), G(rows), G(nc), G(d), pS);
    f.get(Sb).get(lds).get(rows).get(i0).get(js).get(nc).get(off).get(window).get(scale);
    f.get(o).get(i0).get(ldo).i32Mul().get(dv).i32Add().i32(2).i32Shl().i32Add().get(ldo).i32(0).i32(0).i32(0).call(idx('attn_probs'));
    f.end();
    // dP = dO_blk · V[js:je]ᵀ
    gemm('attn_gn', () => addr(g, () => f.get(i0), ldo), G(ldo), one, () => addr(v, () => f.get(js), vrs), one, G(vrs), G(dP), G(lds), G(rows), G(nc), G(dv), pP);
    // dS = scale·P∘(dP − Δ + dL) into the dP block
    f.get(Sb).get(lds).get(rows).get(i0).get(js).get(nc).get(off).get(window).get(scale);
    addr(g, () => f.get(i0), ldo);
    f.get(ldo);
    addr(o, () => f.get(i0), ldo);
    f.get(dP).get(dv).call(idx('attn_dscore'));
    // dV[js:je] += Pᵀ · dO_blk  (Pᵀ read column-major from the S block)
    gemm('attn_gm', G(Sb), one, G(lds), () => addr(g, () => f.get(i0), ldo), G(ldo), one, () => addr(dvo, () => f.get(js), dv), G(dv), G(nc), G(dv), G(rows));
    // dK[js:je] += dSᵀ · Q_blk
    gemm('attn_gm', G(dP), one, G(lds), () => addr(q, () => f.get(i0), qrs), G(qrs), one, () => addr(dk, () => f.get(js), d), G(d), G(nc), G(d), G(rows));
    // dQ_blk = dS · K[js:je]
    gemm('attn_gk', G(dP), G(lds), one, () => addr(k, () => f.get(js), krs), G(krs), one, () => addr(dq, () => f.get(i0), d), G(d), G(rows), G(d), G(nc), pQ);
  });
  return f;
}

/**
 * The attention functions (calls by handle, so they may sit anywhere in the module); `index` resolves
 * the names outside them (the GEMM's).
 */
export function attentionFunctions(cfg: GemmConfig, index: Idx): Fn[] {
  const rowFns = [rowKernel('softmax'), rowKernel('probs'), rowKernel('dscore'), ...causalDrivers(cfg, index)];
  const names = new Map(rowFns.map((fn) => [fn.name, fn]));
  const idx: Idx = (name) => names.get(name) ?? index(name);
  const fwd = forward(cfg, idx);
  const bwd = backward(cfg, idx);
  return [...rowFns, fwd, bwd, heads('attn_fwd', fwd, PARAM.WORDS), heads('attn_bwd', bwd, PARAM.WORDS)];
}
