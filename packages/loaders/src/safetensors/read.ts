import { SafetensorsError } from '../errors.js';
import type { TensorRecord } from '../records.js';
import { planDecode } from './decode.js';
import { parseHeader, readHeaderLength, type SafetensorsHeader, type TensorInfo } from './format.js';
import { bufferSource, type ByteSource } from './source.js';

/** Which tensors to read: a list of names, or a predicate on the header entry. Default: all. */
export type TensorSelection = Iterable<string> | ((info: TensorInfo) => boolean);

export interface ReadOptions {
  names?: TensorSelection;
  /** Called after each tensor with the stored bytes read so far and in all (model folders; for progress bars). */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/** An open safetensors file: the validated header, and tensors read one at a time by offset. */
export interface SafetensorsReader {
  readonly path: string;
  readonly header: SafetensorsHeader;
  /** Header entry of `name` (throws a SafetensorsError if absent). */
  info(name: string): TensorInfo;
  /** Read one tensor, widened to float32 / int32. Only this tensor's bytes are read. */
  read(name: string): Promise<TensorRecord>;
  /** The stored bytes of one tensor, as they are in the file: into `into` when given (exactly that many bytes), else a new array. */
  readBytes(name: string, into?: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

export async function readerFrom(src: ByteSource): Promise<SafetensorsReader> {
  const file = src.label;
  try {
    const first8 = new Uint8Array(8);
    if (src.size >= 8) await src.read(0, first8);
    const n = readHeaderLength(first8, src.size, file);
    const json = new Uint8Array(n);
    await src.read(8, json);
    const header = parseHeader(json, src.size - 8 - n, file);
    const byName = new Map(header.tensors.map((t) => [t.name, t]));
    const info = (name: string): TensorInfo => {
      const t = byName.get(name);
      if (!t) throw new SafetensorsError(file, `no tensor named "${name}"`);
      return t;
    };
    return {
      path: file,
      header,
      info,
      async read(name) {
        const t = info(name);
        const plan = planDecode(t, file);
        await src.read(header.dataOffset + t.begin, plan.raw);
        const data = plan.finish();
        return { name, dtype: data instanceof Float32Array ? 'float32' : 'int32', shape: t.shape.slice(), data };
      },
      async readBytes(name, into) {
        const t = info(name);
        if (into && into.length !== t.end - t.begin) throw new SafetensorsError(file, `tensor "${name}" has ${t.end - t.begin} bytes, not the ${into.length} of the array given to read it into`);
        const out = into ?? new Uint8Array(t.end - t.begin);
        await src.read(header.dataOffset + t.begin, out);
        return out;
      },
      close: () => src.close(),
    };
  } catch (err) {
    await src.close();
    throw err;
  }
}

/** Like openSafetensors (Node entry), over bytes already in memory (`label` names them in errors). */
export async function openSafetensorsBuffer(bytes: Uint8Array, label = '<buffer>'): Promise<SafetensorsReader> {
  return readerFrom(bufferSource(bytes, label));
}

/** The header entries selected by `names` (in data order); unknown names are an error. */
export function selectTensors(reader: SafetensorsReader, names: TensorSelection | undefined): TensorInfo[] {
  if (names === undefined) return reader.header.tensors;
  if (typeof names === 'function') return reader.header.tensors.filter(names);
  const wanted = new Set(names);
  for (const n of wanted) reader.info(n);
  return reader.header.tensors.filter((t) => wanted.has(t.name));
}

export async function readAll(reader: SafetensorsReader, opts: ReadOptions): Promise<Map<string, TensorRecord>> {
  const out = new Map<string, TensorRecord>();
  try {
    for (const t of selectTensors(reader, opts.names)) out.set(t.name, await reader.read(t.name));
  } finally {
    await reader.close();
  }
  return out;
}

/** Like readSafetensors (Node entry), from bytes in memory. */
export async function readSafetensorsBuffer(bytes: Uint8Array, opts: ReadOptions & { label?: string } = {}): Promise<Map<string, TensorRecord>> {
  return readAll(await openSafetensorsBuffer(bytes, opts.label), opts);
}
