/**
 * The WebAssembly side of backends/cpu/host.ts's copies (strided copy, pad, concat, gather): when a view's
 * storage and the output live in wasm memory, the kernels of backends/cpu/wasm/copy.ts move the data in place.
 * Each function returns undefined where it does not apply (the JavaScript path then runs).
 */
import type { View } from '../../backend.js';
import type { Tensor } from '../../tensor.js';
import { contiguousStrides, sizeOf, type Shape } from '../../shape.js';
import type { Runtime } from './runtime.js';
import { outputBuffer, recycle, wasmAddress } from './buffers.js';
import { gatherStrided } from './strided.js';
import { copyIn } from './matmul.js';

/** Below this many floats the kernels' call overhead is not worth it (and outputs are plain arrays). */
export const WASM_MIN = 256;

/** Byte address of a view's element at index 0 of its window, when its storage lives in wasm memory. */
export function viewAddress(v: View): number | undefined {
  const d = v.storage.data;
  const at = d && wasmAddress(d);
  return at === undefined ? undefined : at + 4 * v.offset;
}

/**
 * Copy the window (shape, element strides ss) at byte address `src` to `dst` laid out with element
 * strides `ds`: dims contiguous in both are merged, size-1 dims dropped, the last dim (dst stride 1)
 * is the kernel's run, up to three outer dims go to the kernel and any others are looped here.
 */
export function copyWindow(rt: Runtime, src: number, shape: Shape, ss: readonly number[], dst: number, ds: readonly number[]): void {
  const n: number[] = [];
  const s: number[] = [];
  const t: number[] = [];
  for (let k = 0; k < shape.length; k++) {
    if (shape[k] === 1) continue;
    const last = n.length - 1;
    if (last >= 0 && s[last] === ss[k] * shape[k] && t[last] === ds[k] * shape[k]) {
      n[last] *= shape[k];
      s[last] = ss[k];
      t[last] = ds[k];
    } else {
      n.push(shape[k]);
      s.push(ss[k]);
      t.push(ds[k]);
    }
  }
  if (!n.length || t[t.length - 1] !== 1) {
    n.push(1);
    s.push(1);
    t.push(1);
  }
  while (n.length < 4) {
    n.unshift(1);
    s.unshift(0);
    t.unshift(0);
  }
  const copy = rt.kernels.fns.copy_nd;
  const r = n.length;
  const lead = r - 4;
  const call = (a: number, b: number): unknown =>
    copy(a, b, n[r - 1], 4 * s[r - 1], n[r - 2], 4 * s[r - 2], 4 * t[r - 2], n[r - 3], 4 * s[r - 3], 4 * t[r - 3], n[r - 4], 4 * s[r - 4], 4 * t[r - 4]);
  if (lead === 0) {
    call(src, dst);
    return;
  }
  const idx = new Array<number>(lead).fill(0);
  const total = sizeOf(n.slice(0, lead));
  for (let c = 0; c < total; c++) {
    call(src, dst);
    for (let k = lead - 1; k >= 0; k--) {
      idx[k]++;
      src += 4 * s[k];
      dst += 4 * t[k];
      if (idx[k] < n[k]) break;
      src -= 4 * s[k] * n[k];
      dst -= 4 * t[k] * n[k];
      idx[k] = 0;
    }
  }
}

/**
 * The byte address of a view's values in C order in wasm memory: in place when its storage lives there
 * and the window is dense, else a scratch copy of the current op (call `rt.reset()` first).
 */
export function denseAddress(rt: Runtime, v: View): number | undefined {
  const d = v.storage.data;
  if (!d) return undefined;
  const n = sizeOf(v.shape);
  const at = viewAddress(v);
  if (at !== undefined) {
    let dense = true;
    for (let k = v.shape.length - 1, e = 1; k >= 0; k--) {
      if (v.shape[k] !== 1 && v.strides[k] !== e) dense = false;
      e *= v.shape[k];
    }
    if (dense) return at;
  }
  const dst = rt.alloc(n);
  if (dst < 0) return undefined;
  if (at !== undefined) copyWindow(rt, at, v.shape, v.strides, dst, contiguousStrides(v.shape));
  else gatherStrided(d, v.shape, v.strides, v.offset, rt.f32.subarray(dst >> 2, (dst >> 2) + n));
  return dst;
}

