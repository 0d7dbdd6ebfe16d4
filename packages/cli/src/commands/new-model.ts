/** `llm-modules new-model`: a randomly initialised Hugging Face model folder, written one tensor at a time. */
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError, INDEX_FILE, parseConfig, type ModelConfig } from '@llm-modules/loaders';
import { parameterInit } from '@llm-modules/transformer';
import { CliError, humanBytes, humanCount, thousands, type CliIO } from '../io.js';
import { NormalStream } from '../new-model/normal.js';
import { STORE_BYTES, parseSize, planShards, shardFileName, shardIndexJson, writeSafetensorsStream, type StoreDType, type StreamTensor } from '../new-model/shards.js';

export interface NewModelOptions {
  /** A Hugging Face `config.json` (or the folder holding it). */
  config: string;
  /** The folder to create (must not exist, or be empty). */
  out: string;
  /** `bf16`, `f16` or `f32`; default: the config's `torch_dtype`, else f32. */
  dtype?: string;
  /** Random seed, an integer ≥ 0 (default 0). */
  seed?: string | number;
  /** Folder whose tokenizer files are copied in. */
  tokenizer?: string;
  /** Largest shard, Hugging Face style (`5GB` default, `2GiB`, `500MB`, bytes). */
  shardSize?: string;
  json?: boolean;
  /** Stops the run (the CLI wires Ctrl-C to it); nothing is left behind. */
  signal?: AbortSignal;
}

export interface NewModelSummary {
  out: string;
  model_type: string;
  architectures: string[];
  dtype: StoreDType;
  seed: number;
  tensors: number;
  parameters: number;
  /** Bytes of tensor data (the index's `total_size`). */
  tensor_bytes: number;
  /** Bytes of every file written. */
  bytes: number;
  files: string[];
  seconds: number;
}

/** Tokenizer (and generation) files copied from `--tokenizer` when present. */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt', 'special_tokens_map.json', 'added_tokens.json', 'generation_config.json'];
/** The default `--shard-size`: Hugging Face's `save_pretrained` default `max_shard_size="5GB"`. */
export const DEFAULT_SHARD_SIZE = '5GB';
const DTYPES: Record<string, StoreDType> = { bf16: 'BF16', bfloat16: 'BF16', f16: 'F16', float16: 'F16', fp16: 'F16', f32: 'F32', float32: 'F32', fp32: 'F32' };
const TORCH_DTYPE: Record<StoreDType, string> = { BF16: 'bfloat16', F16: 'float16', F32: 'float32' };

const statOrNull = (p: string) => stat(p).catch(() => null);

