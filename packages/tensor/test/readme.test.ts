/** The README's snippets run as written: softmax rows of a [2, 3] product; a backend plugged in with registerBackend. */
import { expect, it } from 'vitest';
import { readmeSnippets, runSnippet } from '../../../test-utils/readme.js';

const pkg = new URL('../', import.meta.url);
const { snippets } = readmeSnippets(pkg);

it('README snippet 0 prints a [2, 3] array of probabilities', async () => {
  const lines = await runSnippet(pkg, 0, snippets[0]);
  expect(lines).toHaveLength(1);
  const rows = lines[0][0] as number[][];
  expect(rows.map((r) => r.length)).toEqual([3, 3]);
  for (const r of rows) expect(r.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
});

it('README: the backend plugged in with registerBackend runs the graph', async () => {
  const k = snippets.findIndex((s) => s.includes('registerBackend('));
  const lines = await runSnippet(pkg, k, snippets[k]);
  expect(lines).toEqual([[[4, 5], 1]]);
});
