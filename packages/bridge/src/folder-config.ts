/**
 * `bridge_config.json` of a bridge folder: ours (`format: "llm-modules-bridge/1"`) or the released LLM-Modules
 * layout (the fixture's: `num_cross_layers`, `gptneo_config`, …), read into one normalised shape.
 */
import { ConfigError, asFolder, type FileFolder, type FileMap } from '@llm-modules/loaders';
import { RELEASED_NAMES, type ParamNames } from './compose.js';
import type { BridgeDims } from './types.js';

export const BRIDGE_CONFIG_FILE = 'bridge_config.json';
export const BRIDGE_WEIGHTS_FILE = 'bridge.safetensors';
export const BRIDGE_FORMAT = 'llm-modules-bridge/1';

/** A bridge folder's configuration, whichever layout it was written in. */
export interface BridgeFolderConfig {
  /** `llm-modules` (written by `saveBridge`) or `released` (the released code's `bridge_config.json`). */
  layout: 'llm-modules' | 'released';
  variant: string;
  options: Record<string, unknown>;
  /** The declared causality (the released layout does not record it: its code masks padding only). */
  causal: boolean;
  dims: BridgeDims;
  names: ParamNames;
  headVocabSize: number;
  teacher: { model_type: string | null; path: string | null; config: Record<string, unknown> | null };
  student: { model_type: string; config: Record<string, unknown> };
  /** Anything else the writer recorded (training metadata, …). */
  extra: Record<string, unknown>;
}

type Json = Record<string, unknown>;
const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);

function num(file: string, json: Json, key: string): number {
  const v = json[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(file, `"${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function fromReleased(file: string, j: Json): BridgeFolderConfig {
  const student = j.gptneo_config;
  if (!isObject(student)) throw new ConfigError(file, '"gptneo_config" must be an object');
  const layers = (student.num_layers ?? student.num_hidden_layers) as number;
  return {
    layout: 'released',
    variant: 'paper-released',
    options: {
      layers: num(file, j, 'num_cross_layers'),
      heads: num(file, j, 'num_heads'),
      adapterDim: num(file, j, 'adapter_dim'),
      intermediateDim: typeof j.intermediate_dim === 'number' ? j.intermediate_dim : null,
      dropout: 0.1,
      causal: false,
    },
    causal: false,
    dims: { teacher: num(file, j, 'qwen_hidden_size'), student: num(file, j, 'gptneo_hidden_size'), studentLayers: layers },
    names: { ...RELEASED_NAMES },
    headVocabSize: num(file, j, 'new_vocab_size'),
    teacher: { model_type: 'qwen2', path: typeof j.qwen_folder === 'string' ? j.qwen_folder : null, config: null },
    student: { model_type: String(student.model_type ?? 'gpt_neo'), config: student },
    extra: {},
  };
}

function fromOurs(file: string, j: Json): BridgeFolderConfig {
  const need = (k: string) => {
    if (!isObject(j[k])) throw new ConfigError(file, `"${k}" must be an object`);
    return j[k] as Json;
  };
  if (typeof j.variant !== 'string') throw new ConfigError(file, '"variant" must be a string');
  const dims = need('dims');
  const student = need('student');
  const teacher = isObject(j.teacher) ? j.teacher : {};
  if (!isObject(student.config)) throw new ConfigError(file, '"student.config" must be an object');
  const { format: _f, variant, options, causal, dims: _d, names, head, teacher: _t, student: _s, ...extra } = j;
  return {
    layout: 'llm-modules',
    variant,
    options: isObject(options) ? options : {},
    causal: causal !== false,
    dims: { teacher: num(file, dims, 'teacher'), student: num(file, dims, 'student'), studentLayers: num(file, dims, 'studentLayers') },
    names: { ...RELEASED_NAMES, ...(isObject(names) ? (names as Partial<ParamNames>) : {}) },
    headVocabSize: num(file, isObject(head) ? head : {}, 'vocab_size'),
    teacher: {
      model_type: typeof teacher.model_type === 'string' ? teacher.model_type : null,
      path: typeof teacher.path === 'string' ? teacher.path : null,
      config: isObject(teacher.config) ? teacher.config : null,
    },
    student: { model_type: String(student.model_type ?? student.config.model_type), config: student.config },
    extra,
  };
}

/**
 * A parsed `bridge_config.json` (either layout) in the normalised shape; `file` names it in errors.
 * @example-skip needs a whole bridge config (the fixture's: packages/bridge/test/fixtures/bridge)
 * @example `const cfg = parseBridgeConfig(JSON.parse(text), 'bridge_config.json'); cfg.variant // 'enhanced'`
 */
export function parseBridgeConfig(json: unknown, file = BRIDGE_CONFIG_FILE): BridgeFolderConfig {
  if (!isObject(json)) throw new ConfigError(file, 'not a JSON object');
  if (json.format === BRIDGE_FORMAT) return fromOurs(file, json);
  if (json.format !== undefined) throw new ConfigError(file, `unknown format ${JSON.stringify(json.format)} (expected "${BRIDGE_FORMAT}")`);
  if ('num_cross_layers' in json && 'gptneo_config' in json) return fromReleased(file, json);
  throw new ConfigError(file, `neither a "${BRIDGE_FORMAT}" file nor the released LLM-Modules layout`);
}

/**
 * `bridge_config.json` of a bridge folder's files (a FileFolder or a map of name → bytes).
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * const cfg = await readBridgeConfigFrom({ 'bridge_config.json': readFileSync('packages/bridge/test/fixtures/bridge/bridge_config.json') });
 * cfg.variant; // 'paper-released'
 * ```
 */
export async function readBridgeConfigFrom(source: FileFolder | FileMap): Promise<BridgeFolderConfig> {
  const folder = asFolder(source);
  const file = folder.path(BRIDGE_CONFIG_FILE);
  const text = await folder.read(BRIDGE_CONFIG_FILE);
  if (text === undefined) throw new ConfigError(file, 'no such file');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(text));
  } catch (err) {
    throw new ConfigError(file, `not valid JSON (${(err as Error).message})`);
  }
  return parseBridgeConfig(json, file);
}
