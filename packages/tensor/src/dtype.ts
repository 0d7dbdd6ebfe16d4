/**
 * Data types. `float32`, `int32` and `bool` are compute dtypes; `float16` and `bfloat16` are storage
 * dtypes that are widened to float32 when a tensor is created from them (exactly: every f16/bf16 value
 * is representable in float32).
 */
export type DType = 'float32' | 'int32' | 'bool';
export type StorageDType = DType | 'float16' | 'bfloat16';

export type TypedArrayFor<D extends DType> = D extends 'float32' ? Float32Array : D extends 'int32' ? Int32Array : Uint8Array;
export type AnyTypedArray = Float32Array | Int32Array | Uint8Array;

export const DTYPES: readonly DType[] = ['float32', 'int32', 'bool'];

export function isDType(x: unknown): x is DType {
  return x === 'float32' || x === 'int32' || x === 'bool';
}

/** Fresh typed array of the dtype's host representation. */
export function allocHost(dtype: DType, size: number): AnyTypedArray {
  if (dtype === 'float32') return new Float32Array(size);
  if (dtype === 'int32') return new Int32Array(size);
  return new Uint8Array(size);
}

/**
 * Convert the backend's float32 storage to the host array of `dtype`. Kernels compute in float32, so
 * int32 values are exact up to 2^24 (documented limit); bool is 0/1.
 */
export function toHost(dtype: DType, src: Float32Array): AnyTypedArray {
  if (dtype === 'float32') return src;
  const out = allocHost(dtype, src.length);
  if (dtype === 'int32') for (let i = 0; i < src.length; i++) out[i] = src[i];
  else for (let i = 0; i < src.length; i++) out[i] = src[i] !== 0 ? 1 : 0;
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** bfloat16 bits → float32. Exact: bf16 is the top half of a float32. @example `decodeBFloat16(Uint16Array.of(0x3f80, 0xc000))` → Float32Array [1, -2] */
export function decodeBFloat16(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i] << 16;
  return out;
}

/** float32 → bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN. @example `encodeBFloat16([1, -2])` → Uint16Array [0x3f80, 0xc000] */
export function encodeBFloat16(values: Float32Array | ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i];
    const x = u32[0];
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x007fffff) !== 0) {
      out[i] = (x >>> 16) | 0x0040; // keep sign, force a quiet NaN
      continue;
    }
    const rounding = 0x7fff + ((x >>> 16) & 1);
    out[i] = ((x + rounding) >>> 16) & 0xffff;
  }
  return out;
}

/** IEEE binary16 bits → float32, including subnormals, ±0, ±Inf and NaN. */
export function decodeFloat16(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      // zero or subnormal: mant * 2^-24, exactly representable in float32
      out[i] = (sign ? -1 : 1) * mant * 5.960464477539063e-8;
    } else if (exp === 0x1f) {
      outBits[i] = sign | 0x7f800000 | (mant << 13);
    } else {
      outBits[i] = sign | ((exp - 15 + 127) << 23) | (mant << 13);
    }
  }
  return out;
}

/** float32 → IEEE binary16 bits, round to nearest even, overflow to ±Inf, gradual underflow. */
export function encodeFloat16(values: Float32Array | ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i];
    const x = u32[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    const mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
    } else if (e <= 0) {
      if (e < -10) {
        out[i] = sign; // rounds to zero
        continue;
      }
      // subnormal: shift the implicit-one mantissa, round to nearest even
      const m = mant | 0x800000;
      const shift = 14 - e;
      const half = 1 << (shift - 1);
      const rest = m & ((1 << shift) - 1);
      let h = m >>> shift;
      if (rest > half || (rest === half && (h & 1))) h++;
      out[i] = sign | h;
    } else {
      let h = (e << 10) | (mant >>> 13);
      const rest = mant & 0x1fff;
      if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // may carry into the exponent: correct
      out[i] = sign | h;
    }
  }
  return out;
}
