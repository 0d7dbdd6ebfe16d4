/**
 * Output buffers of the CPU fast paths. Once the WebAssembly runtime exists they live in its memory
 * (backends/cpu/heap.ts): the kernels then read and write tensors in place, with no copy in or out. Past
 * `HEAP_STORAGE_CAP` (the rest of the 2 GiB memory is left for scratch), for huge arrays and before
 * the runtime exists they are plain arrays. Either way they are recycled: a fresh Float32Array costs a zero-fill and page
 * faults (tens of µs for 128 KiB), often more than the op itself. A storage's array returns to a free
 * list when the storage is released (memory.ts: its count reached zero), and only arrays this module
 * handed out are taken back, so user arrays and gpu.js's outputs are never reused.
 */
import { existingRuntime, type Runtime } from './runtime.js';
import type { Storage } from '../../backend.js';
import { registerReleaser } from '../../memory.js';

const free = new Map<number, Float32Array[]>();
const ours = new WeakSet<Float32Array>();
/** Bytes held in free lists at most. */
const MAX_POOLED = 256 * 2 ** 20;
/** Arrays below this length are cheap to allocate: not pooled. */
const MIN_LENGTH = 256;
let pooled = 0;
/**
 * Arrays of this many floats or more (64 MiB) may be pooled past MAX_POOLED, one per size, up to MAX_POOLED_LARGE
 * bytes. 512 MiB holds one of a paper-scale step's two large sizes (the [512, 151,646] logits, 310 MB; the head's
 * gradient, 466 MB): at 1 GiB both were held and the step's peak RSS rose 5.11 → 5.83 GiB, over PyTorch's 5.55–5.70
 * for the same step (issue #26 point 1; 5.39 GiB at 512 MiB, the same losses).
 */
const LARGE_LENGTH = 16 * 2 ** 20;
const MAX_POOLED_LARGE = 2 ** 29;
let pooledLarge = 0;
const largeArrays = new WeakSet<Float32Array>();

/**
 * Bytes of scratch an op over operands outside wasm memory copies them (and its output) into at once: a
 * larger elementwise op, matmul, reduction or softmax cross-entropy runs in chunks (or, for a reduction,
 * as the JavaScript loop), because the WebAssembly memory grows to the largest op's scratch and never
 * shrinks. Results do not depend on it; tests lower it to exercise the chunked paths.
 */
export const scratchChunk = { bytes: 32 * 2 ** 20 };

/** Bytes of tensor storage kept in WebAssembly memory at most. */
const HEAP_STORAGE_CAP = 512 * 2 ** 20;
/** Arrays above this many floats stay plain arrays (a paper-scale weight would crowd out scratch). */
const MAX_HEAP_ARRAY = 8 * 2 ** 20;
/** wasm-memory arrays → their block's byte address */
const heapAddress = new WeakMap<Float32Array, number>();
/** frees the block of an array that was dropped without being recycled (a storage the GC collected) */
const heapFinalizer = new FinalizationRegistry<number>((at) => existingRuntime()?.heap.free(at));

/** The byte address of an array that lives in the wasm runtime's memory (undefined for other arrays). */
export const wasmAddress = (a: ArrayLike<number>): number | undefined => heapAddress.get(a as Float32Array);

function heapBuffer(n: number): Float32Array | undefined {
  const rt = existingRuntime();
  if (!rt || n < MIN_LENGTH || n > MAX_HEAP_ARRAY || rt.heap.liveBytes + 4 * n > HEAP_STORAGE_CAP) return undefined;
  const at = rt.heap.alloc(4 * n);
  if (at < 0) return undefined;
  const a = new Float32Array(rt.f32.buffer, at, n);
  heapAddress.set(a, at);
  heapFinalizer.register(a, at, a);
  return a;
}

/**
 * Move a storage's values into wasm memory once (a host array a kernel reads, e.g. loaded weights), so
 * later kernels read it in place instead of copying it into scratch every time. The storage's `data` is
 * replaced by an equal array (readers always go through `storage.data`, and `data()` hands out copies),
 * and its block is freed when the storage is. Returns the block's byte address, or undefined (no room,
 * or not a float32 array).
 */
export function adoptIntoWasm(storage: Storage): number | undefined {
  const d = storage.data;
  if (!(d instanceof Float32Array)) return undefined;
  const h = heapBuffer(d.length);
  if (!h) return undefined;
  h.set(d);
  (storage as { data?: Float32Array }).data = h;
  return heapAddress.get(h);
}
/** bfloat16 bits adopted into wasm memory → the heap array that holds them */
const bitsOwner = new WeakMap<Uint16Array, Float32Array>();

