/** The README's snippets run as written (the first one starts the README). */
import { expect, it } from 'vitest';
import { readmeSnippets, runSnippet } from '../../../test-utils/readme.js';

const pkg = new URL('../', import.meta.url);
const { readme, snippets } = readmeSnippets(pkg);

it('the README starts with a code snippet', () => {
  expect(readme.split('\n').slice(1, 4).join('\n')).toMatch(/^\s*```js/);
});

it.each(snippets.map((s, i) => [i, s] as const))('README snippet %i runs and prints what it says', async (i, code) => {
  const lines = await runSnippet(pkg, i, code);
  expect(lines).toHaveLength(1);
  // snippet 0: a model built in code (its output has no reference: shapes and lengths are what it claims)
  if (i === 0) expect(lines[0]).toEqual([[1, 6, 96], 8]);
  if (i === 1) {
    const [value, shape] = lines[0] as [Float32Array, number[]];
    expect(value[0]).toBeGreaterThan(3);
    expect(shape).toEqual([48, 48]);
  }
});
