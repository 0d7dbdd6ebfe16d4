/** Reading the fixtures' golden.json files and comparing against them (valid positions only). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { tensor, type Tensor } from '@llm-modules/tensor';
import type { GoldenArray } from '../../../test-utils/golden.js';
export { maxDiff, maxDiffValid, type GoldenArray } from '../../../test-utils/golden.js';

export const FIXTURES = fileURLToPath(new URL('./fixtures/models/', import.meta.url));
export const MODELS = ['gptneo', 'qwen2-tied', 'qwen2-untied-bf16-sharded'] as const;
export type ModelName = (typeof MODELS)[number];
export const modelDir = (name: ModelName) => join(FIXTURES, name);

export interface GoldenCase {
  input_ids: GoldenArray;
  attention_mask: GoldenArray;
  logits: GoldenArray;
  hidden_last: GoldenArray;
  labels?: GoldenArray;
  loss?: number;
  loss_float64_port?: number;
  grads?: Record<string, GoldenArray>;
}
export interface Golden {
  family: string;
  pad_input_id: number;
  cases: Record<'batch_padded' | 'single_token' | 'long', GoldenCase>;
  generation: { prompt: number[]; max_new_tokens: number; tokens: number[]; tokens_use_cache: number[]; tokens_no_cache: number[]; scores: GoldenArray };
}

const cache = new Map<string, Golden>();
export function golden(name: ModelName): Golden {
  let g = cache.get(name);
  if (!g) cache.set(name, (g = JSON.parse(readFileSync(join(FIXTURES, name, 'golden.json'), 'utf8')) as Golden));
  return g;
}

export const ints = (a: GoldenArray): Tensor => tensor(Int32Array.from(a.data), a.shape);
