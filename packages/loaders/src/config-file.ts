/** `loadConfig`: config.json by path (Node entry). */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from './errors.js';
import { readJsonFile } from './json-file.js';
import { parseConfig, type ModelConfig } from './config.js';

/**
 * Load `config.json` from a model folder (or a path to the file itself).
 *
 * @example
 * ```ts
 * import { mkdtempSync, writeFileSync } from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * const dir = mkdtempSync(join(tmpdir(), 'model-'));
 * writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt_neo', vocab_size: 96, hidden_size: 32, num_layers: 4, num_heads: 4, max_position_embeddings: 64, attention_types: [[['global', 'local'], 2]] }));
 * const cfg = await loadConfig(dir);
 * if (cfg.model_type === 'gpt_neo') console.log(cfg.attention_layers); // ['global', 'local', 'global', 'local']
 * ```
 */
export async function loadConfig(path: string): Promise<ModelConfig> {
  let file = path;
  try {
    if ((await stat(path)).isDirectory()) file = join(path, 'config.json');
  } catch {
    // fall through: readJsonFile reports it
  }
  return parseConfig(await readJsonFile(file, (f, problem, o) => new ConfigError(f, problem, o)), file);
}
