/** float64 reference loops of the fused attention primitives (see ops/attention/primitive.ts). */
import { sizeOf, type Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { attentionDims, MASK_VALUE, type AttentionAttrs } from './primitive.js';

type Dense = { shape: Shape; data: Float64Array };

/** Flat offset of batch index `b` (over `batch`) into an input whose own batch shape may broadcast. */
function batchBase(b: number, batch: Shape, x: Dense, matrix: number): number {
  const own = x.shape.slice(0, -2);
  let rest = b;
  let flat = 0;
  let mul = 1;
  for (let k = batch.length - 1; k >= 0; k--) {
    const idx = rest % batch[k];
    rest = Math.floor(rest / batch[k]);
    const ok = k - (batch.length - own.length);
    if (ok >= 0) {
      if (own[ok] !== 1) flat += idx * mul;
      mul *= own[ok];
    }
  }
  return flat * matrix;
}

interface Head {
  /** visible keys, scaled scores and probabilities of row i (a row seeing none: every key, uniform) */
  rows: { js: number[]; p: number[]; lse: number; empty?: boolean }[];
  q: (i: number, d: number) => number;
  k: (j: number, d: number) => number;
  v: (j: number, c: number) => number;
}

function head(n: Tensor, b: number, [q, k, v]: readonly Dense[], keys: Dense | undefined): Head {
  const a = n.attrs as AttentionAttrs;
  const { batch, tq, tk, d, dv } = attentionDims(q, k, v);
  const [qb, kb, vb] = [batchBase(b, batch, q, tq * d), batchBase(b, batch, k, tk * d), batchBase(b, batch, v, tk * dv)];
  const Q = (i: number, e: number) => q.data[qb + i * d + e];
  const K = (j: number, e: number) => k.data[kb + j * d + e];
  const V = (j: number, c: number) => v.data[vb + j * dv + c];
  const kmb = keys ? batchBase(b, batch, { shape: [...keys.shape, 1], data: keys.data }, tk) : 0;
  const real = (j: number) => !keys || keys.data[kmb + j] !== 0;
  const rows = [];
  for (let i = 0; i < tq; i++) {
    const js: number[] = [];
    const s: number[] = [];
    for (let j = 0; j < tk; j++) {
      if (a.causal && (j > i + a.offset || (a.window > 0 && j <= i + a.offset - a.window))) continue;
      if (!real(j)) continue;
      let dot = 0;
      for (let e = 0; e < d; e++) dot += Q(i, e) * K(j, e);
      js.push(j);
      s.push(a.scale * dot);
    }
    if (js.length === 0) {
      rows.push({ js: Array.from({ length: tk }, (_, j) => j), p: new Array<number>(tk).fill(1 / tk), lse: MASK_VALUE, empty: true });
      continue;
    }
    const m = Math.max(...s);
    const l = s.reduce((acc, x) => acc + Math.exp(x - m), 0);
    rows.push({ js, p: s.map((x) => Math.exp(x - m) / l), lse: m + Math.log(l) });
  }
  return { rows, q: Q, k: K, v: V };
}

export function referenceAttention(n: Tensor, xs: readonly Dense[]): Float64Array {
  const { batch, tq, dv } = attentionDims(xs[0], xs[1], xs[2]);
  const out = new Float64Array(sizeOf(batch) * tq * (dv + 1));
  for (let b = 0; b < sizeOf(batch); b++) {
    const h = head(n, b, xs, xs[3]);
    h.rows.forEach((row, i) => {
      const o = (b * tq + i) * (dv + 1);
      for (let c = 0; c < dv; c++) out[o + c] = row.js.reduce((acc, j, t) => acc + row.p[t] * h.v(j, c), 0);
      out[o + dv] = row.lse;
    });
  }
  return out;
}

export function referenceAttentionGrad(n: Tensor, xs: readonly Dense[]): Float64Array {
  const [q, k, v, fwd, g, keys] = xs;
  const a = n.attrs as AttentionAttrs;
  const { batch, tq, tk, d, dv } = attentionDims(q, k, v);
  const nb = sizeOf(batch);
  const out = new Float64Array(nb * (tq * d + tk * d + tk * dv));
  const [dqAt, dkAt, dvAt] = [0, nb * tq * d, nb * tq * d + nb * tk * d];
  for (let b = 0; b < nb; b++) {
    const h = head(n, b, [q, k, v], keys);
    const G = (i: number, c: number) => g.data[(b * tq + i) * (dv + 1) + c];
    const O = (i: number, c: number) => fwd.data[(b * tq + i) * (dv + 1) + c];
    h.rows.forEach((row, i) => {
      let delta = 0;
      for (let c = 0; c < dv; c++) delta += G(i, c) * O(i, c);
      row.js.forEach((j, t) => {
        let dp = 0;
        for (let c = 0; c < dv; c++) dp += G(i, c) * h.v(j, c);
        const ds = row.empty ? 0 : a.scale * row.p[t] * (dp - delta + G(i, dv)); // constant scores: no gradient
        for (let e = 0; e < d; e++) {
          out[dqAt + (b * tq + i) * d + e] += ds * h.k(j, e);
          out[dkAt + (b * tk + j) * d + e] += ds * h.q(i, e);
        }
        for (let c = 0; c < dv; c++) out[dvAt + (b * tk + j) * dv + c] += row.p[t] * G(i, c);
      });
    });
  }
  return out;
}
