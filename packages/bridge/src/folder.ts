/**
 * Bridge folders on disk (Node entry): `bridge_config.json` (variant, options, sizes, teacher and student configs) and
 * `bridge.safetensors` (every trainable parameter, named as the released `CombinedModel`). The teacher's
 * weights are never written: the config points at the teacher's folder.
 */
import { access, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { ConfigError, LoaderError, inspectSafetensors, loadSafetensorsAsTensors, readJsonFile, writeSafetensors } from '@llm-modules/loaders';
import { loadPretrained, type CausalLM } from '@llm-modules/transformer';
import type { ComposedModel } from './compose.js';
import { BRIDGE_CONFIG_FILE, BRIDGE_WEIGHTS_FILE, parseBridgeConfig, type BridgeFolderConfig } from './folder-config.js';
import { bridgeFolderContent, checkBridgeTensors, checkRegistered, composeFromConfig, type BridgeFilesOptions } from './folder-load.js';
import { listBridges } from './registry.js';
import type { Params } from './types.js';

const exists = (p: string) => access(p).then(() => true, () => false);

/**
 * Read a bridge folder's `bridge_config.json` (either layout). Errors name the file and the problem on one line.
 * @example-skip reads a bridge folder (runs/bridge-01)
 * @example `const cfg = await readBridgeConfig('runs/bridge-01'); cfg.variant // 'enhanced'`
 */
export async function readBridgeConfig(dir: string): Promise<BridgeFolderConfig> {
  const file = join(dir, BRIDGE_CONFIG_FILE);
  return parseBridgeConfig(await readJsonFile(file, (f, problem, o) => new ConfigError(f, problem, o)), file);
}

/** Whether `dir` holds a bridge folder (`bridge_config.json` and `bridge.safetensors`). @example-skip reads a folder (runs/b1) @example `await isBridgeFolder('runs/b1')` */
export async function isBridgeFolder(dir: string): Promise<boolean> {
  return (await exists(join(dir, BRIDGE_CONFIG_FILE))) && (await exists(join(dir, BRIDGE_WEIGHTS_FILE)));
}

export type SaveBridgeOptions = BridgeFilesOptions;

/**
 * Write a bridge folder: every trainable parameter (bridge, student blocks, head) to `bridge.safetensors`, and
 * `bridge_config.json`. Both files are written to temp names and renamed into place.
 *
 * @example-skip a fragment: needs a composed model and writes a folder
 * @example
 * ```ts
 * await saveBridge('runs/b1', model, params, { teacherPath: '../models/qwen2-1.5b' });
 * ```
 */
export async function saveBridge(dir: string, model: ComposedModel, params: Params, opts: SaveBridgeOptions = {}): Promise<void> {
  const { tensors, config } = bridgeFolderContent(model, params, opts, dir);
  await mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, BRIDGE_WEIGHTS_FILE), tensors, { metadata: { variant: model.bridge.name } });
  const file = join(dir, BRIDGE_CONFIG_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`);
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}

export interface LoadBridgeOptions {
  /** The frozen teacher; default: `loadPretrained` of the folder's teacher path. */
  teacher?: { model: CausalLM; params: Params };
}

/**
 * Load a bridge folder (ours or the released layout) into a composed model and its trainable parameters.
 * Names and shapes are checked against the variant before any data is read; problems are listed by name.
 *
 * @example-skip needs a teacher model and the repository's bridge fixture (the README's second snippet runs it)
 * @example
 * ```ts
 * const { model, params } = await loadBridge('packages/bridge/test/fixtures/bridge', { teacher });
 * ```
 */
export async function loadBridge(dir: string, opts: LoadBridgeOptions = {}): Promise<{ model: ComposedModel; params: Params; config: BridgeFolderConfig }> {
  const config = await readBridgeConfig(dir);
  checkRegistered(config, join(dir, BRIDGE_CONFIG_FILE));
  let teacher = opts.teacher;
  if (!teacher) {
    if (!config.teacher.path) throw new LoaderError(dir, 'the bridge config names no teacher folder: pass { teacher }');
    const path = isAbsolute(config.teacher.path) ? config.teacher.path : resolve(dir, config.teacher.path);
    teacher = await loadPretrained(path, { tokenizer: false, keepBFloat16: true }); // frozen: BF16 stays bfloat16
  }
  const model = composeFromConfig(config, teacher, { dir, configFile: join(dir, BRIDGE_CONFIG_FILE) });
  const file = join(dir, BRIDGE_WEIGHTS_FILE);
  checkBridgeTensors(model, config.variant, (await inspectSafetensors(file)).tensors, file);
  const params = await loadSafetensorsAsTensors(file);
  return { model, params, config };
}

/** What {@link describeBridgeFolder} reports (headers only). */
export interface BridgeFolderSummary {
  path: string;
  layout: BridgeFolderConfig['layout'];
  variant: string;
  /** The registered variant's description, or null when this process does not know the variant. */
  description: string | null;
  causal: boolean;
  options: Record<string, unknown>;
  dims: BridgeFolderConfig['dims'];
  teacher: { model_type: string | null; path: string | null };
  student: { model_type: string; layers: number; hidden_size: number };
  head: { vocab_size: number };
  /** Parameter counts by part, from the tensor names (bridge prefix, student prefix, head). */
  parameters: { bridge: number; student: number; head: number; other: number; total: number };
  tensors: { bridge: number; student: number; head: number; other: number; total: number };
  dtypes: Record<string, number>;
  total_bytes: number;
}

/**
 * Summarise a bridge folder from its config and the safetensors header (no tensor data is read): variant,
 * options, sizes, and parameter counts of the bridge, the student blocks and the head.
 *
 * @example
 * ```ts
 * const s = await describeBridgeFolder('packages/bridge/test/fixtures/bridge');
 * console.log(s.variant, s.parameters); // 'paper-released' { bridge: 24584, student: 35904, head: 2880, other: 0, total: 63368 }
 * ```
 */
export async function describeBridgeFolder(dir: string): Promise<BridgeFolderSummary> {
  const config = await readBridgeConfig(dir);
  const summary = await inspectSafetensors(join(dir, BRIDGE_WEIGHTS_FILE));
  const parameters = { bridge: 0, student: 0, head: 0, other: 0, total: 0 };
  const tensors = { bridge: 0, student: 0, head: 0, other: 0, total: 0 };
  const dtypes: Record<string, number> = {};
  for (const t of summary.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const part = t.name === config.names.head ? 'head' : t.name.startsWith(config.names.bridge) ? 'bridge' : t.name.startsWith(config.names.student) ? 'student' : 'other';
    parameters[part] += n;
    parameters.total += n;
    tensors[part]++;
    tensors.total++;
    dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
  }
  const known = listBridges().find((d) => d.name === config.variant);
  return {
    path: dir,
    layout: config.layout,
    variant: config.variant,
    description: known?.description ?? null,
    causal: config.causal,
    options: config.options,
    dims: config.dims,
    teacher: { model_type: config.teacher.model_type, path: config.teacher.path },
    student: { model_type: config.student.model_type, layers: config.dims.studentLayers, hidden_size: config.dims.student },
    head: { vocab_size: config.headVocabSize },
    parameters,
    tensors,
    dtypes,
    total_bytes: summary.totalBytes,
  };
}
