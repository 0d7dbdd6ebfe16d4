/**
 * A bridge folder's files without a file system (browser-safe): made with `bridgeFiles`, loaded with `loadBridgeFrom` (browser-safe): `bridge_config.json` + `bridge.safetensors` as
 * bytes, a FileFolder (`httpFolder(url)`) or a map of name → bytes, with the teacher passed in. The path
 * versions, `saveBridge(dir)` and `loadBridge(dir)`, are folder.ts (Node entry) and share the content and checks here.
 */
import { LoaderError, asFolder, encodeSafetensors, parseConfig, readSafetensorsBuffer, toTensors, type FileFolder, type FileMap } from '@llm-modules/loaders';
import { createModel, type CausalLM } from '@llm-modules/transformer';
import { composeModel, type ComposedModel } from './compose.js';
import { BRIDGE_CONFIG_FILE, BRIDGE_FORMAT, BRIDGE_WEIGHTS_FILE, readBridgeConfigFrom, type BridgeFolderConfig } from './folder-config.js';
import { listBridges } from './registry.js';
import type { Params } from './types.js';

/** Throws unless the config's variant is registered in this process. @internal */
export function checkRegistered(config: BridgeFolderConfig, configFile: string): void {
  if (!listBridges().some((d) => d.name === config.variant)) {
    throw new LoaderError(configFile, `bridge variant "${config.variant}" is not registered (known: ${listBridges().map((d) => d.name).join(', ')}); registerBridge() it before loading`);
  }
}

/** The composed model a bridge config describes over `teacher`; `where` names the folder in errors. @internal */
export function composeFromConfig(config: BridgeFolderConfig, teacher: { model: CausalLM; params: Params }, where: { dir: string; configFile: string }): ComposedModel {
  checkRegistered(config, where.configFile);
  if (teacher.model.config.hidden_size !== config.dims.teacher) {
    throw new LoaderError(where.dir, `the teacher's hidden_size ${teacher.model.config.hidden_size} is not the bridge's ${config.dims.teacher}`);
  }
  const student = createModel(parseConfig(config.student.config, where.configFile));
  return composeModel({
    teacher,
    bridge: { variant: config.variant, options: config.options },
    student: { model: student },
    head: { vocabSize: config.headVocabSize },
    names: config.names,
  });
}

/** Stored tensor names and shapes against the model's trainable parameters: every problem by name. @internal */
export function checkBridgeTensors(model: ComposedModel, variant: string, stored: ReadonlyArray<{ name: string; shape: readonly number[] }>, file: string): void {
  const seen = new Set(stored.map((t) => t.name));
  const missing = [...model.trainableParams.keys()].filter((n) => !seen.has(n));
  const unexpected = stored.filter((t) => !model.trainableParams.has(t.name)).map((t) => t.name);
  const misShaped = stored.filter((t) => model.trainableParams.get(t.name)?.join() !== undefined && model.trainableParams.get(t.name)!.join() !== t.shape.join()).map((t) => `${t.name} [${t.shape.join(', ')}]`);
  if (missing.length || unexpected.length || misShaped.length) {
    const part = (k: string, xs: string[]) => (xs.length ? [`${k} ${xs.length}: ${xs.slice(0, 6).join(', ')}${xs.length > 6 ? ', …' : ''}`] : []);
    throw new LoaderError(file, `does not match the "${variant}" bridge: ${[...part('missing', missing), ...part('unexpected', unexpected), ...part('mis-shaped', misShaped)].join('; ')}`);
  }
}

/**
 * Load a bridge folder's files (ours or the released layout) into a composed model over `teacher` and its
 * trainable parameters; names and shapes are checked before the tensors are built.
 *
 * @example-skip needs a teacher model and a bridge folder's files (the browser example fetches them)
 * @example `const { model, params } = await loadBridgeFrom(httpFolder('/runs/bridge/'), { teacher })`
 */
export async function loadBridgeFrom(source: FileFolder | FileMap, opts: { teacher: { model: CausalLM; params: Params } }): Promise<{ model: ComposedModel; params: Params; config: BridgeFolderConfig }> {
  const folder = asFolder(source);
  if (!opts?.teacher) throw new LoaderError(folder.label, 'loading a bridge from files needs its teacher: pass { teacher }');
  const config = await readBridgeConfigFrom(folder);
  const model = composeFromConfig(config, opts.teacher, { dir: folder.label, configFile: folder.path(BRIDGE_CONFIG_FILE) });
  const file = folder.path(BRIDGE_WEIGHTS_FILE);
  const bytes = await folder.read(BRIDGE_WEIGHTS_FILE);
  if (!bytes) throw new LoaderError(file, 'no such file');
  const records = await readSafetensorsBuffer(bytes, { label: file });
  checkBridgeTensors(model, config.variant, [...records.values()], file);
  return { model, params: toTensors(records) as Params, config };
}

export interface BridgeFilesOptions {
  /** Where the teacher's model folder is (relative paths are relative to the bridge folder). */
  teacherPath?: string | null;
  /** More fields for `bridge_config.json` (training metadata, …). */
  extra?: Record<string, unknown>;
}

/** The trainable tensors (checked against the model) and `bridge_config.json` of a bridge folder. @internal */
export function bridgeFolderContent(model: ComposedModel, params: Params, opts: BridgeFilesOptions, where: string): { tensors: Params; config: Record<string, unknown> } {
  const tensors: Params = {};
  for (const [name, shape] of model.trainableParams) {
    const t = params[name];
    if (!t) throw new LoaderError(where, `cannot save: parameter "${name}" is missing`);
    if (t.shape.join() !== shape.join()) throw new LoaderError(where, `cannot save: "${name}" is [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    tensors[name] = t;
  }
  const config = {
    format: BRIDGE_FORMAT,
    variant: model.bridge.name,
    options: model.bridgeOptions,
    causal: model.causal,
    dims: model.dims,
    names: model.names,
    head: { vocab_size: model.vocabSize },
    teacher: { model_type: model.teacher.model.config.model_type, path: opts.teacherPath ?? null, config: model.teacher.model.config },
    student: { model_type: model.student.model.config.model_type, config: model.student.model.config },
    parameters: model.parameterCounts(),
    ...opts.extra,
  };
  return { tensors, config };
}

/**
 * A bridge folder as files in memory — `bridge_config.json` and `bridge.safetensors`, byte for byte what
 * `saveBridge` (Node entry) writes — for a page to download, or to load back with `loadBridgeFrom`.
 * @example-skip needs a trained composed model (the browser example's worker has one)
 * @example `const files = await bridgeFiles(model, params); new Blob([files.get('bridge.safetensors')!])`
 */
export async function bridgeFiles(model: ComposedModel, params: Params, opts: BridgeFilesOptions = {}): Promise<Map<string, Uint8Array>> {
  const { tensors, config } = bridgeFolderContent(model, params, opts, '<bridge files>');
  return new Map([
    [BRIDGE_CONFIG_FILE, new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`)],
    [BRIDGE_WEIGHTS_FILE, await encodeSafetensors(tensors, { metadata: { variant: model.bridge.name } }, BRIDGE_WEIGHTS_FILE)],
  ]);
}

