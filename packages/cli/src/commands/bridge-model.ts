/**
 * Bridge folders (written by `train` in mode "bridge": `bridge_config.json` + `bridge.safetensors`) as models for
 * `eval` and `generate`. The folder records its teacher relative to itself (so folder and teacher move together),
 * the teacher's absolute path at training time (so the folder alone can move), and a content fingerprint of the
 * teacher: whichever teacher is found, or named with `--teacher DIR`, must be the one it was trained with.
 */
import { stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { isBridgeFolder, loadBridge, readBridgeConfig, type BridgeFolderConfig, type ComposedModel } from '@llm-modules/bridge';
import { loadTokenizer, type Tokenizer } from '@llm-modules/loaders';
import type { Tensor } from '@llm-modules/tensor';
import { teacherFingerprint } from '@llm-modules/trainer';
import { loadPretrained, type Params } from '@llm-modules/transformer';
import { CliError } from '../io.js';

export { isBridgeFolder };

export interface BridgeModel {
  model: ComposedModel;
  params: Params;
  tokenizer: Tokenizer | null;
  /** what `eval`/`generate` need of a config */
  config: { model_type: string; vocab_size: number; max_position_embeddings: number; eos_token_id: number[] };
  /** `[B, T, V]` logits of right-padded ids */
  logits(ids: Tensor, attentionMask?: Tensor): Tensor;
  /** the teacher folder that was loaded */
  teacherDir: string;
}

const ids = (v: unknown): number[] => (Array.isArray(v) ? v : typeof v === 'number' ? [v] : []).filter((x): x is number => Number.isInteger(x));
const isFolder = (p: string) => stat(p).then((s) => s.isDirectory(), () => false);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);


/**
 * Where a bridge folder's teacher is: `override` (`--teacher DIR`), else the recorded path against the folder, else
 * the absolute path recorded at training time. A missing teacher is one line naming what was tried and the fix.
 * @example `await findTeacher('runs/b1', config) // '/home/me/models/teacher'`
 */
export async function findTeacher(dir: string, config: BridgeFolderConfig, override?: string): Promise<string> {
  if (override !== undefined) {
    if (!(await isFolder(override))) throw new CliError(`--teacher ${override}: no such folder`);
    return resolve(override);
  }
  const recorded = config.teacher.path;
  const tried = [recorded === null ? null : isAbsolute(recorded) ? recorded : resolve(dir, recorded), str(config.extra.teacher_absolute) ?? null].filter((p): p is string => p !== null);
  for (const p of tried) if (await isFolder(p)) return p;
  const where = tried.length ? `its teacher is not at ${[...new Set(tried)].join(' nor at ')}` : 'it names no teacher folder';
  throw new CliError(`${dir}: ${where}${recorded ? ` (recorded as "${recorded}", relative to the bridge folder)` : ''}: pass --teacher DIR with the teacher it was trained with`);
}

/**
 * Load a bridge folder with its frozen teacher (see {@link findTeacher}), checked against the recorded fingerprint.
 * @example `const b = await loadBridgeModel('runs/bridge', { teacher: 'models/qwen2' }); b.logits(ids)`
 */
export async function loadBridgeModel(dir: string, opts: { teacher?: string } = {}): Promise<BridgeModel> {
  const folderConfig = await readBridgeConfig(dir);
  const teacherDir = await findTeacher(dir, folderConfig, opts.teacher);
  const teacher = await loadPretrained(teacherDir, { tokenizer: false, keepBFloat16: true }); // frozen: BF16 stays bfloat16
  const recorded = str(folderConfig.extra.teacher_fingerprint);
  if (recorded) {
    const found = await teacherFingerprint(teacher);
    if (found !== recorded) {
      throw new CliError(`${teacherDir}: not the teacher ${dir} was trained with (its content fingerprint is ${found.slice(0, 12)}…, the bridge records ${recorded.slice(0, 12)}…): pass --teacher DIR with that teacher`);
    }
  }
  const { model, params, config } = await loadBridge(dir, { teacher });
  const at = (p: string) => (isAbsolute(p) ? p : resolve(dir, p));
  const candidates = [str(config.extra.tokenizer) && at(str(config.extra.tokenizer)!), str(config.extra.tokenizer_absolute), teacherDir].filter((p): p is string => typeof p === 'string');
  let tokenizer: Tokenizer | null = null;
  for (const c of candidates) {
    tokenizer = await loadTokenizer(c).catch(() => null);
    if (tokenizer) break;
  }
  const tc = model.teacher.model.config;
  return {
    model,
    params,
    tokenizer,
    config: { model_type: `bridge (${config.variant})`, vocab_size: model.vocabSize, max_position_embeddings: Math.min(model.student.maxPositions, tc.max_position_embeddings), eos_token_id: ids(tc.eos_token_id) },
    logits: (x, attentionMask) => model.apply(params, x, { attentionMask }).logits,
    teacherDir,
  };
}

