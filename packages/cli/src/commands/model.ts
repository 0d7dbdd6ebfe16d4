/** Shared by the model commands: backend choice, loading a model folder, id checks. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BACKEND_NAMES, initBackend, isBackendAvailable, setBackend, type BackendName } from '@llm-modules/tensor';
import { loadPretrained, type Pretrained } from '@llm-modules/transformer';
import { CliError } from '../io.js';

/** Activate `--backend NAME` (checked), or the default (LLM_MODULES_BACKEND, else the fastest that works). */
export async function useBackend(name: string | undefined): Promise<BackendName> {
  if (name === undefined) return initBackend();
  if (!BACKEND_NAMES.includes(name as BackendName)) throw new CliError(`--backend: unknown backend "${name}" (one of ${BACKEND_NAMES.join(', ')})`);
  if (!(await isBackendAvailable(name as BackendName))) throw new CliError(`--backend: backend "${name}" does not work on this machine`);
  setBackend(name as BackendName);
  return name as BackendName;
}

/** Load a Hugging Face model folder (errors are one-line LoaderErrors naming the file). */
export async function loadModel(dir: string): Promise<Pretrained> {
  return loadPretrained(dir);
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
