/** Shared by the model commands: backend choice, loading a model folder, id checks. */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BACKEND_NAMES, TensorError, add, initBackend, isBackendAvailable, setBackend, tensor, withBackend, type BackendName } from '@llm-modules/tensor';
import { loadPretrained, type Pretrained } from '@llm-modules/transformer';
import { CliError } from '../io.js';

/** Activate `--backend NAME` (checked), or the default (LLM_MODULES_BACKEND, else the fastest that works). */
export async function useBackend(name: string | undefined): Promise<BackendName> {
  if (name === undefined) return initBackend();
  if (!BACKEND_NAMES.includes(name as BackendName)) throw new CliError(`--backend: unknown backend "${name}" (one of ${BACKEND_NAMES.join(', ')})`);
  if (!(await isBackendAvailable(name as BackendName))) throw new CliError(`--backend: backend "${name}" does not work on this machine${await why(name)}`);
  setBackend(name as BackendName);
  return name as BackendName;
}

/**
 * `LLM_MODULES_BACKEND` names a backend that exists and works here (webgl/webgpu are browser backends): a wrong value
 * is one line naming the variable, not a failure deep inside the first kernel.
 * @example `await checkBackendEnv() // throws with LLM_MODULES_BACKEND=webgl under Node`
 */
export async function checkBackendEnv(env = process.env.LLM_MODULES_BACKEND): Promise<void> {
  if (env) await checkBackendWorks(env, `LLM_MODULES_BACKEND=${env}`, 'unset it');
}

/**
 * A backend named by the user (`where` says where: the variable, a config field) exists and works here.
 * @example `await checkBackendWorks('webgl', 'train.json: training.backend "webgl"', 'remove it') // throws under Node`
 */
export async function checkBackendWorks(name: string, where: string, fix: string): Promise<void> {
  if (!BACKEND_NAMES.includes(name as BackendName)) throw new CliError(`${where}: unknown backend (one of ${BACKEND_NAMES.join(', ')}); ${fix} to use the fastest that works`);
  if (!(await isBackendAvailable(name as BackendName))) throw new CliError(`${where}: this backend does not work on this machine${await why(name)}; ${fix} to use the fastest that works`);
}

/**
 * Why a backend does not work here, in parentheses: webgl needs a browser; headlessgl and webgpu say
 * which optional piece is missing (their one-line error from evaluating one value there).
 */
async function why(name: string): Promise<string> {
  if (name === 'webgl' || name === 'webgl2') return ' (it needs a browser)';
  const err = await withBackend(name as BackendName, () => add(tensor([1]), 1).data()).then(
    () => undefined,
    (e: unknown) => e,
  );
  return err instanceof TensorError ? ` (${err.message.replace(/^evaluate: /, '')})` : '';
}

/**
 * A model path that is a file (a config.json, a .safetensors) is a user's slip, said as such; a missing path is left
 * to the loaders' own message.
 * @example `await requireFolder('runs/a/config.json', '--model') // throws: …config.json: not a model folder (a file) …`
 */
export async function requireFolder(dir: string, flag: string): Promise<void> {
  const s = await stat(dir).catch(() => null);
  if (s && !s.isDirectory()) throw new CliError(`${dir}: not a model folder (a file): ${flag} takes the folder that holds config.json and the weights, or a bridge folder written by train`);
}

/**
 * Load a Hugging Face model folder for inference (errors are one-line LoaderErrors naming the file): BF16 weight
 * matrices stay bfloat16 in memory (`keepBFloat16`).
 */
export async function loadModel(dir: string): Promise<Pretrained> {
  await requireFolder(dir, '--model');
  return loadPretrained(dir, { keepBFloat16: true });
}

/** The folder's `generation_config.json` as a plain object ({} when absent or unreadable as JSON). */
export async function generationConfig(dir: string): Promise<Record<string, unknown>> {
  const file = join(dir, 'generation_config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return {};
  }
  try {
    const json = JSON.parse(text) as unknown;
    if (json && typeof json === 'object' && !Array.isArray(json)) return json as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new CliError(`${file}: not a JSON object`);
}

/** Throw when a token id is outside the model's vocabulary (the embedding lookup would clamp it silently). */
export function checkIds(ids: readonly number[], vocab: number, where: string): void {
  const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
  if (bad !== undefined) throw new CliError(`${where}: token id ${bad} is outside the model's vocabulary [0, ${vocab})`);
}

/** A positive/non-negative integer option. */
export function intOption(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new CliError(`${name}: expected an integer ≥ ${min}, got "${value}"`);
  return n;
}

/** A finite number option within [min, max]. */
export function numberOption(value: string | undefined, name: string, min: number, max = Infinity): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new CliError(`${name}: expected a number in [${min}, ${max}], got "${value}"`);
  return n;
}
