/**
 * The teacher-state cache: the frozen teacher runs once over the data and its last hidden states are
 * stored (float16) in chunk files with an index, so training epochs read them instead of running the
 * teacher. The index carries a fingerprint of the teacher, the data and the settings; a cache made for
 * anything else is refused.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { decode, encode } from '@msgpack/msgpack';
import { writeFileAtomic } from '@llm-modules/loaders';
import { decodeFloat16, encodeFloat16, tensor, type Tensor } from '@llm-modules/tensor';
import type { Example } from './data/format.js';
import type { Batch } from './data/batches.js';

const FORMAT = 'llm-modules-teacher-cache';
const INDEX = 'index.msgpack';

export class TeacherCacheError extends Error {
  override name = 'TeacherCacheError';
  constructor(readonly dir: string, problem: string) {
    super(`${dir}: ${problem}`);
  }
}

/** What a cache was made from. Two caches are interchangeable only when all three agree. */
export interface CacheFingerprint {
  teacher: string;
  data: string;
  settings: string;
}

const sha = (x: string | Uint8Array): string => createHash('sha256').update(x).digest('hex').slice(0, 32);

/**
 * A teacher's weights read one at a time (e.g. `forEachSafetensor` over its folder), for fingerprinting a teacher
 * that is not in memory: `visit(names, fn)` calls `fn` for each name, in that order.
 */
export interface TeacherWeightStream {
  names: readonly string[];
  visit(names: readonly string[], fn: (name: string, shape: readonly number[], data: ArrayBufferView) => void): Promise<void>;
}

/**
 * Fingerprint of a teacher (its config and a digest of its parameters), the token ids of the data, and
 * the cache settings. The parameters are loaded tensors (`teacherParams`) or a stream over its files
 * (`teacherWeights`); both give the same fingerprint.
 * @example-skip a fragment: `config` comes from the caller's code
 * @example `const fp = await cacheFingerprint({ teacherConfig: config, teacherParams: params, examples, settings: { layer: -1 } })`
 */
export async function cacheFingerprint(opts: { teacherConfig: unknown; teacherParams?: Record<string, Tensor>; teacherWeights?: TeacherWeightStream; examples: readonly Example[]; settings?: unknown }): Promise<CacheFingerprint> {
  const { teacherConfig, teacherParams, teacherWeights, examples, settings = {} } = opts;
  const h = createHash('sha256').update(JSON.stringify(teacherConfig));
  const add = (name: string, shape: readonly number[], data: ArrayBufferView) => h.update(name).update(JSON.stringify(shape)).update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  if (teacherWeights) await teacherWeights.visit([...teacherWeights.names].sort(), add);
  else if (teacherParams) for (const name of Object.keys(teacherParams).sort()) add(name, teacherParams[name].shape, await teacherParams[name].data());
  else throw new Error('cacheFingerprint needs teacherParams or teacherWeights');
  const d = createHash('sha256');
  for (const ex of examples) d.update(Int32Array.from(ex.inputIds)).update('|');
  return { teacher: h.digest('hex').slice(0, 32), data: d.digest('hex').slice(0, 32), settings: sha(JSON.stringify(settings)) };
}

interface Index {
  format: string;
  version: number;
  fingerprint: CacheFingerprint;
  hiddenSize: number;
  chunks: string[];
  /** per example: [chunk, position in chunk, length] */
  entries: [number, number, number][];
}

export interface WriteCacheOptions {
  examples: readonly Example[];
  fingerprint: CacheFingerprint;
  hiddenSize: number;
  /** teacher states of a batch of examples: `[B, T, D]` for right-padded ids (see `collate`) */
  run: (batch: Batch) => Tensor;
  collate: (examples: Example[]) => Batch;
  batchSize?: number;
  /** examples per chunk file */
  chunkSize?: number;
  onProgress?: (done: number, total: number, tokens: number) => void;
}

