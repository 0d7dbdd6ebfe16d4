/**
 * Fast paths of the fused attention primitives on the WebAssembly backends: one job per head (batch
 * item) with its own scratch, the heads split over the threads. Short sequences run the small-shape
 * kernels of ops/attention/wasm-small.ts (whole score matrices per head, see useSmall), long ones the
 * blocked kernels of ops/attention/wasm.ts (a [BQ, Tk] block of scores, and one of dP in the backward pass).
 * In training both keep P from the forward for the backward (attention-cache.ts).
 *
 * A key mask (padding) whose real keys form one run per head (left or right padding: every caller's)
 * costs nothing: see attention-keys.ts. Other masks take the gpu.js kernel.
 */
import type { View } from '../../backend.js';
import { broadcastView } from '../../kernels/codegen.js';
import { attentionDims, type AttentionAttrs } from './primitive.js';
import type { Tensor } from '../../tensor.js';
import { PARAM, blockLd, keptFloats } from './wasm.js';
import { SMALL, padTo, smallLdt } from './wasm-small.js';
import { SMALL_MR, SMALL_NR } from './wasm-mm.js';
import { SX_CONSTS } from './wasm-softmax.js';
import { ScratchExhausted, JobList, f32Bits, type Runtime } from '../../backends/cpu/runtime.js';
import { keepProbabilities, keptProbabilities } from './cpu-cache.js';
import type { FastContext } from '../../backends/cpu/context.js';
import { finishOutput, kernelOutput } from '../../backends/cpu/buffers.js';
import { emptyRowsBackward, emptyRowsForward, keyRuns, shiftHead } from './cpu-keys.js';
import { runInline, copyIn } from '../../backends/cpu/matmul.js';

/** Query rows per block of scores. */
const BQ = 64;


interface Operand {
  /** byte address of each batch item's [0, 0] */
  at: (b: number) => number;
  /** row stride in elements */
  rs: number;
}

/** Copy a [..batch, rows, cols] view with unit column stride into scratch; per-item addresses. */
function operand(rt: Runtime, v: View, batch: readonly number[], rows: number, cols: number): Operand | undefined {
  const bv = broadcastView(v, [...batch, rows, cols]);
  const r = bv.shape.length;
  if (cols > 1 && bv.strides[r - 1] !== 1) return undefined;
  const c = copyIn(rt, bv);
  if (!c) return undefined;
  const nb = batch.reduce((a, x) => a * x, 1);
  const offs = new Array<number>(nb);
  const idx = new Array<number>(batch.length).fill(0);
  for (let b = 0, off = 0; b < nb; b++) {
    offs[b] = off;
    for (let k = batch.length - 1; k >= 0; k--) {
      off += bv.strides[k];
      if (++idx[k] < batch[k]) break;
      off -= bv.strides[k] * batch[k];
      idx[k] = 0;
    }
  }
  const base = c.addr + 4 * (bv.offset - c.lo);
  return { at: (b) => base + 4 * offs[b], rs: rows > 1 ? bv.strides[r - 2] : cols };
}

/**
 * For tests and benchmarks: `small` forces the small-shape path on or off (undefined: by shape);
 * `keep` lets a forward built for differentiation (attribute `keep`) keep P for its backward (attention-cache.ts).
 */
export const attentionTuning: { small: boolean | undefined; keep: boolean } = { small: undefined, keep: true };

/**
 * The small-shape kernels (ops/attention/wasm-small.ts) measured faster than the blocked ones at every
 * shape tried up to T = 384 (kernel time, one thread: 1.3–1.9× at T ≤ 128 before keeping P, the
 * backward ~2× more with it; ~1.1× at T = 256–384) and level at T = 512, d = 64. They work on a head's
 * [Tq, ldt] matrix of P (the backward writes dS over it, from a strip of dP) and Kᵀ, Vᵀ ([D + Dv, ldt]):
 * past T ≈ 400 that leaves L2, and the blocked path, whose blocks of 64 query rows do not grow with Tq,
 * takes over.
 */
function useSmall(tq: number, tk: number, d: number, dv: number): boolean {
  if (attentionTuning.small !== undefined) return attentionTuning.small;
  const ldt = smallLdt(tk);
  return 4 * tq * ldt <= 640 * 1024 && 4 * (d + dv) * ldt <= 4 * 2 ** 20;
}

type Fill = (words: Int32Array, b: number, at: number) => void;

/**
 * Run `fn` on every head (batch item), in jobs of several heads (`fn`_n): one on a single thread, four
 * per thread on the pool, so that a thread the OS holds back leaves little for the others to wait on.
 */
