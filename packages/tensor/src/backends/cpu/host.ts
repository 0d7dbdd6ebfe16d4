/**
 * Hand-written JavaScript paths for the data-movement and reduction primitives on the CPU backends:
 * strided copies run as inner contiguous runs (TypedArray.set), gather / scatter-add copy or add whole
 * rows (scatter-add in O(updates) instead of the kernel's O(output × indices)), reductions permute the
 * reduced axes last and fold rows in float64. Semantics are the gpu.js kernels' (indices clamped,
 * max/argmax take the first maximum, NaN propagates through max as in the kernel's `v > m` test).
 * On webasm / threads each op first tries its WebAssembly SIMD form (backends/cpu/copy.ts, backends/cpu/reduce.ts),
 * which works on wasm-memory storage in place and gives bit-identical results.
 */
import type { View } from '../../backend.js';
import type { Tensor } from '../../tensor.js';
import { contiguousStrides, sizeOf, type Shape } from '../../shape.js';
import type { FastContext } from './context.js';
import { outputBuffer, recycle } from './buffers.js';
import { dense, gatherStrided } from './strided.js';
import { concatWasm, copyWasm, gatherWasm, padWasm } from './copy.js';
import { f64Scratch, foldLeading, maxRows, reduceWasm, roundInto, scatterWasm, sumRows } from './reduce.js';


/** out[dst…dst+n) = xs[src…src+n): a loop for short runs (a subarray per run is an allocation), else set. */
function copyRun(out: Float32Array, dst: number, xs: Float32Array, src: number, n: number): void {
  if (n >= 64) out.set(xs.subarray(src, src + n), dst);
  else for (let q = 0; q < n; q++) out[dst + q] = xs[src + q];
}


export function copyFast(ctx: FastContext, node: Tensor, [x]: readonly View[]): Float32Array | undefined {
  const w = ctx.rt && copyWasm(ctx.rt, node, x);
  if (w) return w;
  const d = x.storage.data;
  return d && gatherStrided(d, x.shape, x.strides, x.offset, outputBuffer(node.size));
}

const clamp = (v: number, n: number): number => (v < 0 ? 0 : v > n - 1 ? n - 1 : v);
const floatIndex = (v: number): number => Math.floor(v + 0.0); // indices are stored as exact floats

export function gatherFast(ctx: FastContext, node: Tensor, [x, idx]: readonly View[]): Float32Array | undefined {
  const axis = node.attrs.axis as number;
  const ids = dense(idx);
  if (x.storage.bf16) return ids && gatherBF16(node, x, ids);
  const w = ids && ctx.rt && gatherWasm(ctx.rt, node, x, ids);
  if (w) return w;
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

/** gather from a bfloat16-resident table (a C-order view at any offset): rows decoded as they are copied. */
function gatherBF16(node: Tensor, x: View, ids: Float32Array): Float32Array | undefined {
  if (x.strides.some((s, k) => x.shape[k] !== 1 && s !== contiguousStrides(x.shape)[k])) return undefined;
  const axis = node.attrs.axis as number;
  const bits = x.storage.bf16!;
  const P = sizeOf(x.shape.slice(0, axis));
  const J = x.shape[axis];
  const Q = sizeOf(x.shape.slice(axis + 1));
  const out = outputBuffer(P * ids.length * Q);
  const words = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let p = 0, dst = 0; p < P; p++) {
    for (let i = 0; i < ids.length; i++, dst += Q) {
      const src = x.offset + (p * J + clamp(floatIndex(ids[i]), J)) * Q;
      for (let q = 0; q < Q; q++) words[dst + q] = bits[src + q] << 16;
    }
  }
  return out;
}

export function scatterAddFast(ctx: FastContext, node: Tensor, [u, idx]: readonly View[]): Float32Array | undefined {
  const axis = node.attrs.axis as number;
  const ids = dense(idx);
  const w = ids && ctx.rt && scatterWasm(ctx.rt, node, u, ids);
  if (w) return w;
  const us = dense(u);
  if (!ids || !us) return undefined;
  const J = node.shape[axis];
  const P = sizeOf(node.shape.slice(0, axis));
  const Q = sizeOf(node.shape.slice(axis + 1));
  const I = ids.length;
  // accumulate in float64 (the kernel sums in JS numbers too), round once
  const acc = f64Scratch(P * J * Q);
  for (let p = 0; p < P; p++) {
    for (let i = 0; i < I; i++) addRow(acc, (p * J + clamp(floatIndex(ids[i]), J)) * Q, us, (p * I + i) * Q, Q);
  }
  const out = outputBuffer(P * J * Q);
  roundInto(acc, out, P * J * Q);
  return out;
}

/** acc[dst…dst+n) += xs[src…src+n) (a NaN dst adds nowhere). */
function addRow(acc: Float64Array, dst: number, xs: Float32Array, src: number, n: number): void {
  for (let q = 0; q < n; q++) acc[dst + q] += xs[src + q];
}

export function padFast(ctx: FastContext, node: Tensor, [x]: readonly View[]): Float32Array | undefined {
  const w = ctx.rt && padWasm(ctx.rt, node, x);
  if (w) return w;
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

export function concatFast(ctx: FastContext, node: Tensor, views: readonly View[]): Float32Array | undefined {
  const runs = (out: Float32Array, v: View, start: number): boolean => concatRuns(node, out, v, start);
  const w = ctx.rt && concatWasm(ctx.rt, node, views, runs);
  if (w) return w;
  const out = outputBuffer(node.size);
  const axis = node.attrs.axis as number;
  let start = 0;
  for (const v of views) {
    if (!runs(out, v, start)) return undefined;
    start += sizeOf(v.shape.slice(axis));
  }
  return out;
}

/** Copy one concat input into its columns [start, …) of every output row. */
function concatRuns(node: Tensor, out: Float32Array, v: View, start: number): boolean {
  const axis = node.attrs.axis as number;
  const xs = dense(v);
  if (!xs) return false;
  const outer = sizeOf(node.shape.slice(0, axis));
  const rowOut = sizeOf(node.shape.slice(axis));
  const row = sizeOf(v.shape.slice(axis));
  for (let o = 0; o < outer; o++) copyRun(out, o * rowOut + start, xs, o * row, row);
  return true;
}

/** sum / max / argmax over any axes: the reduced axes permuted last, then rows folded. */
export function reduceFast(ctx: FastContext, node: Tensor, [x]: readonly View[]): Float32Array | undefined {
  const axes = node.attrs.axes as number[];
  const d = x.storage.data;
  if (!d) return undefined;
  const w = ctx.rt && reduceWasm(ctx.rt, node, x);
  if (w) return w;
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
