/**
 * Counter-based random numbers from explicit keys (Threefry-2x32, 20 rounds, as in JAX): the same key
 * always gives the same numbers, on any backend, and `splitKey` derives independent streams.
 */
import { TensorError } from './errors.js';
import { checkShape, sizeOf, type Shape } from './shape.js';
import type { DType } from './dtype.js';
import { fromHost } from './creation.js';
import type { Tensor } from './tensor.js';

/** An immutable PRNG key: two 32-bit words. */
export interface PRNGKey {
  readonly kind: 'prng-key';
  readonly words: readonly [number, number];
}

const ROT = [13, 15, 26, 6, 17, 29, 16, 24];
const rotl = (x: number, r: number): number => ((x << r) | (x >>> (32 - r))) >>> 0;

/** Threefry-2x32 of the counter (c0, c1) under key (k0, k1). */
function threefry(k0: number, k1: number, c0: number, c1: number): [number, number] {
  const ks = [k0 >>> 0, k1 >>> 0, (k0 ^ k1 ^ 0x1bd11bda) >>> 0];
  let x0 = (c0 + ks[0]) >>> 0;
  let x1 = (c1 + ks[1]) >>> 0;
  for (let i = 0; i < 5; i++) {
    const rots = i % 2 === 0 ? ROT.slice(0, 4) : ROT.slice(4);
    for (const r of rots) {
      x0 = (x0 + x1) >>> 0;
      x1 = rotl(x1, r) ^ x0;
    }
    x0 = (x0 + ks[(i + 1) % 3]) >>> 0;
    x1 = (x1 + ks[(i + 2) % 3] + i + 1) >>> 0;
  }
  return [x0, x1];
}

/**
 * A key from an integer seed.
 * @example
 * ```ts
 * import { prngKey, splitKey, randomNormal } from '@llm-modules/tensor';
 * const [k1, k2] = splitKey(prngKey(0));
 * const w = randomNormal(k1, [768, 3072], { std: 0.02 });
 * ```
 */
export function prngKey(seed: number): PRNGKey {
  if (!Number.isSafeInteger(seed)) throw new TensorError('prngKey', `seed must be a safe integer, got ${seed}`);
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  return { kind: 'prng-key', words: [hi, seed >>> 0] };
}

/**
 * Derive `n` (default 2) independent keys.
 * @example
 * ```ts
 * const [initKey, dropoutKey] = splitKey(prngKey(0));
 * console.log(await randomUniform(initKey, [2]).array(), await randomUniform(dropoutKey, [2]).array()); // two different pairs
 * ```
 */
export function splitKey(key: PRNGKey, n = 2): PRNGKey[] {
  checkKey('splitKey', key);
  return Array.from({ length: n }, (_, i) => ({ kind: 'prng-key', words: threefry(key.words[0], key.words[1], 0, i) }) as PRNGKey);
}

/**
 * Fold an integer into a key (e.g. a step number) to get a fresh key.
 * @example `randomNormal(foldIn(prngKey(0), 17), [4])` (the noise of step 17, the same on every run)
 */
export function foldIn(key: PRNGKey, data: number): PRNGKey {
  checkKey('foldIn', key);
  return { kind: 'prng-key', words: threefry(key.words[0], key.words[1], 1, data >>> 0) };
}

function checkKey(op: string, key: PRNGKey): void {
  if (key?.kind !== 'prng-key') throw new TensorError(op, 'expected a key from prngKey() or splitKey()');
}

/** `n` uniform float64 values in [0, 1) with 32 random bits each (host side). */
export function randomBits(key: PRNGKey, n: number): Float64Array {
  checkKey('random', key);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const [a, b] = threefry(key.words[0], key.words[1], Math.floor(i / 2 ** 32), i >>> 0);
    out[i] = a / 2 ** 32;
    if (i + 1 < n) out[i + 1] = b / 2 ** 32;
  }
  return out;
}

/**
 * Uniform values in [min, max).
 * @example `randomUniform(prngKey(1), [2, 3], { min: -1, max: 1 })`
 */
export function randomUniform(key: PRNGKey, shape: Shape, { min = 0, max = 1, dtype = 'float32' as DType } = {}): Tensor {
  const shp = checkShape('randomUniform', shape);
  const u = randomBits(key, sizeOf(shp));
  const data = new Float32Array(u.length);
  for (let i = 0; i < u.length; i++) {
    const v = Math.fround(min + (max - min) * u[i]);
    data[i] = v < max ? v : min; // float32 rounding must not produce max itself
  }
  return fromHost(data, shp, dtype);
}

/**
 * Normal values (Box–Muller on the key's uniform stream).
 * @example `randomNormal(prngKey(0), [4, 4], { mean: 0, std: 0.02 })`
 */
export function randomNormal(key: PRNGKey, shape: Shape, { mean = 0, std = 1 } = {}): Tensor {
  const shp = checkShape('randomNormal', shape);
  const n = sizeOf(shp);
  const u = randomBits(key, n + (n % 2));
  const data = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u[i]));
    const t = 2 * Math.PI * u[i + 1];
    data[i] = mean + std * r * Math.cos(t);
    if (i + 1 < n) data[i + 1] = mean + std * r * Math.sin(t);
  }
  return fromHost(data, shp, 'float32');
}

/**
 * A small seeded uniform generator on the host (mulberry32), for reproducible shuffles and test values where
 * no tensor is wanted. Not the `prngKey` stream: use keys for tensors.
 * @example `const rand = mulberry32(42); rand(); // a number in [0, 1), the same for the same seed`
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
