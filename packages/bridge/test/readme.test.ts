/** The README's runnable (```ts) snippets run as written and print what they say; the README starts with one. */
import { expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
const EXPECTED = [
  ['4.660', 0, [4, 1, 1, 1], [8, 52, 73, 8]],
  ['paper-released', 108, 63368],
];

it('the README starts with a code snippet', () => {
  expect(readme.split('\n').slice(1, 4).join('\n')).toMatch(/^\s*```ts/);
  expect(snippets).toHaveLength(EXPECTED.length);
});

it.each(snippets.map((s, i) => [i, s] as const))('README snippet %i runs and prints what it says', async (i, code) => {
  const cache = fileURLToPath(new URL('../node_modules/.readme-snippets', import.meta.url));
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'run-'));
  const file = join(dir, `snippet${i}.ts`);
  const lines: unknown[][] = [];
  const log = console.log;
  writeFileSync(file, code);
  try {
    console.log = (...args: unknown[]) => void lines.push(args);
    await import(/* @vite-ignore */ file);
  } finally {
    console.log = log;
    rmSync(dir, { recursive: true, force: true });
  }
  expect(lines).toEqual([EXPECTED[i]]);
});
