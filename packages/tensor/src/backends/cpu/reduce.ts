/**
 * Row reductions (sum / max) and scatter-add for backends/cpu/host.ts, in two forms with bit-identical results:
 * the JavaScript loops (the cpu backend, engines without the kernels; they define the results: float64
 * accumulation in a fixed order, rounded once) and the WebAssembly SIMD kernels of backends/cpu/wasm/reduce.ts,
 * which do the same operations in the same order on storage in wasm memory.
 */
import type { View } from '../../backend.js';
import type { Tensor } from '../../tensor.js';
import { sizeOf } from '../../shape.js';
import type { Runtime } from './runtime.js';
import { finishOutput, kernelOutput, outputBuffer, recycle, scratchChunk, wasmAddress } from './buffers.js';
import { WASM_MIN, denseAddress } from './copy.js';

let f64 = new Float64Array(1024);
/**
 * A float64 accumulator whose first n values are zero. Shared by all calls: a fresh Float64Array
 * costs a zero-fill plus page faults, more than the small reductions themselves.
 */
export function f64Scratch(n: number): Float64Array {
  if (f64.length < n) f64 = new Float64Array(Math.max(n, 2 * f64.length));
  else f64.fill(0, 0, n);
  return f64;
}

/** out[0…n) = acc[0…n) rounded to float32 (a loop: `set` from a Float64Array is V8's slow generic path). */
export function roundInto(acc: Float64Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = acc[i];
}

let i32 = new Int32Array(1024);
function i32Scratch(n: number): Int32Array {
  if (i32.length < n) i32 = new Int32Array(Math.max(n, 2 * i32.length));
  return i32;
}

/** Run `kernel(out)` into a fresh output of n floats (in place in wasm memory, or via scratch). */
function withOutput(rt: Runtime, n: number, kernel: (at: number) => void): Float32Array | undefined {
  const o = kernelOutput(rt, n);
  if (!o) return undefined;
  kernel(o.at);
  return finishOutput(rt, o);
}

/** sum / max over any axes with host.ts reduceFast's layout rules; argmax stays in JavaScript. */
export function reduceWasm(rt: Runtime, node: Tensor, x: View): Float32Array | undefined {
  const op = node.op;
  if ((op !== 'sum' && op !== 'max') || sizeOf(x.shape) < WASM_MIN) return undefined;
  const axes = node.attrs.axes as number[];
  const kept = x.shape.map((_, k) => k).filter((k) => !axes.includes(k));
  const R = sizeOf(axes.map((k) => x.shape[k]));
  const n = node.size;
  const fns = rt.kernels.fns;
  // a large input outside wasm memory would be copied whole into scratch (which never shrinks): the
  // JavaScript loop reads it in place instead, with the same results
  if (x.storage.data && wasmAddress(x.storage.data) === undefined && 4 * sizeOf(x.shape) > 2 * scratchChunk.bytes) return undefined;
  rt.reset();
  if (kept.length && axes.length && axes[axes.length - 1] < kept[0]) {
    if (op !== 'sum') return undefined;
    const src = denseAddress(rt, x);
    return src === undefined ? undefined : withOutput(rt, n, (at) => fns.sum_lead(src, at, R, n));
  }
  const order = [...kept, ...axes];
  const rows: View = { storage: x.storage, shape: order.map((k) => x.shape[k]), strides: order.map((k) => x.strides[k]), offset: x.offset };
  const src = denseAddress(rt, rows);
  if (src === undefined) return undefined;
  const kernel = op === 'sum' ? fns.sum_rows : fns.max_rows;
  return withOutput(rt, n, (at) => kernel(src, at, n, R));
}

/**
 * Scatter-add as one sum per output row over the update rows that land there, in index order
 * (a counting sort of the indices; a NaN index adds nowhere, as in host.ts).
 */
export function scatterWasm(rt: Runtime, node: Tensor, u: View, ids: Float32Array): Float32Array | undefined {
  if (node.size < WASM_MIN) return undefined;
  const axis = node.attrs.axis as number;
  const J = node.shape[axis];
  const P = sizeOf(node.shape.slice(0, axis));
  const Q = sizeOf(node.shape.slice(axis + 1));
  const I = ids.length;
  rt.reset();
  const us = denseAddress(rt, u);
  const starts = rt.alloc(J + 1);
  const list = rt.alloc(I);
  if (us === undefined || starts < 0 || list < 0) return undefined;
  const w = rt.i32;
  const s = starts >> 2;
  const js = i32Scratch(I + J);
  w.fill(0, s, s + J + 1);
  for (let i = 0; i < I; i++) {
    const v = Math.floor(ids[i] + 0.0);
    const j = v < 0 ? 0 : v > J - 1 ? J - 1 : v;
    if (j !== j) js[i] = -1;
    else {
      js[i] = j;
      w[s + j + 1]++;
    }
  }
  for (let j = 0; j < J; j++) {
    w[s + j + 1] += w[s + j];
    js[I + j] = w[s + j];
  }
  for (let i = 0, l = list >> 2; i < I; i++) {
    const j = js[i];
    if (j >= 0) w[l + js[I + j]++] = 4 * i * Q;
  }
  return withOutput(rt, node.size, (at) => rt.kernels.fns.scatter_rows(us, starts, list, at, J, Q, P, 4 * I * Q));
}

// --- the JavaScript loops (cpu backend, engines without the kernels): the definition of the results

/** Sum of each row of R values (float64, four independent partial sums: no add-latency chain). */
export function sumRows(rows: Float32Array, out: Float32Array, n: number, R: number): void {
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
export function maxRows(rows: Float32Array, out: Float32Array, n: number, R: number): void {
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
export function foldLeading(op: string, x: Float32Array, R: number, K: number): Float32Array {
  if (op === 'sum') {
    const acc = f64Scratch(K);
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
    roundInto(acc, out, K);
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
