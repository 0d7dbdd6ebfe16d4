/**
 * Streaming safetensors writing for models too big to hold in memory: the header is computed from names and
 * shapes alone, then each tensor's bytes are produced chunk by chunk and written while the next chunk is being
 * generated. Byte layout as the Rust `safetensors` library (and `writeSafetensors`) writes it; sharding and the
 * index as Hugging Face's `save_pretrained`.
 */
import { open } from 'node:fs/promises';
import { encodeFloat16 } from '@llm-modules/tensor';

export type StoreDType = 'F32' | 'BF16' | 'F16';
export const STORE_BYTES: Readonly<Record<StoreDType, number>> = { F32: 4, BF16: 2, F16: 2 };

/** A tensor to write: `fill(out, start)` puts elements `start … start + out.length − 1` (C order) into `out`. */
export interface StreamTensor {
  name: string;
  shape: number[];
  fill(out: Float32Array, start: number): void;
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

const UNITS: Record<string, number> = { '': 1, B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40 };

/**
 * Parse a size as Hugging Face's `max_shard_size` does: `"5GB"` = 5·10⁹ bytes, `"2GiB"` = 2·2³⁰, `"500MB"`,
 * `"1234"` (bytes). Returns null when the text is not a size.
 * @example `parseSize('2GB')` → 2000000000
 */
export function parseSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$/i.exec(text);
  if (!m) return null;
  const bytes = Math.floor(Number(m[1]) * UNITS[(m[2] ?? '').toUpperCase()]);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : null;
}

/**
 * Split tensors (in state-dict order) into shards of at most `maxBytes` data bytes each, as huggingface_hub's
 * `split_torch_state_dict_into_shards`: a new shard starts when the next tensor would overflow the current one,
 * and a tensor bigger than `maxBytes` gets a shard of its own.
 * @example `planShards([{ name: 'a', bytes: 6 }, { name: 'b', bytes: 6 }], 10)` → [['a'], ['b']]
 */
export function planShards(tensors: ReadonlyArray<{ name: string; bytes: number }>, maxBytes: number): string[][] {
  const shards: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const t of tensors) {
    if (current.length > 0 && size + t.bytes > maxBytes) {
      shards.push(current);
      current = [];
      size = 0;
    }
    current.push(t.name);
    size += t.bytes;
  }
  if (current.length > 0) shards.push(current);
  return shards;
}

/** `model-00002-of-00005.safetensors`; a single shard is `model.safetensors`. */
export function shardFileName(index: number, count: number): string {
  if (count === 1) return 'model.safetensors';
  const pad = (n: number) => String(n).padStart(5, '0');
  return `model-${pad(index + 1)}-of-${pad(count)}.safetensors`;
}

/** The `model.safetensors.index.json` text: `json.dumps(index, indent=2, sort_keys=True) + "\n"` as transformers writes it. */
export function shardIndexJson(totalSize: number, weightMap: Record<string, string>): string {
  const sorted = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: sorted }, null, 2)}\n`;
}

/**
 * Header bytes (8-byte length + JSON padded with spaces to a multiple of 8) and the tensors in data order
 * (by name: every tensor has the same dtype).
 */
export function streamHeader(tensors: readonly StreamTensor[], dtype: StoreDType): { header: Buffer; order: StreamTensor[]; dataBytes: number } {
  const order = [...tensors].sort((a, b) => Buffer.compare(Buffer.from(a.name, 'utf8'), Buffer.from(b.name, 'utf8')));
  const parts = ['"__metadata__":{"format":"pt"}'];
  let offset = 0;
  for (const t of order) {
    const end = offset + numel(t.shape) * STORE_BYTES[dtype];
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"${dtype}","shape":${JSON.stringify(t.shape)},"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = json.length + ((8 - (json.length % 8)) % 8);
  const header = Buffer.alloc(8 + padded, 0x20);
  header.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(header, 8);
  return { header, order, dataBytes: offset };
}

/** float32 → bfloat16 bits, round to nearest even (values here are finite). */
function toBF16(src: Uint32Array, dst: Uint16Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = src[i];
    dst[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
}

export interface StreamWriteOptions {
  /** Elements per chunk (default 4 Mi: 16 MiB of float32 per buffer, two buffers). */
  chunk?: number;
  /** Checked between chunks; an aborted signal stops the write with its reason. */
  signal?: AbortSignal;
  /** Called after each tensor with its name and stored bytes. */
  onTensor?: (name: string, bytes: number) => void;
}

/**
 * Write one safetensors file by streaming: header first, then each tensor in data order, produced and encoded one
 * chunk at a time while the previous chunk is being written. Memory stays at two chunks whatever the model size.
 * The file is flushed to disk before the promise resolves. Returns the file's size in bytes.
 *
 * @example
 * ```ts
 * await writeSafetensorsStream('/tmp/w.safetensors', [{ name: 'w', shape: [2, 3], fill: (out, s) => out.forEach((_, i) => (out[i] = s + i)) }], 'BF16');
 * ```
 */
export async function writeSafetensorsStream(path: string, tensors: readonly StreamTensor[], dtype: StoreDType, opts: StreamWriteOptions = {}): Promise<number> {
  const { header, order, dataBytes } = streamHeader(tensors, dtype);
  const chunk = opts.chunk ?? 1 << 22;
  const slots = [0, 1].map(() => {
    const f32 = new Float32Array(chunk);
    return { f32, u32: new Uint32Array(f32.buffer), u16: new Uint16Array(chunk) };
  });
  const fh = await open(path, 'wx');
  let pending: Promise<unknown> = Promise.resolve();
  try {
    let position = 0;
    const enqueue = async (bytes: Uint8Array) => {
      await pending; // one write in flight; the other slot is free to fill meanwhile
      const at = position;
      position += bytes.length;
      pending = (async () => {
        let done = 0;
        while (done < bytes.length) done += (await fh.write(bytes, done, bytes.length - done, at + done)).bytesWritten;
      })();
      pending.catch(() => {}); // surfaced by the next await
    };
    await enqueue(header);
    let k = 0;
    for (const t of order) {
      const n = numel(t.shape);
      for (let start = 0; start < n; start += chunk) {
        if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
        const len = Math.min(chunk, n - start);
        const slot = slots[k++ % 2];
        const view = len === chunk ? slot.f32 : slot.f32.subarray(0, len);
        t.fill(view, start);
        let bytes: Uint8Array;
        if (dtype === 'F32') bytes = new Uint8Array(slot.f32.buffer, 0, len * 4);
        else if (dtype === 'BF16') {
          toBF16(slot.u32, slot.u16, len);
          bytes = new Uint8Array(slot.u16.buffer, 0, len * 2);
        } else {
          const bits = encodeFloat16(view);
          bytes = new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
        }
        await enqueue(bytes);
      }
      opts.onTensor?.(t.name, n * STORE_BYTES[dtype]);
    }
    await pending;
    await fh.sync();
    return header.length + dataBytes;
  } finally {
    await pending.catch(() => {});
    await fh.close();
  }
}
