import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { SafetensorsError, describeFsError } from '../errors.js';
import type { TensorRecord } from '../records.js';
import type { TensorInfo } from './format.js';
import { selectTensors, type ReadOptions, type SafetensorsReader } from './read.js';
import { openSafetensors } from './read-file.js';

import { INDEX_FILE, SINGLE_FILE } from './format.js';

export { INDEX_FILE, SINGLE_FILE };

/** Where a model's weights are: one file, or an index and its shards. */
export type WeightsLocation = { kind: 'single'; file: string } | { kind: 'sharded'; index: string; shards: Map<string, string[]> };

/** A tensor's header entry together with the file that holds it. */
export interface LocatedTensorInfo extends TensorInfo {
  file: string;
}

async function kindOf(path: string): Promise<'file' | 'dir' | null> {
  try {
    const st = await stat(path);
    return st.isDirectory() ? 'dir' : 'file';
  } catch {
    return null;
  }
}

/**
 * Parse a `model.safetensors.index.json` into shard file → tensor names (paths resolved next to the index).
 * Shard paths must stay inside the index's folder.
 */
export async function readShardIndex(index: string): Promise<Map<string, string[]>> {
  let text: string;
  try {
    text = await readFile(index, 'utf8');
  } catch (err) {
    throw new SafetensorsError(index, `cannot read: ${describeFsError(err)}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError(index, `not valid JSON (${(err as Error).message})`);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) throw new SafetensorsError(index, 'missing "weight_map" object');
  const shards = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard === '') throw new SafetensorsError(index, `weight_map["${name}"] is not a file name`);
    const rel = normalize(shard);
    if (isAbsolute(rel) || rel === '..' || rel.startsWith('..' + sep)) throw new SafetensorsError(index, `weight_map["${name}"] = "${shard}" points outside the model folder`);
    const path = join(dirname(index), rel);
    const names = shards.get(path) ?? [];
    names.push(name);
    shards.set(path, names);
  }
  if (shards.size === 0) throw new SafetensorsError(index, 'weight_map is empty');
  return new Map([...shards].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Find the weights of a model: a `.safetensors` file, an index file, or a folder holding `model.safetensors`
 * or `model.safetensors.index.json`.
 *
 * @example-skip reads a sharded model folder
 * @example
 * ```ts
 * const where = await locateWeights('models/qwen2-untied-bf16-sharded');
 * if (where.kind === 'sharded') console.log([...where.shards.keys()]);
 * ```
 */
export async function locateWeights(path: string): Promise<WeightsLocation> {
  const kind = await kindOf(path);
  if (kind === null) throw new SafetensorsError(path, 'no such file or folder');
  if (kind === 'file') {
    if (path.endsWith('.index.json')) return { kind: 'sharded', index: path, shards: await readShardIndex(path) };
    return { kind: 'single', file: path };
  }
  const single = join(path, SINGLE_FILE);
  if ((await kindOf(single)) === 'file') return { kind: 'single', file: single };
  const index = join(path, INDEX_FILE);
  if ((await kindOf(index)) === 'file') return { kind: 'sharded', index, shards: await readShardIndex(index) };
  throw new SafetensorsError(path, `no ${SINGLE_FILE} or ${INDEX_FILE} in this folder`);
}

/** Open every file of a location, checking each shard holds exactly the tensors the index maps to it. */
async function withReaders<T>(where: WeightsLocation, fn: (readers: SafetensorsReader[]) => Promise<T>): Promise<T> {
  const readers: SafetensorsReader[] = [];
  try {
    if (where.kind === 'single') {
      readers.push(await openSafetensors(where.file));
    } else {
      for (const [file, names] of where.shards) {
        const reader = await openSafetensors(file);
        readers.push(reader);
        const listed = new Set(names);
        const held = new Set(reader.header.tensors.map((t) => t.name));
        for (const n of names) {
          if (!held.has(n)) throw new SafetensorsError(where.index, `maps tensor "${n}" to ${file}, which does not hold it`);
        }
        for (const t of reader.header.tensors) {
          if (!listed.has(t.name)) throw new SafetensorsError(file, `holds tensor "${t.name}", which ${where.index} does not map to this shard`);
        }
      }
    }
    return await fn(readers);
  } finally {
    await Promise.all(readers.map((r) => r.close()));
  }
}

/**
 * Load a model's tensors as records from a file, an index, or a model folder (single or sharded).
 * Tensors are read one at a time by offset; only the widened records stay in memory.
 *
 * @example
 * ```ts
 * import { mkdtempSync } from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * const dir = mkdtempSync(join(tmpdir(), 'model-'));
 * await writeSafetensors(join(dir, 'model.safetensors'), { 'lm_head.weight': { dtype: 'float32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } }, { dtype: 'BF16' });
 * const tensors = await loadSafetensors(dir); // bf16 → float32, exactly
 * console.log(tensors.get('lm_head.weight')!.shape, tensors.get('lm_head.weight')!.data); // [2, 2] Float32Array [1, 2, 3, 4]
 * ```
 */
export async function loadSafetensors(path: string, opts: ReadOptions = {}): Promise<Map<string, TensorRecord>> {
  return loadEach(path, opts, (reader, t) => reader.read(t.name));
}

/** @internal `loadSafetensors` with its own reading of each selected tensor (tensors-file.ts keeps BF16 bits). */
export async function loadEach<R>(path: string, opts: ReadOptions, read: (reader: SafetensorsReader, t: TensorInfo) => Promise<R>): Promise<Map<string, R>> {
  const where = await locateWeights(path);
  return withReaders(where, async (readers) => {
    const wanted = opts.names === undefined || typeof opts.names === 'function' ? undefined : new Set(opts.names);
    const out = new Map<string, R>();
    const picked = readers.map((reader) => selectTensors(reader, (wanted ? (t: TensorInfo) => wanted.has(t.name) : opts.names) as ReadOptions['names']));
    const total = picked.flat().reduce((n, t) => n + t.end - t.begin, 0);
    let done = 0;
    for (const [k, reader] of readers.entries()) {
      for (const t of picked[k]) {
        out.set(t.name, await read(reader, t));
        done += t.end - t.begin;
        opts.onProgress?.(done, total);
      }
    }
    if (wanted) for (const n of wanted) if (!out.has(n)) throw new SafetensorsError(path, `no tensor named "${n}"`);
    return out;
  });
}

/** What {@link inspectSafetensors} reports: headers only, no tensor data is read. */
export interface SafetensorsSummary {
  files: string[];
  metadata: Record<string, string>;
  tensors: LocatedTensorInfo[];
  /** Sum of the tensors' stored bytes. */
  totalBytes: number;
  /** Sum of the tensors' element counts. */
  parameterCount: number;
}

/**
 * Read and validate only the headers of a model's weights (single or sharded).
 *
 * @example-skip reads a model folder (models/gptneo)
 * @example
 * ```ts
 * const s = await inspectSafetensors('models/gptneo');
 * console.log(s.tensors.length, s.parameterCount, s.totalBytes);
 * ```
 */
export async function inspectSafetensors(path: string): Promise<SafetensorsSummary> {
  return withReaders(await locateWeights(path), async (readers) => {
    const tensors: LocatedTensorInfo[] = [];
    let metadata: Record<string, string> = {};
    for (const r of readers) {
      metadata = { ...metadata, ...r.header.metadata };
      for (const t of r.header.tensors) tensors.push({ ...t, file: r.path });
    }
    let totalBytes = 0;
    let parameterCount = 0;
    for (const t of tensors) {
      totalBytes += t.end - t.begin;
      parameterCount += t.shape.reduce((a, b) => a * b, 1);
    }
    return { files: readers.map((r) => r.path), metadata, tensors, totalBytes, parameterCount };
  });
}

/**
 * Visit tensors of a model (file, index or folder) one at a time, in the order of `names`: each record is read,
 * handed to `fn`, and dropped before the next is read, so a model larger than memory can be hashed or converted.
 *
 * @example-skip reads a model folder (models/qwen2-tied)
 * @example
 * ```ts
 * const h = createHash('sha256');
 * await forEachSafetensor('models/qwen2-tied', ['model.norm.weight'], (r) => void h.update(new Uint8Array(r.data.buffer)));
 * ```
 */
export async function forEachSafetensor(path: string, names: readonly string[], fn: (record: TensorRecord) => void | Promise<void>): Promise<void> {
  const where = await locateWeights(path);
  await withReaders(where, async (readers) => {
    const owner = new Map<string, SafetensorsReader>();
    for (const r of readers) for (const t of r.header.tensors) owner.set(t.name, r);
    for (const name of names) {
      const reader = owner.get(name);
      if (!reader) throw new SafetensorsError(path, `no tensor named "${name}"`);
      await fn(await reader.read(name));
    }
  });
}