/** An output array of n floats in wasm memory and its address, or undefined (it is then recycled). */
function wasmOutput(n: number): { out: Float32Array; at: number } | undefined {
  const out = outputBuffer(n);
  const at = wasmAddress(out);
  if (at !== undefined) return { out, at };
  recycle(out);
  return undefined;
}

/**
 * The byte address of a view's [0, …] element in wasm memory, strides unchanged: in place, or host
 * storage brought in by `copyIn` (adopted into wasm memory, else its window copied into this op's
 * scratch), so that the strided copy still runs in the SIMD kernel instead of a JS loop.
 */
function sourceAddress(rt: Runtime, v: View): number | undefined {
  if (sizeOf(v.shape) === 0) return undefined;
  rt.reset();
  const c = copyIn(rt, v);
  return c && c.addr + 4 * (v.offset - c.lo);
}

/** A strided window copied into a fresh C-order array. */
export function copyWasm(rt: Runtime, node: Tensor, x: View): Float32Array | undefined {
  if (node.size < WASM_MIN) return undefined;
  const src = sourceAddress(rt, x);
  if (src === undefined) return undefined;
  const o = wasmOutput(node.size);
  if (!o) return undefined;
  copyWindow(rt, src, x.shape, x.strides, o.at, contiguousStrides(x.shape));
  return o.out;
}

export function padWasm(rt: Runtime, node: Tensor, x: View): Float32Array | undefined {
  if (node.size < WASM_MIN) return undefined;
  const src = sourceAddress(rt, x);
  if (src === undefined) return undefined;
  const o = wasmOutput(node.size);
  if (!o) return undefined;
  const pads = node.attrs.pads as [number, number][];
  rt.kernels.fns.fill_f32(o.at, node.size, node.attrs.value as number);
  const os = contiguousStrides(node.shape);
  const base = pads.reduce((acc, [b], k) => acc + b * os[k], 0);
  if (sizeOf(x.shape) > 0) copyWindow(rt, src, x.shape, x.strides, o.at + 4 * base, os);
  return o.out;
}

/** Concat: inputs in wasm memory are copied by the kernel, others by `copyJs` (host.ts's runs). */
export function concatWasm(rt: Runtime, node: Tensor, views: readonly View[], copyJs: (out: Float32Array, v: View, start: number) => boolean): Float32Array | undefined {
  if (node.size < WASM_MIN) return undefined;
  const axis = node.attrs.axis as number;
  const o = wasmOutput(node.size);
  if (!o) return undefined;
  const os = contiguousStrides(node.shape);
  let start = 0;
  for (const v of views) {
    const src = viewAddress(v);
    if (src !== undefined) {
      if (sizeOf(v.shape) > 0) copyWindow(rt, src, v.shape, v.strides, o.at + 4 * start * os[axis], os);
    } else if (!copyJs(o.out, v, start * os[axis])) {
      recycle(o.out);
      return undefined;
    }
    start += v.shape[axis];
  }
  return o.out;
}

/** Gather along `axis`; indices clamped as host.ts does (a NaN index is left to host.ts). */
export function gatherWasm(rt: Runtime, node: Tensor, x: View, ids: ArrayLike<number>): Float32Array | undefined {
  const axis = node.attrs.axis as number;
  if (node.size < WASM_MIN || x.shape[axis] === 0) return undefined;
  const P = sizeOf(x.shape.slice(0, axis));
  const J = x.shape[axis];
  const Q = sizeOf(x.shape.slice(axis + 1));
  const I = ids.length;
  // A table outside wasm memory (too large to live there, e.g. a 151,936 × 1,536 embedding) would be copied
  // whole into scratch to read I of its rows: decline, and host.ts copies just those rows.
  if (viewAddress(x) === undefined && sizeOf(x.shape) > 2 * node.size) return undefined;
  rt.reset();
  const src = denseAddress(rt, x);
  const rows = rt.alloc(I);
  if (src === undefined || rows < 0) return undefined;
  const w = rt.i32;
  for (let i = 0; i < I; i++) {
    const j = Math.floor(ids[i] + 0.0);
    if (j !== j) return undefined;
    w[(rows >> 2) + i] = (j < 0 ? 0 : j > J - 1 ? J - 1 : j) * Q * 4;
  }
  const o = wasmOutput(node.size);
  if (!o) return undefined;
  rt.kernels.fns.gather_rows(src, rows, I, Q, P, 4 * J * Q, o.at);
  return o.out;
}
