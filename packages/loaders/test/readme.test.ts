/** The README's first snippet runs as written (it builds its own tiny model folder) and prints what it says. */
import { expect, it } from 'vitest';
import { readmeSnippets, runSnippet } from '../../../test-utils/readme.js';

const pkg = new URL('../', import.meta.url);
const { snippets } = readmeSnippets(pkg);

it('README snippet 0 reads back the folder it wrote', async () => {
  const lines = await runSnippet(pkg, 0, snippets[0]);
  // tie_word_embeddings: Hugging Face's default (true); 0.5 is exact in bf16; a byte-level tokenizer without merges
  // gives one id per byte: 'H' 72, 'i' 105, '!' 33.
  expect(lines).toEqual([['gpt_neo', true, 0.5, [257, 4], [72, 105, 33]]]);
});
