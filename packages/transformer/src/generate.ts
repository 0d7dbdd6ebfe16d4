/** Autoregressive generation with a KV cache, batched over prompts of different lengths (left padding). */
import type { Tokenizer } from '@llm-modules/loaders';
import { evaluate, foldIn, prngKey, randomBits, reshape, tensor, type PRNGKey, type Tensor } from '@llm-modules/tensor';
import type { BaseConfig } from '@llm-modules/loaders';
import { cacheTensors, type KVCache } from './cache.js';
import type { Params } from './models/types.js';
import { chooseToken, type SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Stop a sequence after it emits one of these ids (default: the config's `eos_token_id`; `[]` never stops). */
  stopTokens?: readonly number[];
  /** Stop a sequence once its decoded text contains one of these (needs `tokenizer`). */
  stopStrings?: readonly string[];
  tokenizer?: Pick<Tokenizer, 'decode'> | null;
  /** Called for every new token, as soon as its step is computed. */
  onToken?: (event: { sequence: number; token: number; step: number }) => void;
  /** Random key for sampling (default `prngKey(seed ?? 0)`). */
  key?: PRNGKey;
  seed?: number;
  /** Reuse keys and values across steps (default true); false recomputes the whole sequence every step. */
  useCache?: boolean;
  /** `static` (default): one preallocated buffer of prompt + maxNewTokens positions, fixed shapes; `dynamic`: grows by concatenation. */
  cacheKind?: 'static' | 'dynamic';
  /** Id fed for left padding and for finished sequences (default: pad, else eos, else 0). */
  padTokenId?: number;
  /** Keep each step's raw logits (`[B·V]` per step) in the result. */
  outputLogits?: boolean;
}

/**
 * What `generate` decodes: a {@link CausalLM} (cache `KVCache`), or any model that steps the same way — a
 * composed teacher → bridge → student model keeps the teacher's KV cache and the bridge's memory in its cache.
 */
export interface Decodable<C = KVCache> {
  /** The eos and pad ids used by default. */
  readonly config: Pick<BaseConfig, 'eos_token_id' | 'pad_token_id'>;
  /** Longest sequence it can take (prompt + new tokens); omitted: unbounded. */
  readonly maxPositions?: number;
  /** An empty cache for `batch` sequences: static (preallocated) when `capacity` is a number, growing when null. */
  createCache(batch: number, capacity?: number | null): C;
  /**
   * Logits of `inputIds` `[B, T]` (the new positions, or everything without a cache) and the cache with them.
   * `attentionMask` is `[B, capacity]` with a static cache, else `[B, past + T]`.
   */
  apply(params: Params, inputIds: Tensor, opts: { attentionMask: Tensor; positionIds: Tensor; cache: C | null; logitsToKeep: number }): { logits: Tensor; cache?: C };
  /** Every tensor a cache holds, to evaluate with the logits and to free afterwards (default: a `KVCache`'s). */
  cacheTensors?(cache: C): Tensor[];
}

export type FinishReason = 'stop_token' | 'stop_string' | 'length';

export interface GenerateResult {
  /** The new tokens of each prompt (a stop token is included, as Hugging Face does). */
  sequences: number[][];
  finishReasons: FinishReason[];
  /** With `outputLogits`: per step, the logits `[B, V]` flattened. */
  logits?: Float32Array[];
}

const firstId = (v: number | number[] | null | undefined): number | null => (Array.isArray(v) ? (v[0] ?? null) : (v ?? null));

/**
 * Left-pad prompts to one length: ids `[B·L]` and 0/1 mask.
 * @example `leftPad([[5, 6, 7], [8]], 0)` → ids [5, 6, 7, 0, 0, 8], mask [1, 1, 1, 0, 0, 1], length 3
 */
export function leftPad(prompts: readonly (readonly number[])[], padId: number): { ids: Int32Array; mask: Int32Array; length: number } {
  const L = Math.max(...prompts.map((p) => p.length));
  const B = prompts.length;
  const ids = new Int32Array(B * L).fill(padId);
  const mask = new Int32Array(B * L);
  prompts.forEach((p, b) => {
    const off = L - p.length;
    p.forEach((id, t) => {
      ids[b * L + off + t] = id;
      mask[b * L + off + t] = 1;
    });
  });
  return { ids, mask, length: L };
}

/**
 * Generate up to `maxNewTokens` tokens for each prompt (one prompt, or a batch of different lengths, which
 * are left-padded). Greedy by default; `greedy: false` samples with `temperature`, `topK`, `topP`
 * (and `repetitionPenalty` in both modes). Each step evaluates only the last position's logits and the cache.
 *
 * @example
 * ```ts
 * import { generate, loadPretrained } from '@llm-modules/transformer';
 * const { model, params } = await loadPretrained('packages/transformer/test/fixtures/models/gptneo');
 * const { sequences } = await generate(model, params, [[31, 35, 59, 60, 80, 54]], { maxNewTokens: 8, stopTokens: [] });
 * console.log(sequences[0]); // [49, 49, 23, 1, 61, 61, 61, 94]
 * ```
 */
export async function generate<C = KVCache>(model: Decodable<C>, params: Params, prompts: readonly number[] | readonly (readonly number[])[], opts: GenerateOptions): Promise<GenerateResult> {
  const batch = (typeof prompts[0] === 'number' ? [prompts as readonly number[]] : (prompts as readonly (readonly number[])[])).map((p) => Array.from(p));
  if (batch.length === 0 || batch.some((p) => p.length === 0)) throw new Error('generate: every prompt needs at least one token');
  const { maxNewTokens } = opts;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new Error(`generate: maxNewTokens must be a non-negative integer, got ${maxNewTokens}`);
  const c = model.config;
  const stopTokens = new Set(opts.stopTokens ?? [c.eos_token_id ?? []].flat());
  if (opts.stopStrings?.length && !opts.tokenizer) throw new Error('generate: stopStrings need a tokenizer');
  const padId = opts.padTokenId ?? c.pad_token_id ?? firstId(c.eos_token_id) ?? 0;
  const B = batch.length;
  const { ids, mask, length: L } = leftPad(batch, padId);
  const total = L + maxNewTokens;
  if (model.maxPositions !== undefined && total > model.maxPositions) throw new Error(`generate: the prompt (${L}) + maxNewTokens (${maxNewTokens}) = ${total} positions exceed the model's ${model.maxPositions}`);
  const tensorsOf = (c: C): Tensor[] => (model.cacheTensors ? model.cacheTensors(c) : cacheTensors(c as KVCache));
  const useCache = opts.useCache ?? true;
  const capacity = useCache && (opts.cacheKind ?? 'static') === 'static' ? total : null;
  // Host copies of the running sequences (ids and mask over `total` positions), left-padded.
  const allIds = new Int32Array(B * total);
  const allMask = new Int32Array(B * total);
  for (let b = 0; b < B; b++) {
    allIds.set(ids.subarray(b * L, (b + 1) * L), b * total);
    allMask.set(mask.subarray(b * L, (b + 1) * L), b * total);
  }
  const nextPos = batch.map((p) => p.length);
  const key = opts.key ?? prngKey(opts.seed ?? 0);
  const sequences: number[][] = batch.map(() => []);
  const finishReasons: (FinishReason | null)[] = batch.map(() => null);
  const stepLogits: Float32Array[] = [];
  let cache: C | null = useCache ? model.createCache(B, capacity) : null;
  let len = 0; // positions fed so far
  try {
    for (let step = 0; step < maxNewTokens && finishReasons.some((r) => r === null); step++) {
      // Inputs of this step: the whole prompt first, then one token (or everything again without a cache).
      const from = useCache ? len : 0;
      const to = step === 0 ? L : L + step;
      const T = to - from;
      const take = (src: Int32Array) => {
        const out = new Int32Array(B * T);
        for (let b = 0; b < B; b++) out.set(src.subarray(b * total + from, b * total + to), b * T);
        return out;
      };
      const stepPos = step === 0 || !useCache ? take(fullPositions(allMask, B, total, to)) : Int32Array.from(nextPos, (p) => p - 1);
      const maskCols = capacity ?? to;
      const maskData = new Int32Array(B * maskCols);
      for (let b = 0; b < B; b++) maskData.set(allMask.subarray(b * total, b * total + Math.min(maskCols, to)), b * maskCols);
      const out = model.apply(params, tensor(take(allIds), [B, T]), {
        attentionMask: tensor(maskData, [B, maskCols]),
        positionIds: tensor(stepPos, [B, T]),
        cache,
        logitsToKeep: 1,
      });
      const V = out.logits.shape[2];
      const last = reshape(out.logits, [B, V]); // [B, V]
      const newCache = out.cache ?? null;
      await evaluate(last, ...(newCache ? tensorsOf(newCache) : []));
      if (cache && newCache) for (const t of tensorsOf(cache)) t.dispose();
      cache = newCache;
      len = to;
      const logits = (await last.data()) as Float32Array;
      last.dispose();
      if (opts.outputLogits) stepLogits.push(logits);
      const u = randomBits(foldIn(key, step), B);
      for (let b = 0; b < B; b++) {
        const col = b * total + L + step;
        allMask[col] = 1;
        nextPos[b] += 1;
        if (finishReasons[b] !== null) {
          allIds[col] = padId;
          continue;
        }
        const previous = [...batch[b], ...sequences[b]];
        const token = chooseToken(logits.subarray(b * V, (b + 1) * V), opts, previous, u[b]);
        allIds[col] = token;
        sequences[b].push(token);
        opts.onToken?.({ sequence: b, token, step });
        if (stopTokens.has(token)) finishReasons[b] = 'stop_token';
        else if (opts.stopStrings?.length && hasStopString(opts.tokenizer!.decode(sequences[b]), opts.stopStrings)) finishReasons[b] = 'stop_string';
      }
    }
  } finally {
    if (cache) for (const t of tensorsOf(cache)) t.dispose();
  }
  const result: GenerateResult = { sequences, finishReasons: finishReasons.map((r) => r ?? 'length') };
  if (opts.outputLogits) result.logits = stepLogits;
  return result;
}

const hasStopString = (text: string, stops: readonly string[]) => stops.some((s) => s.length > 0 && text.includes(s));

/** Positions `cumsum(mask) − 1` over the first `to` columns (pads get 1), as HF's `prepare_inputs_for_generation`. */
function fullPositions(mask: Int32Array, B: number, total: number, to: number): Int32Array {
  const out = new Int32Array(B * total).fill(1);
  for (let b = 0; b < B; b++) {
    let count = 0;
    for (let t = 0; t < to; t++) {
      if (mask[b * total + t]) out[b * total + t] = count++;
    }
  }
  return out;
}
