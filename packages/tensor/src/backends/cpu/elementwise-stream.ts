/**
 * Streamed elementwise kernels: a program over arrays too large to live in WebAssembly memory (a
 * paper-scale head's weight, gradient and AdamW moments: 116 M floats each) runs chunk by chunk. Each
 * chunk of such an input is copied into a small scratch buffer, the kernel runs on it, and each chunk of
 * its outputs is copied out — so the data crosses memory once, in cache-sized pieces, instead of being
 * copied whole into scratch first (which for an AdamW update over the head needs more than the 2 GiB
 * of wasm memory, and then falls back to a scalar JavaScript loop).
 */
import type { View } from '../../backend.js';
import { adoptIntoWasm, outputBuffer, recycle, wasmAddress } from './buffers.js';
import type { Runtime } from './runtime.js';

/** Elements per chunk: every streamed input and output holds one chunk in scratch (256 KiB each). */
export const STREAM_CHUNK = 1 << 16;

/**
 * Run `fn` (an elementwise kernel: out, rows, cols, [output stride], then per input its address and row
 * stride) over `size` elements laid out as one contiguous run (inner stride 1, or 0 for a broadcast
 * scalar), writing `nOut` outputs one after another into `into` or a new array. Returns undefined where
 * streaming does not apply (another layout, everything already in wasm memory, short arrays, no
 * scratch): the caller runs the kernel as usual.
 */
export function runStreamed(rt: Runtime, fn: (...args: number[]) => void, nOut: number, dims: readonly number[], views: readonly View[], strides: readonly (readonly number[])[], into?: Float32Array): Float32Array | undefined {
  const size = dims[1];
  if (dims.length !== 2 || dims[0] !== 1 || size < 2 * STREAM_CHUNK || strides.some((s) => s[1] !== 0 && s[1] !== 1)) return undefined;
  const datas = views.map((v) => v.storage.data);
  if (datas.some((d) => !d)) return undefined;
  // inputs in wasm memory (or small enough to move there for good) are read in place
  const at = views.map((v, k) => wasmAddress(datas[k]!) ?? (strides[k][1] === 0 || datas[k]!.length < STREAM_CHUNK ? adoptIntoWasm(v.storage) : undefined));
  const streamedIn = views.map((_, k) => at[k] === undefined && strides[k][1] === 1);
  const total = size * nOut;
  const resident = into ? wasmAddress(into) : undefined;
  // an output that would fit in wasm memory is written in place there (the usual path)
  if (!streamedIn.some(Boolean) && (resident !== undefined || (!into && total <= STREAM_CHUNK * 128))) return undefined;
  const out = into ?? outputBuffer(total);
  const outAt = wasmAddress(out);
  const bufs = streamedIn.map((s) => (s ? rt.alloc(STREAM_CHUNK) : -1));
  // a broadcast scalar not in wasm memory: one float in scratch
  const needsScalar = views.map((_, k) => at[k] === undefined && !streamedIn[k]);
  const scalars = needsScalar.map((s) => (s ? rt.alloc(1) : -1));
  const ob = outAt === undefined ? rt.alloc(STREAM_CHUNK * nOut) : -1;
  if (bufs.some((b, k) => streamedIn[k] && b < 0) || scalars.some((b, k) => needsScalar[k] && b < 0) || (outAt === undefined && ob < 0)) {
    if (out !== into) recycle(out);
    return undefined;
  }
  const f32 = rt.f32;
  views.forEach((v, k) => {
    if (needsScalar[k]) f32[scalars[k] >> 2] = datas[k]![v.offset];
  });
  const args: number[] = [];
  for (let j0 = 0; j0 < size; j0 += STREAM_CHUNK) {
    const len = Math.min(STREAM_CHUNK, size - j0);
    args.length = 0;
    args.push(outAt !== undefined ? outAt + 4 * j0 : ob, 1, len);
    if (nOut > 1) args.push(outAt !== undefined ? 4 * size : 4 * STREAM_CHUNK);
    views.forEach((v, k) => {
      const d = datas[k]!;
      if (streamedIn[k]) {
        const from = v.offset + j0;
        f32.set(d.subarray(from, from + len), bufs[k] >> 2);
        args.push(bufs[k], 0);
      } else if (needsScalar[k]) args.push(scalars[k], 0);
      else args.push(at[k]! + 4 * (v.offset + strides[k][1] * j0), 0);
    });
    fn(...args);
    if (ob >= 0) for (let q = 0; q < nOut; q++) out.set(f32.subarray((ob >> 2) + q * STREAM_CHUNK, (ob >> 2) + q * STREAM_CHUNK + len), q * size + j0);
  }
  return out;
}