function run(ctx: FastContext, rt: Runtime, fn: string, words: number, nb: number, scratchFloats: number, fill: Fill, flops: number): void {
  const threads = ctx.pool && nb > 1 && flops > 1 << 20 ? Math.min(ctx.threads, nb) : 1;
  const params = rt.alloc(nb * words);
  const scratch = rt.alloc((scratchFloats + 64) * threads);
  if (params < 0 || scratch < 0) throw new ScratchExhausted();
  const w = rt.i32;
  for (let b = 0; b < nb; b++) fill(w, b, (params >> 2) + b * words);
  const list = new JobList();
  list.stride = 4 * (scratchFloats + 64);
  const per = threads > 1 ? Math.ceil(nb / (4 * threads)) : nb;
  for (let b = 0; b < nb; b += per) list.add(`${fn}_n`, rt, [params + 4 * b * words, scratch, Math.min(per, nb - b)], [2]);
  if (threads > 1) ctx.pool!.run(list);
  else runInline(rt, list);
}

/**
 * Scratch layout of one thread: [S block | dP block | packing buffer | tile | K, V packed per head]
 * (offsets in bytes); the per-head packs (PARAM.pkt) only without a window.
 */
function layout(rt: Runtime, tq: number, tk: number, d: number, dv: number, backward: boolean, window: number) {
  const { KC, MR, NV } = rt.kernels.gemm;
  const NR = 4 * NV;
  const up = (n: number) => Math.ceil(n / NR) * NR;
  const bq = Math.min(BQ, tq);
  const block = bq * blockLd(tk) + 16;
  const widest = Math.max(tk, d, dv);
  const bp = KC * Math.ceil(widest / NR) * NR;
  const s = 0;
  const dp = backward ? block : 0;
  const bpAt = (backward ? 2 : 1) * block;
  const tile = bpAt + bp;
  const pkt = tile + MR * NR + 16 + MR * 4 * NV + 64;
  const whole = window > 0 ? 0 : 1;
  // B of the GEMMs: Kᵀ [d × Tk] (S), forward V [Tk × dv] (O), backward Vᵀ [dv × Tk] (dP), K [Tk × d] (dQ)
  const pvb = pkt + whole * (d * up(tk) + 16);
  const pkr = pvb + whole * ((backward ? dv * up(tk) : tk * up(dv)) + 16);
  const floats = pkr + (backward ? whole * (tk * up(d) + 16) : 0);
  return { bq, s: 4 * s, dp: 4 * dp, bp: 4 * bpAt, tile: 4 * tile, pkt: 4 * pkt, pvb: 4 * pvb, pkr: 4 * pkr, floats };
}

/** Scratch of the small path: named regions of `floats` each, 64-byte aligned, as byte offsets. */
function smallLayout(regions: Record<string, number>): { at: Record<string, number>; floats: number } {
  const at: Record<string, number> = {};
  let floats = 0;
  for (const [name, n] of Object.entries(regions)) {
    at[name] = 4 * floats;
    floats += Math.ceil((n + 16) / 16) * 16;
  }
  return { at, floats };
}

interface Dims {
  tq: number;
  tk: number;
  d: number;
  dv: number;
  a: AttentionAttrs;
}

/** The parameter words that are the same for every head (dims, attributes, scratch offsets). */
function template(words: number, { tq, tk, d, dv, a }: Dims, rest: (t: Int32Array) => void): Int32Array {
  const t = new Int32Array(words);
  t[PARAM.tq] = tq;
  t[PARAM.tk] = tk;
  t[PARAM.d] = d;
  t[PARAM.dvDim] = dv;
  t[PARAM.scale] = f32Bits(a.scale);
  t[PARAM.window] = a.causal ? a.window : 0;
  t[PARAM.off] = a.causal ? a.offset : tk;
  rest(t);
  return t;
}

/** The blocked path's per-head template: dims, attributes and its scratch layout (dP only backward). */
function blockedWords(rt: Runtime, dims: Dims, backward: boolean): { words: Int32Array; lay: ReturnType<typeof layout> } {
  const lay = layout(rt, dims.tq, dims.tk, dims.d, dims.dv, backward, dims.a.causal ? dims.a.window : 0);
  const words = template(PARAM.WORDS, dims, (t) => {
    t[PARAM.bq] = lay.bq;
    t[PARAM.s] = lay.s;
    t[PARAM.dp] = lay.dp; // 0 forward
    t[PARAM.bp] = lay.bp;
    t[PARAM.tile] = lay.tile;
    t[PARAM.pkt] = lay.pkt;
    t[PARAM.pvb] = lay.pvb;
    t[PARAM.pkr] = lay.pkr;
  });
  return { words, lay };
}

