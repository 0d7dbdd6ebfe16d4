/**
 * The browser-safe loaders of a model folder's files: config.json, safetensors weights (one file or an
 * index and its shards) and, in tokenizer/, the tokenizer. They read a FileFolder, so the same code serves
 * bytes in memory, fetched URLs and (Node entry, `localFolder`) a folder on disk.
 */
import { ConfigError, SafetensorsError } from '../errors.js';
import { parseConfig, type ModelConfig } from '../config.js';
import type { TensorRecord } from '../records.js';
import { INDEX_FILE, SINGLE_FILE } from '../safetensors/format.js';
import { openSafetensorsBuffer, readAll, type ReadOptions } from '../safetensors/read.js';
import { asFolder, readJson, type FileFolder, type FileMap } from './folder.js';

/**
 * Parse `config.json` of a folder (or a map of files).
 * @example
 * ```ts
 * const cfg = await loadConfigFrom({ 'config.json': JSON.stringify({ model_type: 'gpt_neo', vocab_size: 96, hidden_size: 32,
 *   num_layers: 2, num_heads: 4, max_position_embeddings: 64, attention_types: [[['global', 'local'], 1]] }) });
 * cfg.model_type; // 'gpt_neo'
 * ```
 */
export async function loadConfigFrom(source: FileFolder | FileMap, name = 'config.json'): Promise<ModelConfig> {
  const folder = asFolder(source);
  const json = await readJson(folder, name, (f, p) => new ConfigError(f, p));
  if (json === undefined) throw new ConfigError(folder.path(name), 'no such file');
  return parseConfig(json, folder.path(name));
}

/** The shard file → tensor names of a sharded folder's index (names must be plain file names). */
async function shardsOf(folder: FileFolder): Promise<Map<string, string[]> | undefined> {
  const index = folder.path(INDEX_FILE);
  const json = await readJson(folder, INDEX_FILE, (f, p) => new SafetensorsError(f, p));
  if (json === undefined) return undefined;
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) throw new SafetensorsError(index, 'missing "weight_map" object');
  const shards = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard === '' || shard.startsWith('/') || shard.split('/').includes('..')) {
      throw new SafetensorsError(index, `weight_map["${name}"] is not a file name inside the folder`);
    }
    shards.set(shard, [...(shards.get(shard) ?? []), name]);
  }
  if (shards.size === 0) throw new SafetensorsError(index, 'weight_map is empty');
  return shards;
}

/**
 * Load a model's tensors from `model.safetensors`, or from `model.safetensors.index.json` and its shards,
 * of a folder or a map of files (F16/BF16 widened exactly to float32).
 * @example
 * ```ts
 * const bytes = new Uint8Array(await new Blob([
 *   new Uint8Array([56, 0, 0, 0, 0, 0, 0, 0]),
 *   '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  ',
 *   new Float32Array([1, 2]),
 * ]).arrayBuffer());
 * const tensors = await loadSafetensorsFrom({ 'model.safetensors': bytes });
 * tensors.get('w')!.data; // Float32Array [1, 2]
 * ```
 */
export async function loadSafetensorsFrom(source: FileFolder | FileMap, opts: ReadOptions = {}): Promise<Map<string, TensorRecord>> {
  const folder = asFolder(source);
  const single = await folder.read(SINGLE_FILE);
  if (single) return readAll(await openSafetensorsBuffer(single, folder.path(SINGLE_FILE)), opts);
  const shards = await shardsOf(folder);
  if (!shards) throw new SafetensorsError(folder.label, `no ${SINGLE_FILE} or ${INDEX_FILE}`);
  const wanted = opts.names === undefined || typeof opts.names === 'function' ? undefined : new Set(opts.names);
  const out = new Map<string, TensorRecord>();
  for (const [file, names] of shards) {
    const pick = names.filter((n) => !wanted || wanted.has(n));
    if (wanted && pick.length === 0) continue;
    const bytes = await folder.read(file);
    if (!bytes) throw new SafetensorsError(folder.path(INDEX_FILE), `maps tensors to ${file}, which the folder does not have`);
    const reader = await openSafetensorsBuffer(bytes, folder.path(file));
    const held = new Set(reader.header.tensors.map((t) => t.name));
    const missing = names.find((n) => !held.has(n));
    if (missing) throw new SafetensorsError(folder.path(INDEX_FILE), `maps tensor "${missing}" to ${file}, which does not hold it`);
    const names2 = typeof opts.names === 'function' ? opts.names : wanted ? pick : undefined;
    for (const [k, v] of await readAll(reader, { names: names2 })) out.set(k, v);
  }
  if (wanted) for (const n of wanted) if (!out.has(n)) throw new SafetensorsError(folder.label, `no tensor "${n}"`);
  return out;
}