/**
 * `adoptIntoWasm` for a bfloat16-resident storage (`Storage.bf16`, bf16.ts): its bits move into wasm memory
 * once (same caps), so a matmul reads them in place. Returns their byte address, or undefined (no room).
 */
export function adoptBitsIntoWasm(storage: Storage): number | undefined {
  const b = storage.bf16;
  if (!b) return undefined;
  const owner = bitsOwner.get(b);
  if (owner) return heapAddress.get(owner);
  const h = heapBuffer(Math.ceil(b.length / 2));
  if (!h) return undefined;
  const bits = new Uint16Array(h.buffer, h.byteOffset, b.length);
  bits.set(b);
  bitsOwner.set(bits, h);
  (storage as { bf16?: Uint16Array }).bf16 = bits;
  return heapAddress.get(h);
}

// adopted host storage gives its block back when released (user arrays are never pooled: recycle skips them)
registerReleaser('host', (s) => recycle(s.data ?? (s.bf16 && bitsOwner.get(s.bf16))));

/** An output array of `n` floats; its contents are arbitrary (callers overwrite every element). */
export function outputBuffer(n: number): Float32Array {
  const h = heapBuffer(n);
  if (h) return h;
  if (n >= MIN_LENGTH) {
    const a = free.get(n)?.pop();
    if (a) {
      if (largeArrays.delete(a)) pooledLarge -= 4 * n;
      else pooled -= 4 * n;
      return a;
    }
  }
  const b = new Float32Array(n);
  if (n >= MIN_LENGTH) ours.add(b);
  return b;
}

/** Called with each array given back, before it can be reused (attention-cache.ts drops what it kept for it). */
const onRecycle: ((a: Float32Array) => void)[] = [];
export const whenRecycled = (fn: (a: Float32Array) => void): void => void onRecycle.push(fn);

/** Take back an array handed out by `outputBuffer` once nothing refers to it any more. */
export function recycle(a: Float32Array | Float64Array | undefined): void {
  if (a instanceof Float32Array) for (const fn of onRecycle) fn(a);
  const at = a instanceof Float32Array ? heapAddress.get(a) : undefined;
  if (at !== undefined) {
    heapAddress.delete(a as Float32Array);
    heapFinalizer.unregister(a as Float32Array);
    existingRuntime()?.heap.free(at);
    return;
  }
  if (!(a instanceof Float32Array) || !ours.has(a)) return;
  let list = free.get(a.length);
  if (list?.includes(a)) return;
  // a large array is kept once per size, past the cap: a training step frees and makes the same large arrays
  // (the logits and their gradient, the head's gradient) every step, and a fresh one costs a page fault per 4 KiB
  // (a 310 MB array ≈ 76 k faults, about 1 s here); the next array of that size reuses it
  const large = a.length >= LARGE_LENGTH && !list?.length && pooledLarge + 4 * a.length <= MAX_POOLED_LARGE;
  if (!large && pooled + 4 * a.length > MAX_POOLED) return;
  if (!list) free.set(a.length, (list = []));
  list.push(a);
  if (large) {
    pooledLarge += 4 * a.length;
    largeArrays.add(a);
  } else pooled += 4 * a.length;
}

/** An output of a wasm kernel: the array, and the byte address the kernel writes to. */
export interface KernelOutput {
  readonly out: Float32Array;
  readonly at: number;
  /** true when `at` is scratch that `finishOutput` copies into `out` */
  readonly copy: boolean;
}

/**
 * The output of a wasm kernel of `n` floats (into `into` when given: a donated array): written in place
 * when the array lives in wasm memory, else into scratch (copied out by `finishOutput`). Undefined past
 * the scratch cap.
 */
export function kernelOutput(rt: Runtime, n: number, into?: Float32Array): KernelOutput | undefined {
  const out = into ?? outputBuffer(n);
  const at = heapAddress.get(out);
  if (at !== undefined) return { out, at, copy: false };
  const scratch = rt.alloc(n);
  if (scratch < 0) {
    if (out !== into) recycle(out);
    return undefined;
  }
  return { out, at: scratch, copy: true };
}

/** The kernel has run: the output's values as an array. */
export function finishOutput(rt: Runtime, o: KernelOutput): Float32Array {
  if (o.copy) o.out.set(rt.f32.subarray(o.at >> 2, (o.at >> 2) + o.out.length));
  return o.out;
}
