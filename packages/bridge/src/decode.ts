/**
 * A composed model as something `generate` decodes (`Decodable`): its cache holds the teacher's KV cache, the
 * teacher states and the bridge's memory (position-wise projections of them) written so far, and the student's
 * KV cache. Each step runs the teacher on the new positions only, extends the memory by those positions, and
 * runs bridge → student → head for them: the bridge supplies the teacher's memory incrementally.
 */
import { reshape, zeros, type Tensor } from '@llm-modules/tensor';
import { cacheTensors, writeCache, type Decodable, type KVCache } from '@llm-modules/transformer';
import type { ComposedModel } from './compose.js';
import type { BridgeMemory } from './types.js';

/** What a composed model carries from one decoding step to the next. */
export interface ComposedCache {
  teacher: KVCache;
  student: KVCache;
  /** Teacher states `[B, capacity | length, Dt]`; null before the first step. */
  states: Tensor | null;
  /** The bridge's memory over the same positions, each `[B, capacity | length, X]`. */
  memory: BridgeMemory;
  /** Positions written. */
  length: number;
  capacity: number | null;
}

/** Write `x` `[B, T, X]` at positions `past…` of `[B, C, X]` (static) or append it (dynamic), as the KV cache does. */
function writeRows(buffer: Tensor | undefined, x: Tensor, past: number, capacity: number | null): Tensor {
  const [B, T, X] = x.shape;
  const C = capacity ?? past;
  const old = buffer ?? zeros([B, C, X]); // [B, C, X]
  const out = writeCache(reshape(old, [B, 1, C, X]), reshape(x, [B, 1, T, X]), past, capacity); // [B, 1, C | past + T, X]
  return reshape(out, [B, out.shape[2], X]); // [B, C | past + T, X]
}

/**
 * The decoding view of a composed model (its `decoding` property): pass it to the transformer package's `generate`.
 * @example-skip a fragment: needs a composed model and its params (see generateComposed)
 * @example
 * ```ts
 * import { generate } from '@llm-modules/transformer';
 * const { sequences } = await generate(model.decoding, params, [6, 1, 40, 23], { maxNewTokens: 5, stopTokens: [] });
 * ```
 */
export function composedDecoder(model: ComposedModel): Decodable<ComposedCache> {
  const { teacher, student } = model;
  return {
    config: teacher.model.config,
    maxPositions: student.maxPositions,
    createCache: (batch, capacity = null) => ({ teacher: teacher.model.createCache(batch, capacity), student: student.model.createCache(batch, capacity), states: null, memory: {}, length: 0, capacity }),
    cacheTensors: (c) => [...(c.states ? [c.states] : []), ...Object.values(c.memory), ...cacheTensors(c.teacher), ...cacheTensors(c.student)],
    apply(params, inputIds, { attentionMask, positionIds, cache, logitsToKeep }) {
      if (!cache) return { logits: model.apply(params, inputIds, { attentionMask, positionIds, logitsToKeep }).logits };
      const from = cache.length;
      const T = inputIds.shape[1];
      const t = model.teacherStates(inputIds, { attentionMask, positionIds, cache: cache.teacher }); // states [B, T, Dt]
      const fresh = model.memory(params, t.states); // each [B, T, X]
      const states = writeRows(cache.states ?? undefined, t.states, from, cache.capacity); // [B, C, Dt]
      const memory = Object.fromEntries(Object.entries(fresh).map(([k, v]) => [k, writeRows(cache.memory[k], v, from, cache.capacity)])); // each [B, C, X]
      const out = model.forward(params, states, { attentionMask, positionIds, memory, queryStart: from, queryLength: T, studentCache: cache.student, logitsToKeep, inputIds });
      return { logits: out.logits, cache: { teacher: t.cache!, student: out.studentCache!, states, memory, length: from + T, capacity: cache.capacity } };
    },
  };
}
