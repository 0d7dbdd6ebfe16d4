/**
 * The safetensors layout without a file system (browser-safe): planning, the header, tensor bytes. write.ts
 * (Node entry) streams it into a file; `encodeSafetensors` returns it as one Uint8Array.
 */
import { encodeBFloat16, encodeFloat16 } from '@llm-modules/tensor';
import { SafetensorsError } from '../errors.js';
import { isRecordLike, isReadableTensor, type FloatStorage, type ReadableTensor, type TensorRecord } from '../records.js';
import { LITTLE_ENDIAN } from './decode.js';
import { numel } from './format.js';

/** A tensor to write: a record `{ shape, dtype, data }` or a Tensor (read with `await t.data()`). */
export type WritableTensor = Omit<TensorRecord, 'name'> | ReadableTensor;

/** Tensors to write, by name. */
export type WritableTensors = Map<string, WritableTensor> | Record<string, WritableTensor> | Iterable<TensorRecord>;

export interface WriteOptions {
  /** String metadata for `__metadata__`; `format: "pt"` is added unless given (Hugging Face's loader wants it). */
  metadata?: Record<string, string>;
  /** Storage of float tensors: 'F32' (default), 'F16' or 'BF16' (round to nearest even). Int32 data is stored as I32. */
  dtype?: FloatStorage | ((name: string) => FloatStorage);
}

export type StoreDType = FloatStorage | 'I32';
/** The Rust library orders tensors by dtype, descending enum order (F16 < BF16 < I32 < F32), then by name. */
export const RUST_RANK: Record<StoreDType, number> = { F16: 0, BF16: 1, I32: 2, F32: 3 };

export interface Pending {
  name: string;
  nameBytes: Uint8Array;
  shape: number[];
  dtype: StoreDType;
  load: () => Promise<Float32Array | Int32Array>;
}

function entriesOf(tensors: WritableTensors): Array<[string, WritableTensor]> {
  if (tensors instanceof Map) return [...tensors.entries()];
  if (Symbol.iterator in tensors) return [...(tensors as Iterable<TensorRecord>)].map((r) => [r.name, r]);
  return Object.entries(tensors);
}

export function plan(path: string, tensors: WritableTensors, opts: WriteOptions): Pending[] {
  const seen = new Set<string>();
  return entriesOf(tensors).map(([name, t]) => {
    if (typeof name !== 'string' || name === '' || name === '__metadata__') throw new SafetensorsError(path, `invalid tensor name ${JSON.stringify(name)}`);
    if (seen.has(name)) throw new SafetensorsError(path, `duplicate tensor name "${name}"`);
    seen.add(name);
    if (!isRecordLike(t) && !isReadableTensor(t)) throw new SafetensorsError(path, `"${name}" is neither a tensor nor a tensor record`);
    if (t.dtype !== 'float32' && t.dtype !== 'int32') throw new SafetensorsError(path, `"${name}": cannot store dtype ${t.dtype}`);
    const shape = [...t.shape];
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new SafetensorsError(path, `"${name}": invalid shape [${shape.join(', ')}]`);
    const floatStore = typeof opts.dtype === 'function' ? opts.dtype(name) : (opts.dtype ?? 'F32');
    const dtype: StoreDType = t.dtype === 'int32' ? 'I32' : floatStore;
    if (!(dtype in RUST_RANK)) throw new SafetensorsError(path, `"${name}": unknown storage dtype ${String(dtype)}`);
    const load = isRecordLike(t)
      ? async () => t.data
      : async () => {
          const d = await t.data();
          return d instanceof Float32Array || d instanceof Int32Array ? d : t.dtype === 'int32' ? Int32Array.from(d) : Float32Array.from(d);
        };
    return { name, nameBytes: utf8.encode(name), shape, dtype, load };
  });
}

export function encode(p: Pending, data: Float32Array | Int32Array, path: string): Uint8Array {
  const n = numel(p.shape);
  if (data.length !== n) throw new SafetensorsError(path, `"${p.name}": shape [${p.shape.join(', ')}] has ${n} elements but the data has ${data.length}`);
  if (p.dtype === 'F32' || p.dtype === 'I32') {
    const typed = p.dtype === 'F32' ? (data instanceof Float32Array ? data : Float32Array.from(data)) : data instanceof Int32Array ? data : Int32Array.from(data);
    return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  }
  const bits = p.dtype === 'BF16' ? encodeBFloat16(data) : encodeFloat16(data);
  return new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
}

export const BYTES: Record<StoreDType, number> = { F16: 2, BF16: 2, I32: 4, F32: 4 };


const utf8 = new TextEncoder();

/** Byte-wise order of UTF-8 names (what Buffer.compare and the Rust library use). */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The tensors in file order and the 8-byte length + padded JSON header that precede their data. @internal */
export function layout(path: string, tensors: WritableTensors, opts: WriteOptions): { head: Uint8Array; header: Uint8Array; pending: Pending[] } {
  if (!LITTLE_ENDIAN) throw new SafetensorsError(path, 'writing safetensors needs a little-endian host');
  const pending = plan(path, tensors, opts);
  pending.sort((a, b) => RUST_RANK[b.dtype] - RUST_RANK[a.dtype] || compareBytes(a.nameBytes, b.nameBytes));
  const metadata = { format: 'pt', ...opts.metadata };
  for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new SafetensorsError(path, `metadata "${k}" is not a string`);
  const parts = [`"__metadata__":${JSON.stringify(metadata)}`];
  let offset = 0;
  for (const p of pending) {
    const end = offset + numel(p.shape) * BYTES[p.dtype];
    parts.push(`${JSON.stringify(p.name)}:{"dtype":"${p.dtype}","shape":${JSON.stringify(p.shape)},"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = utf8.encode(`{${parts.join(',')}}`);
  const header = new Uint8Array(json.length + ((8 - (json.length % 8)) % 8)).fill(0x20);
  header.set(json);
  const head = new Uint8Array(8);
  new DataView(head.buffer).setBigUint64(0, BigInt(header.length), true);
  return { head, header, pending };
}

/** The data of one pending tensor, with the error naming it when getting it fails. @internal */
export async function loadData(p: Pending, path: string): Promise<Float32Array | Int32Array> {
  try {
    return await p.load();
  } catch (err) {
    throw new SafetensorsError(path, `"${p.name}": getting the tensor's data failed (${(err as Error)?.message ?? String(err)})`, { cause: err });
  }
}

/**
 * Tensors as the bytes of a safetensors file, laid out as `writeSafetensors` (Node entry) writes them: for a
 * page to download or post. `label` names the result in errors.
 * @example
 * ```ts
 * const bytes = await encodeSafetensors({ w: { dtype: 'float32', shape: [2], data: new Float32Array([1, 2]) } });
 * (await readSafetensorsBuffer(bytes)).get('w')!.data; // Float32Array [1, 2]
 * ```
 */
export async function encodeSafetensors(tensors: WritableTensors, opts: WriteOptions = {}, label = '<safetensors>'): Promise<Uint8Array> {
  const { head, header, pending } = layout(label, tensors, opts);
  const parts: Uint8Array[] = [head, header];
  for (const p of pending) parts.push(encode(p, await loadData(p, label), label));
  const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let at = 0;
  for (const x of parts) (out.set(x, at), (at += x.length));
  return out;
}
