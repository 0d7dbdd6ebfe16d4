import * as core from '@llm-modules/tensor';
import type { TensorLike, TensorRecord } from './records.js';
import { loadSafetensors, type ReadOptions } from './safetensors/index.js';

/**
 * The documented signature of `tensor` from `@llm-modules/tensor`: an immutable lazy Tensor from host data.
 * Looked up at call time, so this package builds against tensor cores that predate it.
 */
export type TensorFactory = (values: Float32Array | Int32Array | number[], shape: number[], dtype?: 'float32' | 'int32') => Tensor;

function tensorFactory(): TensorFactory {
  const f = (core as Record<string, unknown>)['tensor'];
  if (typeof f !== 'function') throw new Error('@llm-modules/tensor does not export `tensor` yet: use the record-level API (loadSafetensors)');
  return f as TensorFactory;
}

type Core = typeof core;
/** The Tensor type of `@llm-modules/tensor` (what `tensor(...)` returns; `TensorLike` until the core exports it). */
export type Tensor = Core extends { tensor: (...args: never[]) => infer R } ? R : TensorLike;

/**
 * Turn one record into a Tensor (`tensor(data, shape, dtype)`); the record's typed array becomes the tensor's data.
 *
 * @example
 * ```ts
 * const t = toTensor({ name: 'w', dtype: 'float32', shape: [2], data: new Float32Array([1, 2]) });
 * await t.data(); // Float32Array [1, 2]
 * ```
 */
export function toTensor(record: Omit<TensorRecord, 'name'>): Tensor {
  return tensorFactory()(record.data, record.shape.slice(), record.dtype);
}

/**
 * Turn records (as the readers return them) into a flat `{ [huggingFaceName]: Tensor }` object.
 *
 * @example
 * ```ts
 * const params = toTensors(await loadSafetensors('models/gptneo'));
 * params['transformer.wte.weight'].shape; // [96, 32]
 * ```
 */
export function toTensors(records: Map<string, Omit<TensorRecord, 'name'>> | Iterable<TensorRecord>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  const entries = records instanceof Map ? records.entries() : [...records].map((r) => [r.name, r] as const);
  for (const [name, r] of entries) out[name] = toTensor(r);
  return out;
}

/**
 * Load a model's weights (file, index or folder; F32/F16/BF16) as Tensors keyed by their safetensors names.
 *
 * @example
 * ```ts
 * const params = await loadSafetensorsAsTensors('models/qwen2-tied');
 * await params['model.norm.weight'].data(); // Float32Array(48)
 * ```
 */
export async function loadSafetensorsAsTensors(path: string, opts: ReadOptions = {}): Promise<Record<string, Tensor>> {
  return toTensors(await loadSafetensors(path, opts));
}
