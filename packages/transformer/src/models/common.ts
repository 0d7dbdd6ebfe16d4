/** Pieces both decoders share: parameter checks, default positions, masks over the cache, random init. */
import { add, arange, foldIn, pad, randomBits, reshape, full, slice, tensor, zeros, type PRNGKey, type Tensor } from '@llm-modules/tensor';
import { checkpoint } from '@llm-modules/autograd';
import type { KVCache } from '../cache.js';
import { linear } from '../nn/linear.js';
import type { ApplyOptions, ApplyOutput, ParameterInit, Params } from './types.js';

/**
 * `params[name]`, or an error naming the missing parameter (the one lookup models and bridge variants share).
 * @example-skip a fragment: `params` comes from the caller's code
 * @example `param(params, 'transformer.ln_f.weight')`
 */
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

/** Params drawn from an init plan: one key per tensor, folded in by its index in the plan. */
export function initFromPlan(plan: readonly ParameterInit[], key: PRNGKey): Params {
  const out: Params = {};
  plan.forEach(({ name, shape, init, std, zeroRow }, index) => {
    if (init === 'zeros') out[name] = zeros(shape);
    else if (init === 'ones') out[name] = full(shape, 1);
    else {
      const data = normalData(foldIn(key, index), shape.reduce((a, b) => a * b, 1), std);
      if (zeroRow !== undefined) data.fill(0, zeroRow * shape[1], (zeroRow + 1) * shape[1]);
      out[name] = tensor(data, shape);
    }
  });
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

/** One block's result: the new residual stream and this layer's keys/values (the cache's when one is given). */
export interface BlockOutput {
  hidden: Tensor;
  key: Tensor;
  value: Tensor;
}

/** A layer's view of the cache, as the blocks take it. */
export type LayerCache = { key: Tensor; value: Tensor; past: number; capacity: number | null };

/**
 * The decoder loop every model family shares: blocks in order (checkpointed when asked, `afterBlock` after
 * each), the final norm, the head (the model's or `opts.lmHead`) over the last `logitsToKeep` positions, the
 * hidden states and the new cache. A model supplies its embedded input `x` and its pieces.
 */
export function runDecoder(
  opts: ApplyOptions,
  x: Tensor,
  m: { layers: number; block: (layer: number, x: Tensor, cache: LayerCache | undefined) => BlockOutput; finalNorm: (x: Tensor) => Tensor; head: () => Tensor },
): ApplyOutput {
  const cache = opts.cache ?? null;
  const past = cache?.length ?? 0;
  const hiddenStates: Tensor[] = [];
  const keys: Tensor[] = [];
  const values: Tensor[] = [];
  for (let l = 0; l < m.layers; l++) {
    if (opts.outputHiddenStates) hiddenStates.push(x);
    const layerCache = cache ? { key: cache.keys[l], value: cache.values[l], past, capacity: cache.capacity } : undefined;
    const out = runBlock((h) => m.block(l, h, layerCache), x, opts.gradientCheckpointing, cache !== null);
    x = opts.afterBlock?.(l, out.hidden) ?? out.hidden; // [B, T, D]
    keys.push(out.key);
    values.push(out.value);
  }
  x = m.finalNorm(x); // [B, T, D]
  if (opts.outputHiddenStates) hiddenStates.push(x);
  const logits = linear(keepLast(x, opts.logitsToKeep), opts.lmHead ?? m.head()); // [B, T, V]
  const result: ApplyOutput = { logits, lastHiddenState: x };
  if (opts.outputHiddenStates) result.hiddenStates = hiddenStates;
  if (cache) result.cache = { keys, values, length: past + x.shape[1], capacity: cache.capacity } satisfies KVCache;
  return result;
}
