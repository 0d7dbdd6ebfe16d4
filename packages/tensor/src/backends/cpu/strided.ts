/**
 * Strided views read into dense float32 rows: the leaf every CPU driver uses (host.ts, copy.ts, the ops'
 * cpu.ts), kept apart so that those import it without importing each other.
 */
import type { View } from '../../backend.js';
import { sizeOf, type Shape } from '../../shape.js';

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

/** A view's values in C order (float32). */
export function dense(v: View): Float32Array | undefined {
  const d = v.storage.data;
  if (!d) return undefined;
  return gatherStrided(d, v.shape, v.strides, v.offset);
}