async function readConfig(path: string): Promise<{ file: string; raw: Record<string, unknown>; config: ModelConfig }> {
  const file = (await statOrNull(path))?.isDirectory() ? join(path, 'config.json') : path;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, `cannot read: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, `not valid JSON (${(err as Error).message})`);
  }
  const config = parseConfig(raw, file);
  return { file, raw: raw as Record<string, unknown>, config };
}

function parseOptions(opts: NewModelOptions, config: ModelConfig): { dtype: StoreDType; seed: number; maxShard: number } {
  const dtypeName = opts.dtype ?? (config.torch_dtype && DTYPES[config.torch_dtype] ? config.torch_dtype : 'f32');
  const dtype = DTYPES[dtypeName.toLowerCase()];
  if (!dtype) throw new CliError(`--dtype must be bf16, f16 or f32, got "${opts.dtype}"`);
  const seed = Number(opts.seed ?? 0);
  if (!Number.isSafeInteger(seed) || seed < 0 || String(opts.seed ?? 0).trim() === '') throw new CliError(`--seed must be an integer ≥ 0, got "${opts.seed}"`);
  const maxShard = parseSize(opts.shardSize ?? DEFAULT_SHARD_SIZE);
  if (maxShard === null) throw new CliError(`--shard-size must be a size like 5GB, 500MB, 2GiB or a byte count, got "${opts.shardSize}"`);
  return { dtype, seed, maxShard };
}

async function checkOut(out: string): Promise<void> {
  const st = await statOrNull(out);
  if (!st) return;
  if (!st.isDirectory()) throw new CliError(`${out}: exists and is not a folder`);
  if ((await readdir(out)).length > 0) throw new CliError(`${out}: folder exists and is not empty (new-model writes a new folder; pick another --out or remove it)`);
}

async function tokenizerFiles(dir: string): Promise<string[]> {
  if (!(await statOrNull(dir))?.isDirectory()) throw new CliError(`${dir}: --tokenizer is not a folder`);
  const present = (await readdir(dir)).filter((f) => TOKENIZER_FILES.includes(f));
  if (!present.includes('tokenizer.json') && !present.includes('vocab.json')) throw new CliError(`${dir}: no tokenizer.json or vocab.json + merges.txt in the --tokenizer folder`);
  return present;
}

/** The tensors to write, each with its own seeded stream (HF `_init_weights`: normal, zeros or ones). */
function streamTensors(config: ModelConfig, seed: number): StreamTensor[] {
  return parameterInit(config).map((p) => {
    if (p.init !== 'normal') {
      const v = p.init === 'ones' ? 1 : 0;
      return { name: p.name, shape: p.shape, fill: (out) => out.fill(v) };
    }
    const rng = new NormalStream(seed, p.name);
    const row = p.zeroRow === undefined ? null : [p.zeroRow * p.shape[1], (p.zeroRow + 1) * p.shape[1]];
    return {
      name: p.name,
      shape: p.shape,
      fill: (out, start) => {
        rng.fill(out, p.std);
        if (row && row[0] < start + out.length && row[1] > start) out.fill(0, Math.max(0, row[0] - start), Math.min(out.length, row[1] - start));
      },
    };
  });
}

/**
 * `llm-modules new-model --config FILE --out DIR`: write a randomly initialised Hugging Face model folder —
 * `config.json`, `model.safetensors` (or HF-style shards + `model.safetensors.index.json` past `--shard-size`),
 * tokenizer files from `--tokenizer` — with exactly the tensor names and shapes `loadPretrained` expects.
 * Tensors are generated and written one chunk at a time (memory stays small at any size) into a temp folder that
 * is renamed to `--out` only when complete.
 *
 * @example-skip writes a 500 MB model folder (new-model.test.ts runs small ones)
 * @example
 * ```ts
 * const summary = await newModelCommand({ config: 'examples/qwen2-gptneo/configs/gpt-neo-125m/config.json',
 *   out: '/tmp/gpt-neo-125m', dtype: 'f32', seed: 1 }, processIO);
 * summary.parameters; // 125198592
 * ```
 */
export async function newModelCommand(opts: NewModelOptions, io: CliIO): Promise<NewModelSummary> {
  const t0 = performance.now();
  const { file: configFile, raw, config } = await readConfig(opts.config);
  const { dtype, seed, maxShard } = parseOptions(opts, config);
  const out = resolve(opts.out);
  await checkOut(out);
  const tokFiles = opts.tokenizer ? await tokenizerFiles(opts.tokenizer) : [];
  const genConfig = join(dirname(configFile), 'generation_config.json');
  const hasGenConfig = (await statOrNull(genConfig))?.isFile() ?? false;

  const tensors = streamTensors(config, seed);
  const bytesOf = (t: StreamTensor) => t.shape.reduce((a, b) => a * b, 1) * STORE_BYTES[dtype];
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const shards = planShards(tensors.map((t) => ({ name: t.name, bytes: bytesOf(t) })), maxShard);
  const parameters = tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
  const tensorBytes = tensors.reduce((n, t) => n + bytesOf(t), 0);
  const progress = (s: string) => {
    if (!opts.json) io.stderr(s);
  };
  progress(`new-model: ${config.model_type} (${config.architectures.join(', ') || 'no architectures'}), ${tensors.length} tensors, ${thousands(parameters)} parameters (${humanCount(parameters)}), ${dtype}, seed ${seed}, ${shards.length} file(s) → ${out}\n`);

  await mkdir(dirname(out), { recursive: true });
  const tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  const files: string[] = [];
  let bytes = 0;
  try {
    const text = `${JSON.stringify({ ...raw, torch_dtype: TORCH_DTYPE[dtype] }, null, 2)}\n`;
    await writeFile(join(tmp, 'config.json'), text);
    files.push('config.json');
    bytes += Buffer.byteLength(text);
    if (hasGenConfig) {
      await copyFile(genConfig, join(tmp, 'generation_config.json'));
      await chmod(join(tmp, 'generation_config.json'), 0o644);
      files.push('generation_config.json');
    }
    for (const f of tokFiles) {
      if (files.includes(f)) continue;
      await copyFile(join(opts.tokenizer!, f), join(tmp, f));
      await chmod(join(tmp, f), 0o644); // copies of read-only sources stay writable
      files.push(f);
    }
    for (const f of files.slice(1)) bytes += (await stat(join(tmp, f))).size;

    let done = 0;
    let written = 0;
    let last = -Infinity;
    let lastFile = '';
    const weightMap: Record<string, string> = {};
    for (let s = 0; s < shards.length; s++) {
      const name = shardFileName(s, shards.length);
      for (const t of shards[s]) weightMap[t] = name;
      bytes += await writeSafetensorsStream(join(tmp, name), shards[s].map((n) => byName.get(n)!), dtype, {
        signal: opts.signal,
        onTensor: (tensorName, b) => {
          done++;
          written += b;
          const now = performance.now();
          if (now - last < 1000 && done !== tensors.length && name === lastFile) return; // a line a second, per file, and at the end
          [last, lastFile] = [now, name];
          const pct = ((100 * written) / tensorBytes).toFixed(0);
          progress(`[${done}/${tensors.length}] ${name} ${tensorName}  ${humanBytes(written)} / ${humanBytes(tensorBytes)} (${pct}%)  ${((now - t0) / 1000).toFixed(1)} s\n`);
        },
      });
      files.push(name);
    }
    if (shards.length > 1) {
      const index = shardIndexJson(tensorBytes, weightMap);
      await writeFile(join(tmp, INDEX_FILE), index);
      files.push(INDEX_FILE);
      bytes += Buffer.byteLength(index);
    }
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (await statOrNull(out)) {
      await checkOut(out);
      await rmdir(out);
    }
    await rename(tmp, out);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  const summary: NewModelSummary = {
    out,
    model_type: config.model_type,
    architectures: config.architectures,
    dtype,
    seed,
    tensors: tensors.length,
    parameters,
    tensor_bytes: tensorBytes,
    bytes,
    files,
    seconds: Math.round((performance.now() - t0) / 10) / 100,
  };
  if (opts.json) io.stdout(`${JSON.stringify(summary)}\n`);
  else {
    io.stdout(
      `wrote ${out}: ${thousands(parameters)} parameters (${humanCount(parameters)}) in ${tensors.length} tensors, ${dtype}, ` +
        `${thousands(bytes)} bytes (${humanBytes(bytes)}) in ${files.length} files (${files.join(', ')}), ${summary.seconds} s\n`,
    );
  }
  return summary;
}
