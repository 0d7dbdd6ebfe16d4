import { decodeBFloat16, decodeFloat16 } from '@llm-modules/tensor';
import { SafetensorsError } from '../errors.js';
import { DTYPE_BYTES, numel, type TensorInfo } from './format.js';

/** Host byte order: typed-array views below assume little-endian, as the safetensors format is. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Allocate the record's output array, and say how to fill it. F32 and I32 are read straight into the
 * output's memory (no second copy); other dtypes are read into `raw` and widened by `finish`.
 */
export function planDecode(info: TensorInfo, file: string): { raw: Uint8Array; finish: () => Float32Array | Int32Array } {
  if (!LITTLE_ENDIAN) throw new SafetensorsError(file, 'reading safetensors needs a little-endian host');
  const n = numel(info.shape);
  if (info.dtype === 'F32') {
    const out = new Float32Array(n);
    return { raw: new Uint8Array(out.buffer), finish: () => out };
  }
  if (info.dtype === 'I32') {
    const out = new Int32Array(n);
    return { raw: new Uint8Array(out.buffer), finish: () => out };
  }
  const raw = new Uint8Array(n * DTYPE_BYTES[info.dtype]);
  return { raw, finish: () => widen(info, raw, n, file) };
}

function widen(info: TensorInfo, raw: Uint8Array, n: number, file: string): Float32Array | Int32Array {
  const buf = raw.buffer;
  switch (info.dtype) {
    case 'BF16':
      return decodeBFloat16(new Uint16Array(buf, 0, n));
    case 'F16':
      return decodeFloat16(new Uint16Array(buf, 0, n));
    case 'F64':
      return Float32Array.from(new Float64Array(buf, 0, n));
    case 'BOOL':
      return Int32Array.from(raw, (b) => (b !== 0 ? 1 : 0));
    case 'U8':
      return Int32Array.from(raw);
    case 'I8':
      return Int32Array.from(new Int8Array(buf, 0, n));
    case 'I16':
      return Int32Array.from(new Int16Array(buf, 0, n));
    case 'U16':
      return Int32Array.from(new Uint16Array(buf, 0, n));
    case 'U32':
    case 'I64':
    case 'U64':
      return narrow(info, raw, n, file);
    default:
      throw new SafetensorsError(file, `tensor "${info.name}": cannot decode dtype ${info.dtype}`);
  }
}

/** U32 / I64 / U64 → int32, failing on the first value outside [-2^31, 2^31). */
function narrow(info: TensorInfo, raw: Uint8Array, n: number, file: string): Int32Array {
  const words = new Int32Array(raw.buffer, 0, raw.length / 4);
  const out = new Int32Array(n);
  const stride = info.dtype === 'U32' ? 1 : 2;
  for (let i = 0; i < n; i++) {
    const lo = words[i * stride];
    const ok = info.dtype === 'U32' ? lo >= 0 : info.dtype === 'U64' ? lo >= 0 && words[i * 2 + 1] === 0 : words[i * 2 + 1] === lo >> 31;
    if (!ok) {
      const dv = new DataView(raw.buffer);
      const value = info.dtype === 'U32' ? dv.getUint32(i * 4, true) : info.dtype === 'U64' ? dv.getBigUint64(i * 8, true) : dv.getBigInt64(i * 8, true);
      throw new SafetensorsError(file, `tensor "${info.name}": ${info.dtype} value ${value} at index ${i} does not fit in int32`);
    }
    out[i] = lo;
  }
  return out;
}
