/** The README's snippets run as written (the first one starts the README). */
import { expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { golden } from './golden.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

it('the README starts with a code snippet', () => {
  expect(readme.split('\n').slice(1, 4).join('\n')).toMatch(/^\s*```ts/);
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
  expect(lines).toHaveLength(1);
  if (i === 0) expect(lines[0]).toEqual([[1, 6, 96], golden('gptneo').generation.tokens]);
  if (i === 1) {
    const [value, shape] = lines[0] as [Float32Array, number[]];
    expect(value[0]).toBeGreaterThan(3);
    expect(shape).toEqual([48, 48]);
  }
});
