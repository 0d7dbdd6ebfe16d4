/**
 * Generation with a composed model. Incremental by default: the teacher runs once over the prompt and then one
 * step per new token on its KV cache; the bridge's memory (its position-wise projections of the teacher states)
 * and the student's KV cache are kept too, all as static buffers so every step reuses the same kernels.
 */
import type { Tokenizer } from '@llm-modules/loaders';
import { evaluate, foldIn, prngKey, randomBits, reshape, slice, tensor, zeros, type PRNGKey, type Tensor } from '@llm-modules/tensor';
import { cacheTensors, chooseToken, leftPad, writeCache, type FinishReason, type KVCache, type SamplingOptions } from '@llm-modules/transformer';
import type { ComposedModel } from './compose.js';
import type { BridgeMemory, Params } from './types.js';

export interface ComposedGenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Stop a sequence after one of these ids (default: the teacher config's eos; `[]` never stops). */
  stopTokens?: readonly number[];
  /** Stop once the decoded text contains one of these (the released code stops at `<|end_of_solution|>`); needs `tokenizer`. */
  stopStrings?: readonly string[];
  tokenizer?: Pick<Tokenizer, 'decode'> | null;
  onToken?: (event: { sequence: number; token: number; step: number }) => void;
  key?: PRNGKey;
  seed?: number;
  padTokenId?: number;
  /** Keep each step's logits `[B·V]`. */
  outputLogits?: boolean;
  /** `incremental` (default): caches, one teacher step per token. `full`: re-run the whole sequence every step (as released). */
  mode?: 'incremental' | 'full';
}

export interface ComposedGenerateResult {
  sequences: number[][];
  finishReasons: FinishReason[];
  logits?: Float32Array[];
  /** Positions the teacher processed in each of its calls (incremental: `[prompt, 1, 1, …]`). */
  teacherCalls: number[];
}

/** Write `x` `[B, T, X]` at positions `past…` of the static buffer `[B, C, X]` (via the KV cache's writer). */
function writeRows(buffer: Tensor, x: Tensor, past: number): Tensor {
  const [B, C, X] = buffer.shape;
  const out = writeCache(reshape(buffer, [B, 1, C, X]), reshape(x, [B, 1, x.shape[1], X]), past, C); // [B, 1, C, X]
  return reshape(out, [B, C, X]); // [B, C, X]
}

/** Positions `cumsum(mask) − 1` (pads get 1), as Hugging Face's generate, for columns `from…to−1`. */
function positionsOf(mask: Int32Array, B: number, total: number, from: number, to: number): Int32Array {
  const out = new Int32Array(B * (to - from));
  for (let b = 0; b < B; b++) {
    let count = 0;
    for (let t = 0; t < to; t++) {
      const real = mask[b * total + t];
      if (t >= from) out[b * (to - from) + t - from] = real ? count : 1;
      if (real) count++;
    }
  }
  return out;
}

/**
 * Generate up to `maxNewTokens` tokens per prompt (one prompt or a batch; shorter prompts are left-padded).
 * Greedy by default; `greedy: false` samples with `temperature`, `topK`, `topP` (the paper: 0.9, 100, 0.98).
 *
 * @example
 * ```ts
 * import { generateComposed } from '@llm-modules/bridge';
 * const { sequences, teacherCalls } = await generateComposed(model, params, [6, 1, 40, 23], { maxNewTokens: 5, stopTokens: [] });
 * console.log(teacherCalls); // [4, 1, 1, 1, 1]: one teacher step per new token
 * ```
 */
