import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAll, writeFileAtomic } from './atomic.js';
import { CheckpointError, LoaderError, describeFsError } from './errors.js';
import { TensorRef, pack, unpack } from './msgpack.js';
import type { TensorRecord } from './records.js';
import { readSafetensors, writeSafetensors } from './safetensors/node.js';
import { toTensor } from './tensors.js';
import { flattenTree, mapLeaves, mapValues, type TensorLeaf } from './tree.js';

/** The manifest: written last, by rename, so it always names complete weight files. */
export const CHECKPOINT_FILE = 'checkpoint.msgpack';
const FORMAT = 'llm-modules-checkpoint';

/** What a checkpoint holds. Tensor leaves (Tensors or records) anywhere in `params` or `optimizerState` go to safetensors. */
export interface CheckpointState<P = unknown, O = unknown> {
  params: P;
  optimizerState?: O;
  step?: number;
  config?: unknown;
  /** Random state, e.g. a PRNG key (numbers, typed arrays and bigints round-trip exactly). */
  rng?: unknown;
}

interface Manifest {
  format: string;
  version: number;
  files: { params: string; optimizer: string | null };
  params: unknown;
  optimizerState?: unknown;
  step?: number;
  config?: unknown;
  rng?: unknown;
}

function splitTensors(tree: unknown, file: 'params' | 'optimizer', dir: string): { skeleton: unknown; tensors: Map<string, TensorLeaf> } {
  let tensors: Map<string, TensorLeaf>;
  try {
    tensors = flattenTree(tree);
  } catch (err) {
    throw new CheckpointError(dir, `${file}: ${(err as Error).message}`);
  }
  const skeleton = mapLeaves(tree, (_leaf, path) => new TensorRef(file, path === '' ? 'tensor' : path));
  return { skeleton, tensors };
}

/**
 * Save a checkpoint into `dir` (created if needed): tensors as safetensors (F32/I32, bit-exact), everything else
 * as msgpack. Crash-safe: new weight files get fresh names, and `checkpoint.msgpack`, which names them, is
 * replaced last by an atomic rename. Until then the previous checkpoint in `dir` stays complete and loadable;
 * files of older checkpoints are removed afterwards.
 *
 * @example-skip a fragment: needs a training run's params, optimizer state, config and key
 * @example
 * ```ts
 * await saveCheckpoint('runs/ckpt', { params, optimizerState, step: 100, config, rng: key });
 * const back = await loadCheckpoint('runs/ckpt'); // same tree, Tensors at the leaves
 * ```
 */
export async function saveCheckpoint(dir: string, state: CheckpointState): Promise<void> {
  if (state === null || typeof state !== 'object' || state.params === undefined) throw new CheckpointError(dir, 'saveCheckpoint needs { params, ... }');
  const p = splitTensors(state.params, 'params', dir);
  const o = state.optimizerState === undefined ? null : splitTensors(state.optimizerState, 'optimizer', dir);
  const id = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const files = { params: `params-${id}.safetensors`, optimizer: o && o.tensors.size > 0 ? `optimizer-${id}.safetensors` : null };
  const manifest: Manifest = {
    format: FORMAT,
    version: 1,
    files,
    params: p.skeleton,
    optimizerState: o?.skeleton,
    step: state.step,
    config: state.config,
    rng: state.rng,
  };
  let bytes: Uint8Array;
  try {
    bytes = pack(manifest);
  } catch (err) {
    throw new CheckpointError(dir, `cannot encode the state with msgpack (${(err as Error).message})`);
  }
  try {
    await mkdir(dir, { recursive: true });
    await writeSafetensors(join(dir, files.params), p.tensors, { metadata: { format: 'pt' } });
    if (o && files.optimizer) await writeSafetensors(join(dir, files.optimizer), o.tensors);
    await writeFileAtomic(join(dir, CHECKPOINT_FILE), (fh) => writeAll(fh, bytes));
    await syncDir(dir);
  } catch (err) {
    await Promise.all([files.params, files.optimizer].map((f) => (f ? rm(join(dir, f), { force: true }) : undefined)));
    if (err instanceof LoaderError) throw new CheckpointError(dir, `save failed, previous checkpoint kept: ${err.message}`, { cause: err });
    throw new CheckpointError(dir, `save failed, previous checkpoint kept: ${describeFsError(err)}`, { cause: err });
  }
  await removeStale(dir, files);
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    await fh.sync().finally(() => fh.close());
  } catch {
    // some platforms cannot fsync a folder; the renames are still atomic
  }
}

