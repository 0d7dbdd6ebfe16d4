/** readJsonFile: the one "read a JSON file, name the file in the error" helper (config.json, bridge_config.json). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, readJsonFile } from '../src/node.js';

const fail = (file: string, problem: string) => new ConfigError(file, problem);

describe('readJsonFile', () => {
  it('parses a file; a missing file, a folder and broken JSON are one line naming the file, in the caller’s error class', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'json-file-'));
    writeFileSync(join(dir, 'ok.json'), '{"a": [1, 2]}');
    writeFileSync(join(dir, 'bad.json'), '{"a": ');
    expect(await readJsonFile(join(dir, 'ok.json'), fail)).toEqual({ a: [1, 2] });
    await expect(readJsonFile(join(dir, 'none.json'), fail)).rejects.toThrow(new ConfigError(join(dir, 'none.json'), 'cannot read: no such file or folder'));
    await expect(readJsonFile(dir, fail)).rejects.toThrow(new ConfigError(dir, 'cannot read: is a folder, expected a file'));
    const err = await readJsonFile(join(dir, 'bad.json'), fail).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/^.*bad\.json: not valid JSON \(.+\)$/);
  });
});
