/**
 * Every `@example` on a symbol the packages export runs (test-utils/doctest.ts), or its declaration says why it
 * cannot with `@example-skip <reason>`. Prints the counts: exported symbols, with an example, run, skipped.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { collectDocs, withOwnImports } from '../../../test-utils/doctest.js';
import { runSnippet } from '../../../test-utils/readme.js';

const FOLDERS = ['tensor', 'autograd', 'loaders', 'transformer', 'bridge', 'trainer', 'cli'];
const docs = collectDocs(FOLDERS);

afterAll(() => {
  const rows = docs.map((d) => {
    const run = d.examples.filter((e) => e.code !== null && !e.skip).length;
    const skipped = d.examples.filter((e) => e.skip).length;
    return `${d.name.padEnd(26)} exported ${String(d.exported.length).padStart(4)}  with @example ${String(d.withExample.length).padStart(4)}  run ${String(run).padStart(4)}  skipped ${String(skipped).padStart(4)}`;
  });
  console.info(`doctests:\n${rows.join('\n')}`);
});

describe.each(docs.map((d, i) => [d.name, d, FOLDERS[i]] as const))('%s', (name, d, folder) => {
  const pkgDir = new URL(`../../${folder}/`, import.meta.url);
  // examples use the tensor package's `tensor`, `evaluate`, … freely: they are imported for them (a prelude)
  const prelude = name === '@llm-modules/tensor' ? {} : { '@llm-modules/tensor': docs[0].entries['@llm-modules/tensor'] };

  it('every example has code to run, or its declaration says why it cannot run (@example-skip)', () => {
    const bare = d.examples.filter((e) => e.code === null && !e.skip).map((e) => `${e.id} (${e.file}:${e.line})`);
    expect(bare).toEqual([]);
  });

  const runnable = d.examples.filter((e) => e.code !== null && !e.skip);
  it.each(runnable.map((e, i) => [e.id, e, i] as const))('%s runs', async (_id, e, i) => {
    await runSnippet(pkgDir, 1000 + i, withOwnImports(e.code!, e.entry, d.entries[e.entry], prelude));
  });
});