async function removeStale(dir: string, keep: { params: string; optimizer: string | null }): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const n of names) {
    if (/^(params|optimizer)-[0-9a-z]+-[0-9a-f]{8}\.safetensors$/.test(n) && n !== keep.params && n !== keep.optimizer) await rm(join(dir, n), { force: true });
  }
}

async function readManifest(dir: string): Promise<Manifest> {
  const file = join(dir, CHECKPOINT_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new CheckpointError(file, `cannot read: ${describeFsError(err)}`, { cause: err });
  }
  let m: Manifest;
  try {
    m = unpack(bytes) as Manifest;
  } catch (err) {
    throw new CheckpointError(file, `not valid msgpack (${(err as Error).message})`);
  }
  if (!m || m.format !== FORMAT || m.version !== 1 || typeof m.files?.params !== 'string') throw new CheckpointError(file, 'not an llm-modules checkpoint manifest (version 1)');
  for (const f of [m.files.params, m.files.optimizer]) {
    if (f !== null && !/^(params|optimizer)-[0-9a-z]+-[0-9a-f]{8}\.safetensors$/.test(f)) throw new CheckpointError(file, `invalid weights file name ${JSON.stringify(f)}`);
  }
  return m;
}

/** The weights file of a checkpoint folder (for tools such as `llm-modules inspect`). */
export async function checkpointWeightsFile(dir: string): Promise<string> {
  return join(dir, (await readManifest(dir)).files.params);
}

/**
 * A checkpoint as read back. The trees mirror what was saved, with records ({@link readCheckpoint}) or Tensors
 * ({@link loadCheckpoint}) at the tensor leaves; `P` and `O` let the caller name the tree types.
 */
export interface LoadedCheckpoint<P = unknown, O = unknown> {
  params: P;
  optimizerState?: O;
  step?: number;
  config?: unknown;
  rng?: unknown;
}

/**
 * Read a checkpoint written by {@link saveCheckpoint}, with tensor records `{ name, dtype, shape, data }` at the leaves.
 *
 * @example-skip reads a checkpoint folder (runs/ckpt)
 * @example
 * ```ts
 * const ck = await readCheckpoint('runs/ckpt');
 * console.log(ck.step, (ck.params as any).model.norm.weight.data);
 * ```
 */
export async function readCheckpoint<P = unknown, O = unknown>(dir: string): Promise<LoadedCheckpoint<P, O>> {
  const m = await readManifest(dir);
  const stores: Record<'params' | 'optimizer', Map<string, TensorRecord> | null> = {
    params: await readSafetensors(join(dir, m.files.params)),
    optimizer: m.files.optimizer ? await readSafetensors(join(dir, m.files.optimizer)) : null,
  };
  const resolve = (ref: TensorRef): TensorRecord => {
    const r = stores[ref.file]?.get(ref.name);
    if (!r) throw new CheckpointError(join(dir, CHECKPOINT_FILE), `refers to tensor "${ref.name}" missing from the ${ref.file} weights`);
    return r;
  };
  const isRef = (x: unknown): x is TensorRef => x instanceof TensorRef;
  const out: LoadedCheckpoint<P, O> = { params: mapValues(m.params, isRef, resolve) as P };
  if ('optimizerState' in m) out.optimizerState = mapValues(m.optimizerState, isRef, resolve) as O;
  if ('step' in m) out.step = m.step;
  if ('config' in m) out.config = m.config;
  if ('rng' in m) out.rng = m.rng;
  return out;
}

/**
 * Load a checkpoint written by {@link saveCheckpoint}, with Tensors (`@llm-modules/tensor`) at the leaves.
 *
 * @example-skip reads a checkpoint folder (runs/ckpt)
 * @example
 * ```ts
 * const { params, optimizerState, step, rng } = await loadCheckpoint('runs/ckpt');
 * ```
 */
export async function loadCheckpoint<P = unknown, O = unknown>(dir: string): Promise<LoadedCheckpoint<P, O>> {
  const ck = await readCheckpoint<unknown, unknown>(dir);
  const isRecord = (x: unknown): x is TensorRecord => x !== null && typeof x === 'object' && 'data' in x && 'shape' in x && 'name' in x;
  const out: LoadedCheckpoint<P, O> = { step: ck.step, config: ck.config, rng: ck.rng, params: mapValues(ck.params, isRecord, toTensor) as P };
  if ('optimizerState' in ck) out.optimizerState = mapValues(ck.optimizerState, isRecord, toTensor) as O;
  return out;
}
