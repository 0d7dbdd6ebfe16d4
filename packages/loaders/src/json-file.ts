/** Reading a JSON file with errors that name the file: the one helper config, bridge and train-config readers share. */
import { readFile } from 'node:fs/promises';
import { describeFsError } from './errors.js';

/**
 * The parsed contents of a JSON file. A file that cannot be read or is not valid JSON throws `fail(file, problem)`
 * (each caller passes its own error class), e.g. `config.json: cannot read: no such file or folder`.
 * @example-skip reads a file (runs/a/config.json)
 * @example `const json = await readJsonFile('runs/a/config.json', (file, problem) => new ConfigError(file, problem))`
 */
export async function readJsonFile(file: string, fail: (file: string, problem: string, options?: { cause?: unknown }) => Error): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw fail(file, `cannot read: ${describeFsError(err)}`, { cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw fail(file, `not valid JSON (${(err as Error).message})`, { cause: err });
  }
}
