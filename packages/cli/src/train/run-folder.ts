/**
 * The guard in front of a run folder: `train` never replaces or appends to a run a user already has unless told to
 * (`--resume` continues it, `--overwrite` replaces it), and `--resume` without a checkpoint is an error rather than a
 * silent fresh start.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { CliError } from '../io.js';

/** Files whose presence makes a folder someone's run (or model) folder. */
const RUN_FILES = ['model.safetensors', 'model.safetensors.index.json', 'bridge.safetensors', 'bridge_config.json', 'checkpoint', 'metrics.jsonl'];

/**
 * The absolute output folder: `--out` (against the working folder) or the config's `output` (against the config's folder).
 * @example `outputFolder('examples/kt/teacher.train.json', 'teacher') // '/…/examples/kt/teacher'`
 */
export function outputFolder(configFile: string, output: string, out?: string): string {
  if (out !== undefined) return resolve(out);
  return isAbsolute(output) ? output : join(dirname(resolve(configFile)), output);
}

async function contents(dir: string): Promise<string[] | null> {
  const s = await stat(dir).catch(() => null);
  if (!s) return null;
  if (!s.isDirectory()) throw new CliError(`${dir}: the run's output is a file, not a folder (choose another output or --out)`);
  return readdir(dir);
}

/**
 * Check `dir` against `--resume` / `--overwrite` before anything is loaded or written; throws a one-line CliError.
 *
 * @example
 * ```ts
 * await guardRunFolder('runs/a', { resume: false, overwrite: false }); // throws when runs/a holds a model or checkpoint
 * ```
 */
export async function guardRunFolder(dir: string, { resume = false, overwrite = false }: { resume?: boolean; overwrite?: boolean }): Promise<void> {
  if (resume && overwrite) throw new CliError('--resume and --overwrite exclude each other: continue the run or replace it');
  const files = await contents(dir);
  if (resume) {
    if (!files) throw new CliError(`--resume: ${dir} does not exist, so there is no run to continue (drop --resume to start one)`);
    const ckpt = join(dir, 'checkpoint', 'checkpoint.msgpack');
    if (!(await stat(ckpt).then((s) => s.isFile(), () => false))) throw new CliError(`--resume: no checkpoint in ${dir} (${ckpt} is missing): drop --resume to start over, with --overwrite if the folder holds a run`);
    return;
  }
  const held = (files ?? []).filter((f) => RUN_FILES.includes(f));
  if (held.length && !overwrite) throw new CliError(`${dir} already holds a run or model (${held.join(', ')}): pass --resume to continue it, --overwrite to replace it, or --out DIR to train elsewhere`);
}

/**
 * Before an `--overwrite` run trains: remove the old run's checkpoint and metrics log, so the new run neither
 * resumes from nor appends to them (the model files are replaced atomically when the run ends).
 * @example `await clearRun('runs/a')`
 */
export async function clearRun(dir: string): Promise<void> {
  await rm(join(dir, 'checkpoint'), { recursive: true, force: true });
  await rm(join(dir, 'metrics.jsonl'), { force: true });
}
