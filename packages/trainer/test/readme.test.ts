/** The README's first snippet runs as written and prints what it says. */
import { expect, it } from 'vitest';
import { readmeSnippets, runSnippet } from '../../../test-utils/readme.js';

const pkg = new URL('../', import.meta.url);
const { readme, snippets } = readmeSnippets(pkg);

it('README snippet 0 trains three steps and the loss goes down', async () => {
  expect(readme).toMatch(/^# [^\n]+\n\n[^`]*```js\n/);
  const lines = await runSnippet(pkg, 0, snippets[0]);
  // By hand: x·[0.5, −0.5]ᵀ·1 = [−0.5, −0.5], errors [−1.5, −0.5], mean square (2.25 + 0.25) / 2 = 1.25.
  expect(lines.map((l) => l[0])).toEqual([0, 1, 2]);
  const losses = lines.map((l) => l[1] as number);
  expect(losses[0]).toBeCloseTo(1.25, 6);
  expect(losses[1]).toBeLessThan(losses[0]);
  expect(losses[2]).toBeLessThan(losses[1]);
});
