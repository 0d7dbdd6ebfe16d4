/**
 * Hand-written JavaScript paths for the data-movement and reduction primitives on the CPU backends:
 * strided copies run as inner contiguous runs (TypedArray.set), gather / scatter-add copy or add whole
 * rows (scatter-add in O(updates) instead of the kernel's O(output × indices)), reductions permute the
 * reduced axes last and fold rows in float64. Semantics are the gpu.js kernels' (indices clamped,
 * max/argmax take the first maximum, NaN propagates through max as in the kernel's `v > m` test).
 */
import type { View } from '../backend.js';
import type { Tensor } from '../tensor.js';
import { contiguousStrides, sizeOf, type Shape } from '../shape.js';
import type { FastContext } from './context.js';
import { outputBuffer, recycle } from './buffers.js';


/**
 * The values of a (shape, strides, offset) window of `data` in C order, as float32: written `into` when
 * given, else a new array — or, for a dense float32 window, a view of `data` itself (read-only use).
 */
export function gatherStrided(data: Float32Array | Float64Array, shape: Shape, strides: readonly number[], offset: number, into?: Float32Array): Float32Array {
  const n = sizeOf(shape);
  const r = shape.length;
  if (n === 0) return new Float32Array(0);
  // dense at an offset: one copy
  let dense = true;
  for (let k = r - 1, e = 1; k >= 0; k--) {
    if (shape[k] !== 1 && strides[k] !== e) dense = false;
    e *= shape[k];
  }
  if (dense && !into && data instanceof Float32Array) return data.subarray(offset, offset + n); // read-only use
  const out = into ?? new Float32Array(n);
  if (dense) {
    out.set(data.subarray(offset, offset + n));
    return out;
  }
  if (r === 0) {
    out[0] = data[offset];
    return out;
  }
  const inner = shape[r - 1];
  const si = strides[r - 1];
  const idx = new Array<number>(r - 1).fill(0);
  let pos = offset;
  for (let o = 0; o < n; o += inner) {
    // short runs: a loop beats subarray + set (each subarray is an allocation)
    if (si === 1 && inner >= 64 && data instanceof Float32Array) out.set(data.subarray(pos, pos + inner), o);
    else for (let i = 0, p = pos; i < inner; i++, p += si) out[o + i] = data[p];
    for (let k = r - 2; k >= 0; k--) {
      idx[k]++;
      pos += strides[k];
      if (idx[k] < shape[k]) break;
      pos -= strides[k] * shape[k];
      idx[k] = 0;
    }
  }
  return out;
}

/** out[dst…dst+n) = xs[src…src+n): a loop for short runs (a subarray per run is an allocation), else set. */
function copyRun(out: Float32Array, dst: number, xs: Float32Array, src: number, n: number): void {
  if (n >= 64) out.set(xs.subarray(src, src + n), dst);
  else for (let q = 0; q < n; q++) out[dst + q] = xs[src + q];
}

/** A view's values in C order (float32). */
export function dense(v: View): Float32Array | undefined {
  const d = v.storage.data;
  if (!d) return undefined;
  return gatherStrided(d, v.shape, v.strides, v.offset);
}

export function copyFast(_ctx: FastContext, node: Tensor, [x]: readonly View[]): Float32Array | undefined {
  const d = x.storage.data;
  return d && gatherStrided(d, x.shape, x.strides, x.offset, outputBuffer(node.size));
}

const clamp = (v: number, n: number): number => (v < 0 ? 0 : v > n - 1 ? n - 1 : v);
const floatIndex = (v: number): number => Math.floor(v + 0.0); // indices are stored as exact floats

export function gatherFast(_ctx: FastContext, node: Tensor, [x, idx]: readonly View[]): Float32Array | undefined {
  const axis = node.attrs.axis as number;
  const ids = dense(idx);
  const xs = dense(x);
  if (!ids || !xs) return undefined;
  const P = sizeOf(x.shape.slice(0, axis));
  const J = x.shape[axis];
  const Q = sizeOf(x.shape.slice(axis + 1));
  const I = ids.length;
  const out = outputBuffer(P * I * Q);
  for (let p = 0; p < P; p++) {
    for (let i = 0; i < I; i++) {
      const j = clamp(floatIndex(ids[i]), J);
      const src = (p * J + j) * Q;
      const dst = (p * I + i) * Q;
      copyRun(out, dst, xs, src, Q);
    }
  }
  return out;
}

export function scatterAddFast(_ctx: FastContext, node: Tensor, [u, idx]: readonly View[]): Float32Array | undefined {
  const axis = node.attrs.axis as number;
  const ids = dense(idx);
  const us = dense(u);
  if (!ids || !us) return undefined;
  const J = node.shape[axis];
  const P = sizeOf(node.shape.slice(0, axis));
  const Q = sizeOf(node.shape.slice(axis + 1));
  const I = ids.length;
  // accumulate in float64 (the kernel sums in JS numbers too), round once
  const acc = new Float64Array(P * J * Q);
  for (let p = 0; p < P; p++) {
    for (let i = 0; i < I; i++) {
      const j = clamp(floatIndex(ids[i]), J);
      const dst = (p * J + j) * Q;
      const src = (p * I + i) * Q;
      for (let q = 0; q < Q; q++) acc[dst + q] += us[src + q];
    }
  }
  const out = outputBuffer(acc.length);
  out.set(acc);
  return out;
}

