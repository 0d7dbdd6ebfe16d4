/** The README's snippets run as written (the first one starts the README). */
import { expect, it } from 'vitest';
import { readmeSnippets, runSnippet } from '../../../test-utils/readme.js';
import { golden } from './golden.js';

const pkg = new URL('../', import.meta.url);
const { readme, snippets } = readmeSnippets(pkg);

it('the README starts with a code snippet', () => {
  expect(readme.split('\n').slice(1, 4).join('\n')).toMatch(/^\s*```ts/);
});

it.each(snippets.map((s, i) => [i, s] as const))('README snippet %i runs and prints what it says', async (i, code) => {
  const lines = await runSnippet(pkg, i, code);
  expect(lines).toHaveLength(1);
  if (i === 0) expect(lines[0]).toEqual([[1, 6, 96], golden('gptneo').generation.tokens]);
  if (i === 1) {
    const [value, shape] = lines[0] as [Float32Array, number[]];
    expect(value[0]).toBeGreaterThan(3);
    expect(shape).toEqual([48, 48]);
  }
});