/**
 * The teacher's batches, as `[from, to)` example ranges: groups of `batchSize` that never cross a chunk of
 * `chunkSize`. Every writer (one process, or the shards of many) runs exactly these batches, so a row's states are
 * computed with the same neighbours and padding everywhere, and sharded caches come out byte-identical.
 * @example `cacheBatchPlan(10, 3, 4) // [[0,3],[3,4],[4,7],[7,8],[8,10]]`
 */
export function cacheBatchPlan(examples: number, batchSize = 8, chunkSize = 256): [number, number][] {
  const plan: [number, number][] = [];
  for (let c0 = 0; c0 < examples; c0 += chunkSize) {
    const c1 = Math.min(c0 + chunkSize, examples);
    for (let b0 = c0; b0 < c1; b0 += batchSize) plan.push([b0, Math.min(b0 + batchSize, c1)]);
  }
  return plan;
}

/** What `teacherStatesOf` needs: the examples, how to batch and run them. */
export interface ComputeStatesOptions {
  examples: readonly Example[];
  hiddenSize: number;
  /** teacher states of a batch of examples: `[B, T, D]` for right-padded ids (see `collate`) */
  run: (batch: Batch) => Tensor;
  collate: (examples: Example[]) => Batch;
}

/**
 * Run the teacher over the batches `plan` (from `cacheBatchPlan`), yielding each example's float16 states
 * (`length × hiddenSize`) in order, one batch at a time.
 * @example-skip a fragment of a loop, not a whole statement
 * @example `for await (const { states } of teacherStatesOf(cacheBatchPlan(n).slice(0, 2), opts, dir)) …`
 */
export async function* teacherStatesOf(plan: readonly [number, number][], opts: ComputeStatesOptions, dir: string): AsyncGenerator<{ batch: number; states: Uint16Array[] }> {
  const { examples, hiddenSize, run, collate } = opts;
  for (let k = 0; k < plan.length; k++) {
    const group = examples.slice(plan[k][0], plan[k][1]);
    const out = run(collate(group)); // [B, T, D]
    const [, T, D] = out.shape;
    if (D !== hiddenSize) throw new TeacherCacheError(dir, `teacher states have width ${D}, expected ${hiddenSize}`);
    const data = (await out.data()) as Float32Array;
    out.dispose();
    yield { batch: k, states: group.map((ex, r) => encodeFloat16(data.subarray(r * T * D, r * T * D + ex.inputIds.length * D))) };
  }
}

/**
 * Write a cache folder from every example's float16 states, in cache order (chunk files of `chunkSize`, then
 * the index last, so a crash leaves no cache that looks complete). `states` may be raw bytes (as read back from
 * a shard): the files are the same either way.
 * @example-skip a fragment: `dir` comes from the caller's code
 * @example `await assembleTeacherCache(dir, { fingerprint, hiddenSize: 64, states: readShards() })`
 */
export async function assembleTeacherCache(dir: string, opts: { fingerprint: CacheFingerprint; hiddenSize: number; chunkSize?: number; states: AsyncIterable<Uint16Array | Uint8Array> }): Promise<void> {
  const { fingerprint, hiddenSize, chunkSize = 256 } = opts;
  await mkdir(dir, { recursive: true });
  await rm(join(dir, INDEX), { force: true });
  for (const f of await readdir(dir)) if (f.startsWith('chunk-')) await rm(join(dir, f));
  const entries: [number, number, number][] = [];
  const chunks: string[] = [];
  let pending: (Uint16Array | Uint8Array)[] = [];
  const flush = async () => {
    const name = `chunk-${String(chunks.length).padStart(5, '0')}.msgpack`;
    const bytes = encode({ states: pending });
    await writeFileAtomic(join(dir, name), async (fh) => void (await fh.write(bytes)));
    chunks.push(name);
    pending = [];
  };
  for await (const s of opts.states) {
    pending.push(s);
    entries.push([chunks.length, pending.length - 1, s.byteLength / 2 / hiddenSize]);
    if (pending.length === chunkSize) await flush();
  }
  if (pending.length) await flush();
  const index: Index = { format: FORMAT, version: 1, fingerprint, hiddenSize, chunks, entries };
  const bytes = encode(index);
  await writeFileAtomic(join(dir, INDEX), async (fh) => void (await fh.write(bytes)));
}

