import { SafetensorsError } from '../errors.js';

/** dtypes of the safetensors format that this package reads (the `dtype` strings of the header). */
export type SafetensorsDType = 'BOOL' | 'U8' | 'I8' | 'I16' | 'U16' | 'F16' | 'BF16' | 'I32' | 'U32' | 'F32' | 'F64' | 'I64' | 'U64';

/** Bytes per element of each readable dtype. */
export const DTYPE_BYTES: Readonly<Record<SafetensorsDType, number>> = {
  BOOL: 1, U8: 1, I8: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

/** The safetensors format's own dtypes that we recognise but do not decode (8-bit and smaller floats). */
const KNOWN_UNSUPPORTED = new Set(['F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2']);

/** The Rust library's limit (`MAX_HEADER_SIZE`): a header over 100 MB is rejected before it is read. */
export const MAX_HEADER_BYTES = 100_000_000;

/** One tensor as the header describes it. `begin`/`end` count from the first byte after the header. */
export interface TensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

/** A validated header: every tensor is in range, sized right, and the tensors tile the data section exactly. */
export interface SafetensorsHeader {
  metadata: Record<string, string>;
  /** Tensors in data order (ascending `begin`). */
  tensors: TensorInfo[];
  /** Absolute offset of the data section in the file (8 + header length). */
  dataOffset: number;
  /** Bytes in the data section. */
  dataLength: number;
}

/** Number of elements of a shape (1 for a scalar). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Validate the 8-byte little-endian header length against the file size and the 100 MB limit.
 * Returns the header length N (the data section starts at 8 + N).
 */
export function readHeaderLength(first8: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) throw new SafetensorsError(file, `truncated: ${fileSize} bytes, too short for the 8-byte header length`);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(file, `header length ${n} bytes is over the ${MAX_HEADER_BYTES / 1e6} MB limit`);
  const len = Number(n);
  if (len > fileSize - 8) throw new SafetensorsError(file, `header length ${len} bytes goes beyond the end of the file (${fileSize} bytes): truncated or not a safetensors file`);
  if (len < 2) throw new SafetensorsError(file, `header length ${len} bytes is too small to hold a JSON object`);
  return len;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parse and validate the JSON header (the N bytes after the length), for a file whose data section has
 * `dataLength` bytes. Checks what the Rust `safetensors` library checks: valid UTF-8 JSON object, no duplicate
 * names, known dtypes, integer shapes, `data_offsets` in range, without overlap or gap, and of exactly
 * shape × dtype size bytes.
 *
 * @example
 * ```ts
 * const json = new TextEncoder().encode('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}');
 * const header = parseHeader(json, 8, 'w.safetensors');
 * header.tensors[0].shape; // [2]
 * ```
 */
export function parseHeader(bytes: Uint8Array, dataLength: number, file: string): SafetensorsHeader {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new SafetensorsError(file, 'header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError(file, `header is not valid JSON (${(err as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new SafetensorsError(file, 'header is not a JSON object');
  const entries = Object.entries(json as Record<string, unknown>);
  checkDuplicates(text, entries.length, file);

  let metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const [name, value] of entries) {
    if (name === '__metadata__') metadata = parseMetadata(value, file);
    else tensors.push(parseEntry(name, value, file));
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const t of tensors) {
    const where = `tensor "${t.name}"`;
    if (t.end > dataLength) throw new SafetensorsError(file, `${where}: data_offsets [${t.begin}, ${t.end}] go beyond the ${dataLength}-byte data section`);
    if (t.begin < expected) throw new SafetensorsError(file, `${where}: data_offsets [${t.begin}, ${t.end}] overlap the previous tensor (which ends at ${expected})`);
    if (t.begin > expected) throw new SafetensorsError(file, `${where}: data_offsets start at ${t.begin}, leaving a gap after byte ${expected}`);
    const need = numel(t.shape) * DTYPE_BYTES[t.dtype];
    if (need !== t.end - t.begin) {
      throw new SafetensorsError(file, `${where}: shape [${t.shape.join(', ')}] of ${t.dtype} needs ${need} bytes but data_offsets span ${t.end - t.begin}`);
    }
    expected = t.end;
  }
  if (expected !== dataLength) throw new SafetensorsError(file, `data section is ${dataLength} bytes but the tensors cover only ${expected}`);
  return { metadata, tensors, dataOffset: 8 + bytes.length, dataLength };
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SafetensorsError(file, '__metadata__ is not an object');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new SafetensorsError(file, `__metadata__["${k}"] is not a string`);
    out[k] = v;
  }
  return out;
}

function isIndex(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function parseEntry(name: string, value: unknown, file: string): TensorInfo {
  const where = `tensor "${name}"`;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SafetensorsError(file, `${where}: entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') throw new SafetensorsError(file, `${where}: missing dtype`);
  if (!(dtype in DTYPE_BYTES)) {
    const kind = KNOWN_UNSUPPORTED.has(dtype) ? 'unsupported' : 'unknown';
    throw new SafetensorsError(file, `${where}: ${kind} dtype "${dtype.slice(0, 40)}"`);
  }
  if (!Array.isArray(shape) || !shape.every(isIndex)) throw new SafetensorsError(file, `${where}: shape is not a list of non-negative integers`);
  if (!Number.isSafeInteger(numel(shape))) throw new SafetensorsError(file, `${where}: shape [${shape.join(', ')}] has too many elements`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !isIndex(offsets[0]) || !isIndex(offsets[1])) {
    throw new SafetensorsError(file, `${where}: data_offsets is not a pair of non-negative integers`);
  }
  if (offsets[1] < offsets[0]) throw new SafetensorsError(file, `${where}: data_offsets [${offsets[0]}, ${offsets[1]}] end before they begin`);
  return { name, dtype: dtype as SafetensorsDType, shape: shape.slice(), begin: offsets[0], end: offsets[1] };
}

/** JSON.parse keeps the last of duplicate keys silently; count the top-level keys in the text to catch them. */
function checkDuplicates(text: string, distinct: number, file: string): void {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      if (depth === 1 && expectKey) {
        keys.push(JSON.parse(text.slice(i, j + 1)) as string);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      if (depth === 1) expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x2c /* , */ && depth === 1) {
      expectKey = true;
    }
  }
  if (keys.length === distinct) return;
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k)) throw new SafetensorsError(file, `duplicate tensor name "${k}" in the header`);
    seen.add(k);
  }
}

/** A model folder's weights file, and the index of a sharded one. */
export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';
