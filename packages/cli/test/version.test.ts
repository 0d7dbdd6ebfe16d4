/** `llm-modules --version` prints the version this package is published as (its package.json), and exits 0. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { run } from './run.js';

const published = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version as string;

it.each(['--version', '-V'])('llm-modules %s prints the package version', async (flag) => {
  expect(published).toMatch(/^\d+\.\d+\.\d+/);
  expect(await run(flag)).toEqual({ code: 0, out: `${published}\n`, err: '' });
});
