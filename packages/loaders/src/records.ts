/**
 * Plain tensor records: what the readers produce and the writers take. Storage dtypes are widened on read:
 * F32/F16/BF16/F64 become `float32`; integer and bool dtypes become `int32` (I64/U32/U64 only when every value
 * fits, otherwise a typed error).
 */
export interface TensorRecord {
  name: string;
  dtype: 'float32' | 'int32';
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Anything shaped like a `@llm-modules/tensor` Tensor: shape, dtype and an async `data()`. */
export interface ReadableTensor {
  readonly shape: readonly number[];
  readonly dtype: string;
  data(): Promise<ArrayLike<number> & { readonly length: number }>;
}

/** Storage dtypes the writers can produce for float32 data (int32 data is always stored as I32). */
export type FloatStorage = 'F32' | 'F16' | 'BF16';

export function isTypedFloatOrInt(x: unknown): x is Float32Array | Int32Array {
  return x instanceof Float32Array || x instanceof Int32Array;
}

/** True for a tensor record `{ shape, dtype, data: Float32Array | Int32Array }` (name optional). */
export function isRecordLike(x: unknown): x is Omit<TensorRecord, 'name'> & { name?: string } {
  if (x === null || typeof x !== 'object') return false;
  const r = x as Record<string, unknown>;
  return Array.isArray(r.shape) && typeof r.dtype === 'string' && isTypedFloatOrInt(r.data);
}

/** True for a Tensor (duck-typed: `shape` array, `dtype` string, `data()` function). */
export function isReadableTensor(x: unknown): x is ReadableTensor {
  if (x === null || typeof x !== 'object') return false;
  const t = x as Record<string, unknown>;
  return Array.isArray(t.shape) && typeof t.dtype === 'string' && typeof t.data === 'function';
}
