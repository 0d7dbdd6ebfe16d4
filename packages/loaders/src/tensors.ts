import { tensor, type Tensor } from '@llm-modules/tensor';
import type { TensorRecord } from './records.js';

export type { Tensor };

/**
 * Turn one record into a Tensor (`tensor(data, shape, dtype)` of `@llm-modules/tensor`); the record's typed array
 * becomes the tensor's data without a copy, so do not modify it afterwards. Int32 data is exact up to 2^24 in
 * the tensor core (its documented limit), which covers token ids.
 *
 * @example
 * ```ts
 * const t = toTensor({ dtype: 'float32', shape: [2], data: new Float32Array([1, 2]) });
 * await t.data(); // Float32Array [1, 2]
 * ```
 */
export function toTensor(record: Omit<TensorRecord, 'name'>): Tensor {
  return tensor(record.data, record.shape.slice(), record.dtype);
}

/**
 * Turn records (as the readers return them) into a flat `{ [huggingFaceName]: Tensor }` object.
 *
 * @example
 * ```ts
 * const params = toTensors(new Map([['wte', { name: 'wte', dtype: 'float32' as const, shape: [2, 3], data: new Float32Array(6) }]]));
 * console.log(params.wte.shape); // [2, 3]
 * ```
 */
export function toTensors(records: Map<string, Omit<TensorRecord, 'name'>> | Iterable<TensorRecord>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  const entries = records instanceof Map ? records.entries() : [...records].map((r) => [r.name, r] as const);
  for (const [name, r] of entries) out[name] = toTensor(r);
  return out;
}