/** Per head: the template, then the input addresses and row strides. */
function inputs(w: Int32Array, at: number, b: number, t: Int32Array, Q: Operand, K: Operand, V: Operand): void {
  w.set(t, at);
  w[at + PARAM.q] = Q.at(b);
  w[at + PARAM.qrs] = Q.rs;
  w[at + PARAM.k] = K.at(b);
  w[at + PARAM.krs] = K.rs;
  w[at + PARAM.v] = V.at(b);
  w[at + PARAM.vrs] = V.rs;
}

/** The small path's per-thread scratch and template; each head's SMALL.pc is set by the caller. */
function smallParams(dims: Dims, backward: boolean, kept: boolean): { floats: number; words: Int32Array } {
  const { tq, tk, d, dv } = dims;
  const ldt = smallLdt(tk);
  const padK = d % SMALL_NR !== 0;
  const padV = dv % SMALL_NR !== 0;
  const both = { tile: SMALL_MR * SMALL_NR, cst: 4 * SX_CONSTS };
  // with P kept, the backward neither recomputes S nor needs scale·Kᵀ
  const { at, floats } = smallLayout(
    backward
      ? {
          kt: kept ? 0 : d * ldt,
          vt: dv * ldt,
          s: kept ? 0 : tq * ldt,
          ds: SMALL_MR * ldt, // one strip of dP: dS takes P's place
          kp: padK ? tk * padTo(d) : 0,
          qp: padK ? tq * padTo(d) : 0,
          gp: padV ? tq * padTo(dv) : 0,
          ...both,
        }
      : { kt: d * ldt, vt: 0, s: SMALL_MR * ldt, ds: 0, kp: 0, qp: 0, gp: padV ? tk * padTo(dv) : 0, ...both },
  );
  const words = template(SMALL.WORDS, dims, (t) => {
    for (const [k, off] of Object.entries(at)) t[SMALL[k as keyof typeof SMALL]] = off;
    t[SMALL.ldt] = ldt;
    t[SMALL.flags] = (backward && padK ? 1 : 0) | (padV ? 2 : 0);
  });
  return { floats, words };
}

export function attentionFast(ctx: FastContext, node: Tensor, [q, k, v, km]: readonly View[]): Float32Array | undefined {
  const rt = ctx.rt;
  if (!rt) return undefined;
  const a = node.attrs as AttentionAttrs;
  const { batch, tq, tk, d, dv } = attentionDims(q, k, v);
  const nb = batch.reduce((x, y) => x * y, 1);
  const runs = keyRuns(km, batch, tq, tk, a);
  if (runs === undefined) return undefined;
  const views = km ? [q, k, v, km] : [q, k, v];
  rt.reset();
  const Q = operand(rt, q, batch, tq, d);
  const K = operand(rt, k, batch, tk, d);
  const V = operand(rt, v, batch, tk, dv);
  if (!Q || !K || !V) return undefined;
  const o = kernelOutput(rt, node.size);
  if (!o) return undefined;
  const out = o.at;
  const dims: Dims = { tq, tk, d, dv, a };
  const rows = { q: 4 * Q.rs, k: 4 * K.rs, v: 4 * V.rs, o: 4 * (dv + 1) };
  const flops = 2 * nb * tq * tk * (d + dv);
  const keep = attentionTuning.keep && a.keep;
  if (useSmall(tq, tk, d, dv)) {
    const ldt = smallLdt(tk);
    const pc = keep ? keepProbabilities(rt, o.out, views, a, nb * tq * ldt, ldt) : 0;
    const { floats, words } = smallParams(dims, false, false);
    run(ctx, rt, 'attn_sfwd', SMALL.WORDS, nb, floats, (w, b, at) => {
      inputs(w, at, b, words, Q, K, V);
      w[at + PARAM.out] = out + 4 * b * tq * (dv + 1);
      w[at + SMALL.pc] = pc && pc + 4 * b * tq * ldt;
      shiftHead(w, at, runs, b, a, rows, d, dv, false);
    }, flops);
    if (runs?.empty) emptyRowsForward(rt, runs, V, out, nb, tq, tk, dv);
    return finishOutput(rt, o);
  }
  const { words, lay } = blockedWords(rt, dims, false);
  const per = keptFloats(tq, tk, lay.bq, a.causal, a.window, a.offset);
  // keyed by −bq: never a small-path ldt, so neither path reads the other's P
  const pk = keep ? keepProbabilities(rt, o.out, views, a, nb * per, -lay.bq) : 0;
  run(ctx, rt, 'attn_fwd', PARAM.WORDS, nb, lay.floats, (w, b, at) => {
    inputs(w, at, b, words, Q, K, V);
    w[at + PARAM.out] = out + 4 * b * tq * (dv + 1);
    w[at + PARAM.pk] = pk && pk + 4 * b * per;
    shiftHead(w, at, runs, b, a, rows, d, dv, false);
  }, flops);
  if (runs?.empty) emptyRowsForward(rt, runs, V, out, nb, tq, tk, dv);
  return finishOutput(rt, o);
}