export function padFast(_ctx: FastContext, node: Tensor, [x]: readonly View[]): Float32Array | undefined {
  const pads = node.attrs.pads as [number, number][];
  const value = node.attrs.value as number;
  const xs = dense(x);
  if (!xs) return undefined;
  const out = outputBuffer(node.size);
  out.fill(value);
  const shape = x.shape;
  const r = shape.length;
  if (xs.length === 0) return out;
  if (r === 0) {
    out[0] = xs[0];
    return out;
  }
  const os = contiguousStrides(node.shape);
  const inner = shape[r - 1];
  const idx = new Array<number>(r - 1).fill(0);
  let base = pads.reduce((acc, [b], k) => acc + b * os[k], 0);
  for (let o = 0; o < xs.length; o += inner) {
    copyRun(out, base, xs, o, inner);
    for (let k = r - 2; k >= 0; k--) {
      idx[k]++;
      base += os[k];
      if (idx[k] < shape[k]) break;
      base -= os[k] * shape[k];
      idx[k] = 0;
    }
  }
  return out;
}

export function concatFast(_ctx: FastContext, node: Tensor, views: readonly View[]): Float32Array | undefined {
  const axis = node.attrs.axis as number;
  const out = outputBuffer(node.size);
  const outer = sizeOf(node.shape.slice(0, axis));
  const rowOut = sizeOf(node.shape.slice(axis));
  let start = 0;
  for (const v of views) {
    const xs = dense(v);
    if (!xs) return undefined;
    const row = sizeOf(v.shape.slice(axis));
    for (let o = 0; o < outer; o++) copyRun(out, o * rowOut + start, xs, o * row, row);
    start += row;
  }
  return out;
}

/** sum / max / argmax over any axes: the reduced axes permuted last, then rows folded. */
export function reduceFast(_ctx: FastContext, node: Tensor, [x]: readonly View[]): Float32Array | undefined {
  const axes = node.attrs.axes as number[];
  const d = x.storage.data;
  if (!d) return undefined;
  const kept = x.shape.map((_, k) => k).filter((k) => !axes.includes(k));
  if (kept.length && axes.length && axes[axes.length - 1] < kept[0]) {
    // leading axes reduced (bias gradients, batch sums): fold whole rows, reading memory in order
    const cols = dense(x);
    if (!cols) return undefined;
    return foldLeading(node.op, cols, sizeOf(axes.map((k) => x.shape[k])), node.size);
  }
  const order = [...kept, ...axes];
  const rows = gatherStrided(
    d,
    order.map((k) => x.shape[k]),
    order.map((k) => x.strides[k]),
    x.offset,
  );
  const R = sizeOf(axes.map((k) => x.shape[k]));
  const n = node.size;
  const out = outputBuffer(n);
  if (node.op === 'sum') sumRows(rows, out, n, R);
  else if (node.op === 'max') maxRows(rows, out, n, R);
  else {
    for (let o = 0; o < n; o++) {
      let m = rows[o * R];
      let best = 0;
      for (let i = 1; i < R; i++) {
        const v = rows[o * R + i];
        if (v > m) {
          m = v;
          best = i;
        }
      }
      out[o] = best;
    }
  }
  return out;
}

/** Sum of each row of R values (float64, four independent partial sums: no add-latency chain). */
function sumRows(rows: Float32Array, out: Float32Array, n: number, R: number): void {
  const R4 = R & ~3;
  for (let o = 0; o < n; o++) {
    const b = o * R;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let i = b;
    for (const e4 = b + R4; i < e4; i += 4) {
      s0 += rows[i];
      s1 += rows[i + 1];
      s2 += rows[i + 2];
      s3 += rows[i + 3];
    }
    for (const e = b + R; i < e; i++) s0 += rows[i];
    out[o] = s0 + s1 + (s2 + s3);
  }
}

/** Max of each row of R values, as one `v > m` scan: NaN only when the row starts with NaN. */
function maxRows(rows: Float32Array, out: Float32Array, n: number, R: number): void {
  for (let o = 0; o < n; o++) {
    const b = o * R;
    let m0 = rows[b];
    let m1 = m0;
    let m2 = m0;
    let m3 = m0;
    let i = b + 1;
    for (const e4 = b + 1 + ((R - 1) & ~3); i < e4; i += 4) {
      const v0 = rows[i];
      const v1 = rows[i + 1];
      const v2 = rows[i + 2];
      const v3 = rows[i + 3];
      m0 = v0 > m0 ? v0 : m0;
      m1 = v1 > m1 ? v1 : m1;
      m2 = v2 > m2 ? v2 : m2;
      m3 = v3 > m3 ? v3 : m3;
    }
    for (const e = b + R; i < e; i++) m0 = rows[i] > m0 ? rows[i] : m0;
    m0 = m1 > m0 ? m1 : m0;
    m2 = m3 > m2 ? m3 : m2;
    out[o] = m2 > m0 ? m2 : m0;
  }
}

/** Reduce a dense [R, K] block over R. */
function foldLeading(op: string, x: Float32Array, R: number, K: number): Float32Array {
  if (op === 'sum') {
    const acc = new Float64Array(K);
    let r = 0;
    for (; r + 1 < R; r += 2) {
      const o = r * K;
      const o2 = o + K;
      for (let k = 0; k < K; k++) acc[k] += x[o + k] + x[o2 + k];
    }
    for (; r < R; r++) {
      const o = r * K;
      for (let k = 0; k < K; k++) acc[k] += x[o + k];
    }
    const out = outputBuffer(K);
    out.set(acc);
    return out;
  }
  const m = outputBuffer(K);
  m.set(x.subarray(0, K));
  const best = outputBuffer(K);
  best.fill(0);
  for (let r = 1; r < R; r++) {
    const o = r * K;
    for (let k = 0; k < K; k++) {
      const v = x[o + k];
      if (v > m[k]) {
        m[k] = v;
        best[k] = r;
      }
    }
  }
  recycle(op === 'max' ? best : m);
  return op === 'max' ? m : best;
}
