/** The README's runnable (```ts) snippets run as written and print what they say; the README starts with one. */
import { expect, it } from 'vitest';
import { readmeSnippets, runSnippet } from '../../../test-utils/readme.js';

const pkg = new URL('../', import.meta.url);
const { readme, snippets } = readmeSnippets(pkg);
// Snippet 0 builds an untrained model: its loss is checked against ln 90 (a near-uniform guess over 90 tokens) and
// against the value the README's comment shows; the probe of a causal bridge moves nothing (0); generation calls the
// teacher once for the 4-token prompt, then once per new token.
const EXPECTED = [
  [expect.any(String), 0, [4, 1, 1, 1], 4],
  ['paper-released', 108, 63368],
];

it('the README starts with a code snippet', () => {
  expect(readme.split('\n').slice(1, 4).join('\n')).toMatch(/^\s*```js/);
  expect(snippets).toHaveLength(EXPECTED.length);
});

it.each(snippets.map((s, i) => [i, s] as const))('README snippet %i runs and prints what it says', async (i, code) => {
  const lines = await runSnippet(pkg, i, code);
  expect(lines).toEqual([EXPECTED[i]]);
  if (i === 0) {
    const loss = lines[0][0] as string;
    expect(Math.abs(Number(loss) - Math.log(90))).toBeLessThan(0.5);
    expect(code).toContain(`// ${loss} 0 [ 4, 1, 1, 1 ] 4`);
  }
});