export function attentionGradFast(ctx: FastContext, node: Tensor, [q, k, v, fwd, g, km]: readonly View[]): Float32Array | undefined {
  const rt = ctx.rt;
  if (!rt) return undefined;
  const a = node.attrs as AttentionAttrs;
  const { batch, tq, tk, d, dv } = attentionDims(q, k, v);
  const nb = batch.reduce((x, y) => x * y, 1);
  const runs = keyRuns(km, batch, tq, tk, a);
  if (runs === undefined) return undefined;
  const views = km ? [q, k, v, km] : [q, k, v];
  rt.reset();
  const Q = operand(rt, q, batch, tq, d);
  const K = operand(rt, k, batch, tk, d);
  const V = operand(rt, v, batch, tk, dv);
  const O = operand(rt, fwd, batch, tq, dv + 1);
  const G = operand(rt, g, batch, tq, dv + 1);
  if (!Q || !K || !V || !O || !G) return undefined;
  if ((tq > 1 && (O.rs !== dv + 1 || G.rs !== dv + 1)) || Q.rs < 0 || K.rs < 0 || V.rs < 0) return undefined;
  const o = kernelOutput(rt, node.size);
  if (!o) return undefined;
  const out = o.at;
  // dK, dV rows of keys outside a head's run get no write
  if (runs) rt.f32.fill(0, out >> 2, (out >> 2) + node.size);
  const dims: Dims = { tq, tk, d, dv, a };
  const [nq, nk] = [nb * tq * d, nb * tk * d];
  const outputs = (w: Int32Array, b: number, at: number): void => {
    w[at + PARAM.out] = O.at(b);
    w[at + PARAM.g] = G.at(b);
    w[at + PARAM.dq] = out + 4 * b * tq * d;
    w[at + PARAM.dk] = out + 4 * (nq + b * tk * d);
    w[at + PARAM.dv] = out + 4 * (nq + nk + b * tk * dv);
    shiftHead(w, at, runs, b, a, rows, d, dv, true);
  };
  const rows = { q: 4 * Q.rs, k: 4 * K.rs, v: 4 * V.rs, o: 4 * (dv + 1) };
  const flops = 4 * nb * tq * tk * (d + dv);
  if (useSmall(tq, tk, d, dv)) {
    const ldt = smallLdt(tk);
    const kept = attentionTuning.keep ? keptProbabilities(fwd, views, a, ldt) : undefined;
    const { floats, words } = smallParams(dims, true, !!kept);
    run(ctx, rt, 'attn_sbwd', SMALL.WORDS, nb, floats, (w, b, at) => {
      inputs(w, at, b, words, Q, K, V);
      w[at + SMALL.pc] = kept ? kept.at + 4 * b * tq * ldt : 0;
      outputs(w, b, at);
    }, flops);
    if (runs?.empty) emptyRowsBackward(rt, runs, G, out + 4 * (nq + nk), nb, tq, tk, dv);
    kept?.release();
    return finishOutput(rt, o);
  }
  const { words, lay } = blockedWords(rt, dims, true);
  const per = keptFloats(tq, tk, lay.bq, a.causal, a.window, a.offset);
  const kept = attentionTuning.keep ? keptProbabilities(fwd, views, a, -lay.bq) : undefined;
  run(ctx, rt, 'attn_bwd', PARAM.WORDS, nb, lay.floats, (w, b, at) => {
    inputs(w, at, b, words, Q, K, V);
    w[at + PARAM.pk] = kept ? kept.at + 4 * b * per : 0;
    outputs(w, b, at);
  }, flops);
  if (runs?.empty) emptyRowsBackward(rt, runs, G, out + 4 * (nq + nk), nb, tq, tk, dv);
  kept?.release();
  return finishOutput(rt, o);
}
