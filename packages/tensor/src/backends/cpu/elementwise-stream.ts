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
  const inputs = chunkedInputs(rt, views, strides.map((s) => s[1]));
  if (!inputs) return undefined;
  const total = size * nOut;
  const resident = into ? wasmAddress(into) : undefined;
  // an output that would fit in wasm memory is written in place there (the usual path)
  if (!inputs.streamed && (resident !== undefined || (!into && total <= STREAM_CHUNK * 128))) return undefined;
  const out = into ?? outputBuffer(total);
  const outAt = wasmAddress(out);
  const ob = outAt === undefined ? rt.alloc(STREAM_CHUNK * nOut) : -1;
  if (outAt === undefined && ob < 0) {
    if (out !== into) recycle(out);
    return undefined;
  }
  const args: number[] = [];
  for (let j0 = 0; j0 < size; j0 += STREAM_CHUNK) {
    const len = Math.min(STREAM_CHUNK, size - j0);
    args.length = 0;
    args.push(outAt !== undefined ? outAt + 4 * j0 : ob, 1, len);
    if (nOut > 1) args.push(outAt !== undefined ? 4 * size : 4 * STREAM_CHUNK);
    inputs.push(args, j0, len);
    fn(...args);
    const f32 = rt.f32;
    if (ob >= 0) for (let q = 0; q < nOut; q++) out.set(f32.subarray((ob >> 2) + q * STREAM_CHUNK, (ob >> 2) + q * STREAM_CHUNK + len), q * size + j0);
  }
  return out;
}

/** An elementwise kernel's inputs over chunks of one contiguous run (see chunkedInputs). */
export interface ChunkedInputs {
  /** whether some input is copied in chunk by chunk (else all are read in place) */
  readonly streamed: boolean;
  /** push each input's kernel arguments (address, row stride 0) for the chunk [j0, j0 + len) */
  push(args: number[], j0: number, len: number): void;
}

/**
 * The inputs of an elementwise kernel run chunk by chunk over one contiguous run (each view's inner stride `step`:
 * 1, or 0 for a broadcast scalar): inputs in wasm memory (or small enough to move there for good) are read in
 * place, the others copied into a scratch chunk of STREAM_CHUNK floats per call, a broadcast scalar once. Scratch
 * is reserved here, for the current op; undefined when a view has no host array or scratch runs out.
 */
export function chunkedInputs(rt: Runtime, views: readonly View[], step: readonly number[]): ChunkedInputs | undefined {
  const datas = views.map((v) => v.storage.data);
  if (datas.some((d) => !d)) return undefined;
  const at = views.map((v, k) => wasmAddress(datas[k]!) ?? (step[k] === 0 || datas[k]!.length < STREAM_CHUNK ? adoptIntoWasm(v.storage) : undefined));
  const streamedIn = views.map((_, k) => at[k] === undefined && step[k] === 1);
  const needsScalar = views.map((_, k) => at[k] === undefined && !streamedIn[k]);
  const bufs = views.map((_, k) => (streamedIn[k] ? rt.alloc(STREAM_CHUNK) : needsScalar[k] ? rt.alloc(1) : -1));
  if (bufs.some((b, k) => at[k] === undefined && b < 0)) return undefined;
  views.forEach((v, k) => {
    if (needsScalar[k]) rt.f32[bufs[k] >> 2] = datas[k]![v.offset];
  });
  return {
    streamed: streamedIn.some(Boolean),
    push(args, j0, len) {
      views.forEach((v, k) => {
        if (streamedIn[k]) {
          const from = v.offset + j0;
          rt.f32.set(datas[k]!.subarray(from, from + len), bufs[k] >> 2);
          args.push(bufs[k], 0);
        } else if (needsScalar[k]) args.push(bufs[k], 0);
        else args.push(at[k]! + 4 * (v.offset + step[k] * j0), 0);
      });
    },
  };
}
