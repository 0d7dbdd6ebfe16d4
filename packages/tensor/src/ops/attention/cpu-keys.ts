/**
 * Key padding on the WebAssembly attention paths (ops/attention/cpu.ts). A head whose real keys are one run
 * [ks, ke) (left or right padding: every caller's) runs the unmasked kernels on that run: K and V
 * start at row ks, the head has ke − ks keys and its causal offset moves by −ks. Its query rows that
 * see a real key are one run too, [r0, r1) (left padding hides every key from the first pad queries,
 * a window past the end of right padding from the last ones): the kernels run those rows, and the
 * rows that see no key get the composite's uniform row here (v averaged over all Tk keys, L =
 * MASK_VALUE; in the backward pass g/Tk to every key's dv, nothing to q or k).
 */
import type { View } from '../../backend.js';
import { broadcastView } from '../../kernels/codegen.js';
import { MASK_VALUE, type AttentionAttrs } from './primitive.js';
import { PARAM } from './wasm.js';
import type { Runtime } from '../../backends/cpu/runtime.js';

/** Per head (flattened batch index): the run of real keys [ks, ke) and of query rows seeing one [r0, r1). */
export interface Runs {
  ks: Int32Array;
  ke: Int32Array;
  r0: Int32Array;
  r1: Int32Array;
  /** some head has a row that sees no key */
  empty: boolean;
}

/** Per head: the address of [row 0, col 0] (bytes) and the row stride (elements). */
export interface HeadOperand {
  at: (b: number) => number;
  rs: number;
}

/**
 * The key mask's runs per head, or undefined when a head's real keys are not one run or no row of it
 * sees one (the gpu.js kernel takes those); null without a mask.
 */
export function keyRuns(km: View | undefined, batch: readonly number[], tq: number, tk: number, a: AttentionAttrs): Runs | undefined | null {
  if (!km) return null;
  const data = km.storage.data;
  if (!data) return undefined;
  const bv = broadcastView(km, [...batch, tk]);
  const sj = bv.strides[bv.shape.length - 1];
  const nb = batch.reduce((x, y) => x * y, 1);
  const runs: Runs = { ks: new Int32Array(nb), ke: new Int32Array(nb), r0: new Int32Array(nb), r1: new Int32Array(nb), empty: false };
  const idx = new Array<number>(batch.length).fill(0);
  for (let b = 0; b < nb; b++) {
    let off = bv.offset;
    for (let k = 0; k < batch.length; k++) off += idx[k] * bv.strides[k];
    let j = 0;
    while (j < tk && data[off + j * sj] === 0) j++;
    const s = j;
    while (j < tk && data[off + j * sj] !== 0) j++;
    const e = j;
    while (j < tk && data[off + j * sj] === 0) j++;
    if (j < tk || e === s) return undefined; // a second run, or no real key
    // row i sees keys [max(ks, i + off − w + 1), min(ke − 1, i + off)]
    const r0 = a.causal ? Math.max(0, s - a.offset) : 0;
    const r1 = a.causal && a.window > 0 ? Math.min(tq, e - a.offset + a.window - 1) : tq;
    if (r0 >= r1) return undefined;
    [runs.ks[b], runs.ke[b], runs.r0[b], runs.r1[b]] = [s, e, r0, r1];
    if (r0 > 0 || r1 < tq) runs.empty = true;
    for (let k = batch.length - 1; k >= 0; k--) {
      if (++idx[k] < batch[k]) break;
      idx[k] = 0;
    }
  }
  return runs;
}

/**
 * Head b's parameter words (addresses already set for the whole head) moved to its runs: q, the
 * output (and backward: the forward's output, g, dq) from row r0, k, v (dk, dv) from row ks.
 */
export function shiftHead(w: Int32Array, at: number, runs: Runs | null, b: number, a: AttentionAttrs, rowBytes: { q: number; k: number; v: number; o: number }, d: number, dv: number, backward: boolean): void {
  if (!runs) return;
  const [s, e, r0, r1] = [runs.ks[b], runs.ke[b], runs.r0[b], runs.r1[b]];
  w[at + PARAM.q] += r0 * rowBytes.q;
  w[at + PARAM.out] += r0 * rowBytes.o;
  w[at + PARAM.k] += s * rowBytes.k;
  w[at + PARAM.v] += s * rowBytes.v;
  w[at + PARAM.tq] = r1 - r0;
  w[at + PARAM.tk] = e - s;
  w[at + PARAM.off] = a.causal ? a.offset - s + r0 : e - s;
  if (backward) {
    w[at + PARAM.g] += r0 * rowBytes.o;
    w[at + PARAM.dq] += r0 * 4 * d;
    w[at + PARAM.dk] += s * 4 * d;
    w[at + PARAM.dv] += s * 4 * dv;
  }
}

const outside = (runs: Runs, b: number, tq: number): number[] => {
  const rows: number[] = [];
  for (let i = 0; i < tq; i++) if (i < runs.r0[b] || i >= runs.r1[b]) rows.push(i);
  return rows;
};

/** Forward: rows that see no key get v's mean over all keys and L = MASK_VALUE (`out` bytes: the [O | L] output). */
export function emptyRowsForward(rt: Runtime, runs: Runs, V: HeadOperand, out: number, nb: number, tq: number, tk: number, dv: number): void {
  const f = rt.f32;
  const mean = new Float64Array(dv);
  for (let b = 0; b < nb; b++) {
    const rows = outside(runs, b, tq);
    if (!rows.length) continue;
    mean.fill(0);
    const v0 = V.at(b) >> 2;
    for (let j = 0; j < tk; j++) for (let c = 0; c < dv; c++) mean[c] += f[v0 + j * V.rs + c];
    for (const i of rows) {
      const o = (out >> 2) + (b * tq + i) * (dv + 1);
      for (let c = 0; c < dv; c++) f[o + c] = mean[c] / tk;
      f[o + dv] = MASK_VALUE;
    }
  }
}

/** Backward: each row that sees no key adds g/Tk to every key's dv (`dvAt` bytes: dv of head 0). */
export function emptyRowsBackward(rt: Runtime, runs: Runs, G: HeadOperand, dvAt: number, nb: number, tq: number, tk: number, dv: number): void {
  const f = rt.f32;
  const gsum = new Float64Array(dv);
  for (let b = 0; b < nb; b++) {
    const rows = outside(runs, b, tq);
    if (!rows.length) continue;
    gsum.fill(0);
    for (const i of rows) for (let c = 0; c < dv; c++) gsum[c] += f[(G.at(b) >> 2) + i * G.rs + c];
    const base = (dvAt >> 2) + b * tk * dv;
    for (let j = 0; j < tk; j++) for (let c = 0; c < dv; c++) f[base + j * dv + c] += gsum[c] / tk;
  }
}
