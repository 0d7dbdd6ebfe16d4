/** `readTrainConfig`: a training config file by path (Node entry). */
import { readFile } from 'node:fs/promises';
import { TrainConfigError, checkTrainConfig, type TrainConfig } from './validate.js';

/** Read, parse and check a config file. */
export async function readTrainConfig(file: string): Promise<TrainConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, expected a .json file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (err as Error).message;
    throw new TrainConfigError(file, `cannot read the config: ${why}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TrainConfigError(file, `invalid JSON: ${(err as Error).message}`);
  }
  return checkTrainConfig(json, file);
}
