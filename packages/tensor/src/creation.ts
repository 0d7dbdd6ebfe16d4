import type { DType, StorageDType } from './dtype.js';
import { decodeBFloat16, decodeFloat16 } from './dtype.js';
import { TensorError, fmtShape } from './errors.js';
import { checkShape, sizeOf, type Shape } from './shape.js';
import { contiguousView, newStorage } from './backend.js';
import { realize } from './memory.js';
import { Tensor, type NestedArray } from './tensor.js';

export type TensorLike = number | NestedArray | Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array | readonly number[];

function inferShape(values: unknown): number[] {
  const shape: number[] = [];
  let v = values;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0];
  }
  return shape;
}

function flatten(values: unknown, out: number[]): void {
  if (Array.isArray(values)) for (const v of values) flatten(v, out);
  else if (typeof values === 'number' || typeof values === 'boolean') out.push(Number(values));
  else throw new TensorError('tensor', `values must be numbers, got ${typeof values}`);
}

/** @internal a realized tensor over host data (no copy: the array must not be changed afterwards). */
export function fromHost(data: Float32Array | Float64Array, shape: Shape, dtype: DType): Tensor {
  const storage = newStorage('host', data.length, data);
  const t = new Tensor(shape, dtype, 'const', [], {});
  realize(t, contiguousView(storage, shape));
  return t;
}

/**
 * Create a tensor from values. `shape` defaults to the nesting of `values` (or its length); `dtype`
 * defaults to int32 for an Int32Array and float32 otherwise. `float16`/`bfloat16` take the raw 16-bit
 * patterns in a Uint16Array and widen them exactly to float32. A Float64Array keeps float64 precision
 * on the `reference` backend (for finite differences); other backends compute in float32.
 *
 * @example
 * ```ts
 * import { tensor } from '@llm-modules/tensor';
 * const x = tensor([[1, 2, 3], [4, 5, 6]]);            // float32 [2, 3]
 * const ids = tensor(new Int32Array([5, 7]), [2]);    // int32 [2]
 * console.log(x.shape, ids.dtype, await x.array());
 * ```
 */
export function tensor(values: TensorLike, shape?: Shape, dtype?: StorageDType): Tensor {
  let data: Float32Array | Float64Array;
  let dt: DType;
  if (values instanceof Uint16Array) {
    if (dtype !== 'bfloat16' && dtype !== 'float16') throw new TensorError('tensor', 'a Uint16Array holds float16 or bfloat16 bits: pass dtype "float16" or "bfloat16"');
    data = dtype === 'bfloat16' ? decodeBFloat16(values) : decodeFloat16(values);
    dt = 'float32';
  } else if (ArrayBuffer.isView(values)) {
    const arr = values as Float32Array | Float64Array | Int32Array | Uint8Array;
    dt = dtype === 'float16' || dtype === 'bfloat16' ? 'float32' : (dtype ?? (arr instanceof Int32Array ? 'int32' : arr instanceof Uint8Array ? 'bool' : 'float32'));
    data = arr instanceof Float64Array ? arr : arr instanceof Float32Array ? arr : Float32Array.from(arr);
  } else {
    const flat: number[] = [];
    flatten(values, flat);
    shape ??= inferShape(values);
    dt = dtype === 'float16' || dtype === 'bfloat16' ? 'float32' : (dtype ?? 'float32');
    data = Float32Array.from(flat);
  }
  const shp = checkShape('tensor', shape ?? [data.length]);
  if (sizeOf(shp) !== data.length) throw new TensorError('tensor', `${data.length} values do not fill shape ${fmtShape(shp)} (${sizeOf(shp)} elements)`);
  if (dt === 'int32' || dt === 'bool') data = normaliseInts(data, dt);
  return fromHost(data, shp, dt);
}

function normaliseInts(data: Float32Array | Float64Array, dt: DType): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = dt === 'bool' ? (data[i] !== 0 ? 1 : 0) : Math.trunc(data[i]);
  return out;
}

/** A tensor of `shape` filled with `value`. @example `full([2, 2], 0.5)` */
export function full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  const shp = checkShape('full', shape);
  const v = dtype === 'int32' ? Math.trunc(value) : dtype === 'bool' ? (value ? 1 : 0) : value;
  return fromHost(new Float32Array(sizeOf(shp)).fill(v), shp, dtype);
}

/** @example `zeros([3, 4])` */
export const zeros = (shape: Shape, dtype: DType = 'float32'): Tensor => full(shape, 0, dtype);
/** @example `ones([3, 4])` */
export const ones = (shape: Shape, dtype: DType = 'float32'): Tensor => full(shape, 1, dtype);

/**
 * Evenly spaced values in [start, stop), like `numpy.arange`. With one argument, the range [0, n).
 * Integer arguments give int32 unless a dtype is passed.
 *
 * @example `arange(5)` → [0, 1, 2, 3, 4]; `arange(1, 2, 0.25)` → [1, 1.25, 1.5, 1.75]
 */
export function arange(start: number, stop?: number, step = 1, dtype?: DType): Tensor {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0 || !Number.isFinite(step)) throw new TensorError('arange', `step must be a non-zero finite number, got ${step}`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const dt = dtype ?? (Number.isInteger(start) && Number.isInteger(stop) && Number.isInteger(step) ? 'int32' : 'float32');
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = dt === 'int32' ? Math.trunc(start + i * step) : start + i * step;
  return fromHost(data, [n], dt);
}
