/**
 * Key/value cache for incremental decoding. A cache is an immutable value: `apply` returns a new one.
 * Two layouts:
 * - **static** (`capacity` set): every layer holds `[B, KV, capacity, hd]` buffers written in place by
 *   masks. Shapes never change from one decoding step to the next, so every kernel compiles once.
 * - **dynamic** (`capacity` null): keys are concatenated, `[B, KV, length, hd]`; shapes grow each step
 *   (a kernel compile per step and shape), but no attention over unused slots.
 */
import { add, arange, cast, concat, equal, greaterEqual, less, matmul, mul, pad, reshape, where, zeros, type Tensor } from '@llm-modules/tensor';

export interface KVCache {
  /** Per layer, `[B, KV, capacity | length, head_dim]`. */
  readonly keys: readonly Tensor[];
  readonly values: readonly Tensor[];
  /** Positions already written (the next query's index). */
  readonly length: number;
  /** Fixed size of a static cache; `null` for a dynamic cache. */
  readonly capacity: number | null;
}

export interface CacheShape {
  layers: number;
  batch: number;
  kvHeads: number;
  headDim: number;
  /** Preallocate this many positions (static cache); omit for a dynamic cache. */
  capacity?: number | null;
}

/**
 * An empty cache. Prefer `model.createCache(batch, capacity)`, which fills in the model's sizes.
 * @example `createKVCache({ layers: 12, batch: 1, kvHeads: 12, headDim: 64, capacity: 256 })`
 */
export function createKVCache({ layers, batch, kvHeads, headDim, capacity = null }: CacheShape): KVCache {
  const size = capacity ?? 0;
  const buf = () => zeros([batch, kvHeads, size, headDim]); // [B, KV, C, hd]
  return { keys: Array.from({ length: layers }, buf), values: Array.from({ length: layers }, buf), length: 0, capacity };
}

/**
 * Every tensor of the cache, to evaluate together with the logits.
 * @example-skip a fragment: `model` comes from the caller's code
 * @example `const out = model.apply(params, ids, { cache }); await evaluate(out.logits, ...cacheTensors(out.cache!));`
 */
export const cacheTensors = (cache: KVCache): Tensor[] => [...cache.keys, ...cache.values];

/** Release the cache's storage now (optional: the garbage collector does it otherwise). @example-skip a fragment: `oldCache` comes from the caller's code @example `disposeCache(oldCache)` */
export function disposeCache(cache: KVCache): void {
  for (const t of cacheTensors(cache)) t.dispose();
}

/**
 * Write `x` `[B, KV, T, hd]` at positions `past … past+T−1` of the buffer `[B, KV, C, hd]` (static) or append it
 * (dynamic). Returns the new buffer. Decoding steps of the same T reuse the same kernels: `past` is data.
 * @example-skip a fragment: `cache` comes from the caller's code
 * @example `const keys = writeCache(cache.keys[0], k, cache.length, cache.capacity); // [B, KV, C, hd]`
 */
export function writeCache(buffer: Tensor, x: Tensor, past: number, capacity: number | null): Tensor {
  const T = x.shape[2];
  if (capacity === null) return past === 0 ? x : concat([buffer, x], 2); // [B, KV, past+T, hd]
  if (past + T > capacity) throw new Error(`KV cache overflow: ${past} + ${T} positions exceed its capacity ${capacity}`);
  if (past === 0) return pad(x, [[0, 0], [0, 0], [0, capacity - T], [0, 0]]); // [B, KV, C, hd]
  const slots = reshape(arange(capacity), [capacity, 1]); // [C, 1]
  const place = cast(equal(slots, reshape(add(arange(T), past), [1, T])), 'float32'); // [C, T] one-hot
  const written = mul(greaterEqual(slots, past), less(slots, past + T)); // [C, 1]
  const placed = matmul(place, x); // [B, KV, C, hd]
  return where(reshape(written, [1, 1, capacity, 1]), placed, buffer); // [B, KV, C, hd]
}
