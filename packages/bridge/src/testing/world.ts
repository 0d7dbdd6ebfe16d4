/** The conformance suite's tiny world: a random Qwen2 teacher, a random GPT-Neo student, a padded batch. */
import { parseConfig, type GPTNeoConfig, type Qwen2Config } from '@llm-modules/loaders';
import { add, evaluate, foldIn, prngKey, randomNormal, tensor, type Tensor } from '@llm-modules/tensor';
import { gptNeo, qwen2 } from '@llm-modules/transformer';
import { composeModel, type ComposedModel } from '../compose.js';
import type { BridgeDefinition, Params } from '../types.js';

export const VOCAB = 23;
export const B = 2;
export const T = 5;

/** A 1-layer Qwen2 teacher of width `Dt` (2 heads, 1 KV head) with random weights (std 0.5, so states vary). */
export function tinyTeacher(Dt: number, seed = 1) {
  const config = parseConfig({
    model_type: 'qwen2', vocab_size: VOCAB, hidden_size: Dt, intermediate_size: 2 * Dt, num_hidden_layers: 1,
    num_attention_heads: 2, num_key_value_heads: 1, rope_theta: 10000, initializer_range: 0.5, max_position_embeddings: 64,
  }) as Qwen2Config;
  const model = qwen2(config);
  return { model, params: model.init(prngKey(seed)) };
}

/** A 2-block GPT-Neo student (global, local with window 2) of width `Ds`, 2 heads. */
export function tinyStudent(Ds: number) {
  return gptNeo(parseConfig({
    model_type: 'gpt_neo', vocab_size: 5, hidden_size: Ds, num_layers: 2, num_heads: 2, intermediate_size: 2 * Ds,
    max_position_embeddings: 16, attention_types: [[['global', 'local'], 1]], window_size: 2, initializer_range: 0.2,
  }) as GPTNeoConfig);
}

/** The suite's batch: B = 2, T = 5, sequence 0 right-padded by one. */
export function batch(): { ids: Tensor; mask: Tensor } {
  return {
    ids: tensor(new Int32Array([3, 17, 8, 11, 0, 21, 5, 14, 2, 9]), [B, T], 'int32'),
    mask: tensor(new Int32Array([1, 1, 1, 1, 0, 1, 1, 1, 1, 1]), [B, T], 'int32'),
  };
}

export function world<O extends object>(def: BridgeDefinition<O>, options: Partial<O>, Dt = 12, Ds = 8): ComposedModel {
  return composeModel({ teacher: tinyTeacher(Dt), student: { model: tinyStudent(Ds) }, bridge: { variant: def as BridgeDefinition<never>, options }, head: { vocabSize: VOCAB } });
}

/** Every leaf plus 0.1·N(0, 1), so zero-initialised gates and unit norms are generic points for the gradient check. */
export function perturb(params: Params, seed = 7): Params {
  const out: Params = {};
  Object.keys(params)
    .sort()
    .forEach((name, i) => (out[name] = add(params[name], randomNormal(foldIn(prngKey(seed), i), params[name].shape, { std: 0.1 })))); // same shape as the leaf
  return out;
}

/** Host copies of every leaf (evaluated together). */
export async function snapshot(params: Params): Promise<Map<string, Float32Array>> {
  await evaluate(...Object.values(params));
  const out = new Map<string, Float32Array>();
  for (const [n, t] of Object.entries(params)) out.set(n, Float32Array.from(await t.data()));
  return out;
}

export const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
export const isFiniteAll = (xs: ArrayLike<number>) => Array.prototype.every.call(xs, (x: number) => Number.isFinite(x));
