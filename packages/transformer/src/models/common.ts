/** Pieces both decoders share: parameter checks, default positions, masks over the cache, random init. */
import { add, arange, foldIn, pad, randomBits, reshape, full, slice, tensor, zeros, type PRNGKey, type Tensor } from '@llm-modules/tensor';
import { checkpoint } from '@llm-modules/autograd';
import type { KVCache } from '../cache.js';
import type { Params } from './types.js';

/** `params[name]`, or an error naming the missing parameter. */
export function param(params: Params, name: string): Tensor {
  const t = params[name];
  if (!t) throw new Error(`missing parameter "${name}"`);
  return t;
}

/** The token embeddings or the given `inputsEmbeds`, with B and T. */
export function inputShape(inputIds: Tensor | null, inputsEmbeds: Tensor | null | undefined): [number, number] {
  if (inputsEmbeds) return [inputsEmbeds.shape[0], inputsEmbeds.shape[1]];
  if (!inputIds) throw new Error('apply: pass inputIds or inputsEmbeds');
  if (inputIds.rank !== 2 || inputIds.dtype !== 'int32') throw new Error(`apply: inputIds must be int32 [B, T], got ${inputIds.dtype} [${inputIds.shape.join(', ')}]`);
  return [inputIds.shape[0], inputIds.shape[1]];
}

/** `past + 0 … T−1` as int32 `[1, T]` (past is data, so decoding steps share kernels). */
export const defaultPositions = (T: number, past: number): Tensor => reshape(add(arange(T), past), [1, T]); // [1, T]

/** Number of keys the attention sees: the static capacity, or past + T. */
export function keyLength(cache: KVCache | null | undefined, T: number): number {
  if (!cache) return T;
  return cache.capacity ?? cache.length + T;
}

/** The attention mask as `[B, Tk]`: padded with zeros (hidden by causality anyway) up to Tk; too long is an error. */
export function maskToKeys(mask: Tensor | null | undefined, Tk: number): Tensor | null {
  if (!mask) return null;
  const S = mask.shape[1];
  if (S > Tk) throw new Error(`attentionMask covers ${S} positions but the attention has ${Tk} keys`);
  return S === Tk ? mask : pad(mask, [[0, 0], [0, Tk - S]]); // [B, Tk]
}

/** Normal(0, std) values on the host (Box–Muller over the key's stream, as `randomNormal`). */
export function normalData(key: PRNGKey, size: number, std: number): Float32Array {
  const u = randomBits(key, size + (size % 2));
  const out = new Float32Array(size);
  for (let i = 0; i < size; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u[i]));
    const t = 2 * Math.PI * u[i + 1];
    out[i] = std * r * Math.cos(t);
    if (i + 1 < size) out[i + 1] = std * r * Math.sin(t);
  }
  return out;
}

export type InitKind = 'normal' | 'zeros' | 'ones';

/**
 * Params from a shape table and a rule per name, in Hugging Face's `_init_weights` style: one key per tensor
 * (folded in by its index in the table). `zeroRows` zeroes embedding rows (an `nn.Embedding` `padding_idx`).
 */
export function initFromShapes(
  shapes: Map<string, number[]>,
  key: PRNGKey,
  std: number,
  kind: (name: string) => InitKind,
  zeroRows: Record<string, number> = {},
): Params {
  const out: Params = {};
  let n = 0;
  for (const [name, shape] of shapes) {
    const k = kind(name);
    const index = n++;
    if (k === 'zeros') out[name] = zeros(shape);
    else if (k === 'ones') out[name] = full(shape, 1);
    else {
      const data = normalData(foldIn(key, index), shape.reduce((a, b) => a * b, 1), std);
      const row = zeroRows[name];
      if (row !== undefined && row >= 0 && row < shape[0]) data.fill(0, row * shape[1], (row + 1) * shape[1]);
      out[name] = tensor(data, shape);
    }
  }
  return out;
}

/** The last `n` positions of `[B, T, D]` (all when n is 0 or undefined). */
export function keepLast(x: Tensor, n: number | undefined): Tensor {
  const T = x.shape[1];
  return n && n < T ? slice(x, [0, T - n]) : x; // [B, n, D]
}

/**
 * Run a block, through autograd's `checkpoint` when asked (never with a cache: decoding needs no gradients).
 * `block(x)` returns the block's new hidden state and keys/values.
 */
export function runBlock<R extends { hidden: Tensor }>(block: (x: Tensor) => R, x: Tensor, checkpointed: boolean | undefined, hasCache: boolean): R {
  if (!checkpointed) return block(x);
  if (hasCache) throw new Error('apply: gradientCheckpointing is for training and cannot be used with a cache');
  return checkpoint(block)(x);
}