/**
 * Run the teacher over `examples` and write the cache into `dir` (replacing what is there; the index is
 * written last, so a crash leaves no cache that looks complete).
 */
export async function writeTeacherCache(dir: string, opts: WriteCacheOptions): Promise<void> {
  const { examples, fingerprint, hiddenSize, batchSize = 8, chunkSize = 256, onProgress } = opts;
  const plan = cacheBatchPlan(examples.length, batchSize, chunkSize);
  async function* all(): AsyncGenerator<Uint16Array> {
    let tokens = 0;
    for await (const { batch, states } of teacherStatesOf(plan, opts, dir)) {
      for (const s of states) (tokens += s.length / hiddenSize), yield s;
      onProgress?.(plan[batch][1], examples.length, tokens);
    }
  }
  await assembleTeacherCache(dir, { fingerprint, hiddenSize, chunkSize, states: all() });
}

/** A cache opened for reading. */
export interface TeacherCache {
  readonly size: number;
  readonly hiddenSize: number;
  /** float32 `[length × hiddenSize]` states of example `i` */
  get(i: number): Promise<Float32Array>;
  /** `[B, T, D]` states for a batch built by `collate`/`bucketedBatches` (zeros at pads) */
  statesFor(batch: Batch): Promise<Tensor>;
}

/**
 * Open a cache and check that it was made for `expected` (teacher, data and settings).
 * @example-skip a fragment: `fp` comes from the caller's code
 * @example `const cache = await openTeacherCache('runs/cache', fp)`
 */
export async function openTeacherCache(dir: string, expected: CacheFingerprint): Promise<TeacherCache> {
  let index: Index;
  try {
    index = decode(await readFile(join(dir, INDEX))) as Index;
  } catch (err) {
    throw new TeacherCacheError(dir, `no readable teacher cache index (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (index?.format !== FORMAT) throw new TeacherCacheError(dir, 'not a teacher cache');
  for (const key of ['teacher', 'data', 'settings'] as const) {
    if (index.fingerprint[key] !== expected[key]) throw new TeacherCacheError(dir, `the cache was made for a different ${key} (fingerprint ${index.fingerprint[key]} ≠ ${expected[key]}); rebuild it with cache-teacher`);
  }
  let loaded: { n: number; states: Uint16Array[] } | undefined;
  const chunk = async (n: number): Promise<Uint16Array[]> => {
    if (loaded?.n !== n) loaded = { n, states: (decode(await readFile(join(dir, index.chunks[n]))) as { states: Uint16Array[] }).states };
    return loaded.states;
  };
  const get = async (i: number): Promise<Float32Array> => {
    const entry = index.entries[i];
    if (!entry) throw new TeacherCacheError(dir, `no example ${i} (the cache holds ${index.entries.length})`);
    const [c, k] = entry;
    // msgpack gives the bytes back as a Uint8Array view that may sit at an odd offset: copy when so.
    const raw = (await chunk(c))[k] as unknown as Uint8Array;
    const bytes = raw.byteOffset % 2 ? new Uint8Array(raw) : raw; // (Buffer#slice would not copy)
    return decodeFloat16(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2));
  };
  return {
    size: index.entries.length,
    hiddenSize: index.hiddenSize,
    get,
    async statesFor(batch) {
      if (!batch.indices) throw new TeacherCacheError(dir, 'the batch does not say which examples it holds (build it with collate(…, indices))');
      const [B, T] = batch.inputIds.shape;
      const D = index.hiddenSize;
      const out = new Float32Array(B * T * D);
      for (let r = 0; r < B; r++) out.set(await get(batch.indices[r]), r * T * D);
      return tensor(out, [B, T, D]);
    },
  };
}

/**
 * Attach cached teacher states to each batch (`batch.teacherStates`).
 * @example `batches: (epoch) => withTeacherStates(bucketedBatches(train, opts), cache)`
 */
export async function* withTeacherStates(batches: Iterable<Batch>, cache: TeacherCache): AsyncGenerator<Batch> {
  for (const b of batches) yield { ...b, teacherStates: await cache.statesFor(b) };
}