export async function generateComposed(model: ComposedModel, params: Params, prompts: readonly number[] | readonly (readonly number[])[], opts: ComposedGenerateOptions): Promise<ComposedGenerateResult> {
  const batch = (typeof prompts[0] === 'number' ? [prompts as readonly number[]] : (prompts as readonly (readonly number[])[])).map((p) => Array.from(p));
  if (batch.length === 0 || batch.some((p) => p.length === 0)) throw new Error('generateComposed: every prompt needs at least one token');
  const { maxNewTokens } = opts;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new Error(`generateComposed: maxNewTokens must be a non-negative integer, got ${maxNewTokens}`);
  if (opts.stopStrings?.length && !opts.tokenizer) throw new Error('generateComposed: stopStrings need a tokenizer');
  const tc = model.teacher.model.config;
  const stopTokens = new Set(opts.stopTokens ?? [tc.eos_token_id ?? []].flat());
  const padId = opts.padTokenId ?? tc.pad_token_id ?? (Array.isArray(tc.eos_token_id) ? tc.eos_token_id[0] : tc.eos_token_id) ?? 0;
  const B = batch.length;
  const { ids, mask, length: L } = leftPad(batch, padId);
  const total = L + maxNewTokens;
  if (total > model.student.maxPositions) throw new Error(`generateComposed: ${total} positions exceed the student's ${model.student.maxPositions}`);
  const incremental = (opts.mode ?? 'incremental') === 'incremental';
  const allIds = new Int32Array(B * total);
  const allMask = new Int32Array(B * total);
  for (let b = 0; b < B; b++) {
    allIds.set(ids.subarray(b * L, (b + 1) * L), b * total);
    allMask.set(mask.subarray(b * L, (b + 1) * L), b * total);
  }
  const key = opts.key ?? prngKey(opts.seed ?? 0);
  const sequences: number[][] = batch.map(() => []);
  const finish: (FinishReason | null)[] = batch.map(() => null);
  const stepLogits: Float32Array[] = [];
  const teacherCalls: number[] = [];
  let teacherCache: KVCache | null = incremental ? model.teacher.model.createCache(B, total) : null;
  let studentCache: KVCache | null = incremental ? model.student.model.createCache(B, total) : null;
  let states: Tensor | null = null; // [B, total, Dt]
  let memory: BridgeMemory = {}; // each [B, total, X]
  let len = 0;
  const take = (src: Int32Array, from: number, to: number) => {
    const out = new Int32Array(B * (to - from));
    for (let b = 0; b < B; b++) out.set(src.subarray(b * total + from, b * total + to), b * (to - from));
    return out;
  };
  for (let step = 0; step < maxNewTokens && finish.some((r) => r === null); step++) {
    const to = L + step;
    const from = incremental ? len : 0;
    const T = to - from;
    const idsT = tensor(take(allIds, from, to), [B, T], 'int32');
    const pos = tensor(positionsOf(allMask, B, total, from, to), [B, T], 'int32');
    let last: Tensor;
    const keep: Tensor[] = [];
    let release: Tensor[] = [];
    if (incremental) {
      const maskT = tensor(take(allMask, 0, total), [B, total], 'int32'); // [B, C]: slots not yet written are 0
      const previous = [...(states ? [states] : []), ...Object.values(memory), ...(teacherCache ? cacheTensors(teacherCache) : []), ...(studentCache ? cacheTensors(studentCache) : [])];
      const t = model.teacherStates(idsT, { attentionMask: maskT, positionIds: pos, cache: teacherCache });
      teacherCalls.push(T);
      const fresh = model.memory(params, t.states); // each [B, T, X]
      states = writeRows(states ?? zeros([B, total, t.states.shape[2]]), t.states, from); // [B, C, Dt]
      memory = Object.fromEntries(Object.entries(fresh).map(([k, v]) => [k, writeRows(memory[k] ?? zeros([B, total, v.shape[2]]), v, from)])); // each [B, C, X]
      const out = model.forward(params, states, { attentionMask: maskT, positionIds: pos, memory, queryStart: from, queryLength: T, studentCache });
      last = reshape(slice(out.logits, [0, T - 1, 0], [B, T, model.vocabSize]), [B, model.vocabSize]); // [B, V]
      teacherCache = t.cache ?? null;
      studentCache = out.studentCache ?? null;
      keep.push(states, ...Object.values(memory), ...(teacherCache ? cacheTensors(teacherCache) : []), ...(studentCache ? cacheTensors(studentCache) : []));
      release = previous;
    } else {
      const maskT = tensor(take(allMask, 0, to), [B, T], 'int32');
      teacherCalls.push(T);
      const out = model.apply(params, idsT, { attentionMask: maskT, positionIds: pos });
      last = reshape(slice(out.logits, [0, T - 1, 0], [B, T, model.vocabSize]), [B, model.vocabSize]); // [B, V]
    }
    await evaluate(last, ...keep);
    for (const t of release) t.dispose(); // the previous step's buffers (each step writes new ones)
    release = [];
    len = to;
    const logits = (await last.data()) as Float32Array;
    if (opts.outputLogits) stepLogits.push(logits);
    const u = randomBits(foldIn(key, step), B);
    for (let b = 0; b < B; b++) {
      const col = b * total + to;
      allMask[col] = 1;
      if (finish[b] !== null) {
        allIds[col] = padId;
        continue;
      }
      const token = chooseToken(logits.subarray(b * model.vocabSize, (b + 1) * model.vocabSize), opts, [...batch[b], ...sequences[b]], u[b]);
      allIds[col] = token;
      sequences[b].push(token);
      opts.onToken?.({ sequence: b, token, step });
      if (stopTokens.has(token)) finish[b] = 'stop_token';
      else if (opts.stopStrings?.some((s) => s && opts.tokenizer!.decode(sequences[b]).includes(s))) finish[b] = 'stop_string';
    }
  }
  for (const t of [...(states ? [states] : []), ...Object.values(memory), ...(teacherCache ? cacheTensors(teacherCache) : []), ...(studentCache ? cacheTensors(studentCache) : [])]) t.dispose();
  const result: ComposedGenerateResult = { sequences, finishReasons: finish.map((r) => r ?? 'length'), teacherCalls };
  if (opts.outputLogits) result.logits = stepLogits;
  return result;
}
