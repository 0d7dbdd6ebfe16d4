/**
 * Fast paths of the fused attention primitives on the WebAssembly backends: one job per head (batch
 * item), each running wasm/attention.ts with its own scratch (a [BQ, Tk] block of scores, and one of
 * dP in the backward pass), the heads split over the threads.
 */
import type { View } from '../backend.js';
import { broadcastView } from '../kernels/codegen.js';
import { attentionDims, type AttentionAttrs } from '../primitives/attention.js';
import type { Tensor } from '../tensor.js';
import { PARAM } from '../wasm/attention.js';
import { ScratchExhausted, JobList, type Runtime } from '../wasm/runtime.js';
import type { FastContext } from './context.js';
import { finishOutput, kernelOutput } from './buffers.js';
import { runInline, copyIn } from './matmul.js';

/** Query rows per block of scores. */
const BQ = 64;

const f32bits = (x: number): number => new Int32Array(new Float32Array([x]).buffer)[0];

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
  const bs = bv.strides.slice(0, -2);
  const offs: number[] = [];
  const idx = new Array<number>(batch.length).fill(0);
  const nb = batch.reduce((a, x) => a * x, 1);
  for (let b = 0; b < nb; b++) {
    offs.push(idx.reduce((acc, x, k) => acc + x * bs[k], 0));
    for (let k = batch.length - 1; k >= 0; k--) {
      if (++idx[k] < batch[k]) break;
      idx[k] = 0;
    }
  }
  const base = c.addr + 4 * (bv.offset - c.lo);
  return { at: (b) => base + 4 * offs[b], rs: rows > 1 ? bv.strides[r - 2] : cols };
}

function run(ctx: FastContext, rt: Runtime, fn: 'attn_fwd' | 'attn_bwd', nb: number, scratchFloats: number, fill: (words: Int32Array, b: number, at: number) => void, flops: number): void {
  const { MR, NV } = rt.kernels.gemm;
  const threads = ctx.pool && nb > 1 && flops > 1 << 20 ? Math.min(ctx.threads, nb) : 1;
  const params = rt.alloc(nb * PARAM.WORDS);
  const scratch = rt.alloc((scratchFloats + MR * 4 * NV + 64) * threads);
  if (params < 0 || scratch < 0) throw new ScratchExhausted();
  const list = new JobList();
  list.stride = 4 * (scratchFloats + MR * 4 * NV + 64);
  const words = rt.i32;
  for (let b = 0; b < nb; b++) {
    const at = (params >> 2) + b * PARAM.WORDS;
    fill(words, b, at);
    list.add(fn, rt, [params + 4 * b * PARAM.WORDS, scratch], [2]);
  }
  if (threads > 1) ctx.pool!.run(list);
  else runInline(rt, list);
}

/** Scratch layout of one thread: [S block | dP block | packing buffer | tile] (offsets in bytes). */
function layout(rt: Runtime, tq: number, tk: number, d: number, dv: number, backward: boolean) {
  const { KC, MR, NV } = rt.kernels.gemm;
  const NR = 4 * NV;
  const bq = Math.min(BQ, tq);
  const block = bq * tk + 16;
  const widest = Math.max(tk, d, dv);
  const bp = KC * Math.ceil(widest / NR) * NR;
  const s = 0;
  const dp = backward ? block : 0;
  const bpAt = (backward ? 2 : 1) * block;
  const tile = bpAt + bp;
  return { bq, s: 4 * s, dp: 4 * dp, bp: 4 * bpAt, tile: 4 * tile, floats: tile + MR * NR + 16 };
}

export function attentionFast(ctx: FastContext, node: Tensor, [q, k, v]: readonly View[]): Float32Array | undefined {
  const rt = ctx.rt;
  if (!rt) return undefined;
  const a = node.attrs as AttentionAttrs;
  const { batch, tq, tk, d, dv } = attentionDims(q, k, v);
  const nb = batch.reduce((x, y) => x * y, 1);
  rt.reset();
  const Q = operand(rt, q, batch, tq, d);
  const K = operand(rt, k, batch, tk, d);
  const V = operand(rt, v, batch, tk, dv);
  if (!Q || !K || !V) return undefined;
  const o = kernelOutput(rt, node.size);
  if (!o) return undefined;
  const out = o.at;
  const lay = layout(rt, tq, tk, d, dv, false);
  const scale = f32bits(a.scale);
  run(ctx, rt, 'attn_fwd', nb, lay.floats, (w, b, at) => {
    w[at + PARAM.q] = Q.at(b);
    w[at + PARAM.qrs] = Q.rs;
    w[at + PARAM.k] = K.at(b);
    w[at + PARAM.krs] = K.rs;
    w[at + PARAM.v] = V.at(b);
    w[at + PARAM.vrs] = V.rs;
    w[at + PARAM.out] = out + 4 * b * tq * (dv + 1);
    w[at + PARAM.tq] = tq;
    w[at + PARAM.tk] = tk;
    w[at + PARAM.d] = d;
    w[at + PARAM.dvDim] = dv;
    w[at + PARAM.scale] = scale;
    w[at + PARAM.window] = a.causal ? a.window : 0;
    w[at + PARAM.off] = a.causal ? tk - tq : tk;
    w[at + PARAM.bq] = lay.bq;
    w[at + PARAM.s] = lay.s;
    w[at + PARAM.bp] = lay.bp;
    w[at + PARAM.tile] = lay.tile;
  }, 2 * nb * tq * tk * (d + dv));
  return finishOutput(rt, o);
}

export function attentionGradFast(ctx: FastContext, node: Tensor, [q, k, v, fwd, g]: readonly View[]): Float32Array | undefined {
  const rt = ctx.rt;
  if (!rt) return undefined;
  const a = node.attrs as AttentionAttrs;
  const { batch, tq, tk, d, dv } = attentionDims(q, k, v);
  const nb = batch.reduce((x, y) => x * y, 1);
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
  const lay = layout(rt, tq, tk, d, dv, true);
  const scale = f32bits(a.scale);
  const [nq, nk] = [nb * tq * d, nb * tk * d];
  run(ctx, rt, 'attn_bwd', nb, lay.floats, (w, b, at) => {
    w[at + PARAM.q] = Q.at(b);
    w[at + PARAM.qrs] = Q.rs;
    w[at + PARAM.k] = K.at(b);
    w[at + PARAM.krs] = K.rs;
    w[at + PARAM.v] = V.at(b);
    w[at + PARAM.vrs] = V.rs;
    w[at + PARAM.out] = O.at(b);
    w[at + PARAM.g] = G.at(b);
    w[at + PARAM.dq] = out + 4 * b * tq * d;
    w[at + PARAM.dk] = out + 4 * (nq + b * tk * d);
    w[at + PARAM.dv] = out + 4 * (nq + nk + b * tk * dv);
    w[at + PARAM.tq] = tq;
    w[at + PARAM.tk] = tk;
    w[at + PARAM.d] = d;
    w[at + PARAM.dvDim] = dv;
    w[at + PARAM.scale] = scale;
    w[at + PARAM.window] = a.causal ? a.window : 0;
    w[at + PARAM.off] = a.causal ? tk - tq : tk;
    w[at + PARAM.bq] = lay.bq;
    w[at + PARAM.s] = lay.s;
    w[at + PARAM.dp] = lay.dp;
    w[at + PARAM.bp] = lay.bp;
    w[at + PARAM.tile] = lay.tile;
  }, 4 * nb * tq * tk * (d + dv));
  return finishOutput(rt, o);
}
