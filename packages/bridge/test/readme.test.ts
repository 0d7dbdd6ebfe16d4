/** The README's runnable (```ts) snippets run as written and print what they say; the README starts with one. */
import { expect, it } from 'vitest';
import { readmeSnippets, runSnippet } from '../../../test-utils/readme.js';

const pkg = new URL('../', import.meta.url);
const { readme, snippets } = readmeSnippets(pkg);
const EXPECTED = [
  ['4.660', 0, [4, 1, 1, 1], [8, 52, 73, 8]],
  ['paper-released', 108, 63368],
];

it('the README starts with a code snippet', () => {
  expect(readme.split('\n').slice(1, 4).join('\n')).toMatch(/^\s*```ts/);
  expect(snippets).toHaveLength(EXPECTED.length);
});

it.each(snippets.map((s, i) => [i, s] as const))('README snippet %i runs and prints what it says', async (i, code) => {
  const lines = await runSnippet(pkg, i, code);
  expect(lines).toEqual([EXPECTED[i]]);
});
