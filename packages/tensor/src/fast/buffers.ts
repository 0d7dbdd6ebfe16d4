/**
 * Output buffers of the CPU fast paths are recycled: a fresh Float32Array costs a zero-fill and page
 * faults (tens of µs for 128 KiB), often more than the op itself. A storage's array returns to a free
 * list when the storage is released (memory.ts: its count reached zero), and only arrays this module
 * handed out are taken back, so user arrays and gpu.js's outputs are never reused.
 */
const free = new Map<number, Float32Array[]>();
const ours = new WeakSet<Float32Array>();
/** Bytes held in free lists at most. */
const MAX_POOLED = 256 * 2 ** 20;
/** Arrays below this length are cheap to allocate: not pooled. */
const MIN_LENGTH = 256;
let pooled = 0;

/** An output array of `n` floats; its contents are arbitrary (callers overwrite every element). */
export function outputBuffer(n: number): Float32Array {
  if (n >= MIN_LENGTH) {
    const a = free.get(n)?.pop();
    if (a) {
      pooled -= 4 * n;
      return a;
    }
  }
  const b = new Float32Array(n);
  if (n >= MIN_LENGTH) ours.add(b);
  return b;
}

/** Take back an array handed out by `outputBuffer` once nothing refers to it any more. */
export function recycle(a: Float32Array | Float64Array | undefined): void {
  if (!(a instanceof Float32Array) || !ours.has(a) || pooled + 4 * a.length > MAX_POOLED) return;
  let list = free.get(a.length);
  if (!list) free.set(a.length, (list = []));
  if (list.includes(a)) return;
  list.push(a);
  pooled += 4 * a.length;
}

/** Copy `n` floats of wasm memory (at byte address `addr`) into a fresh output array. */
export function outputFrom(src: Float32Array, addr: number, n: number): Float32Array {
  const out = outputBuffer(n);
  out.set(src.subarray(addr >> 2, (addr >> 2) + n));
  return out;
}
