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

describe('the doctest runner', () => {
  it('imports the entry point names an example uses without importing or declaring them, then the prelude', () => {
    expect(withOwnImports('grad(f);', '@llm-modules/autograd', ['grad', 'vjp'])).toBe("import { grad } from '@llm-modules/autograd';\ngrad(f);");
    expect(withOwnImports('const grad = 1; x.vjp(grad);', '@llm-modules/autograd', ['grad', 'vjp'])).toBe('const grad = 1; x.vjp(grad);');
    expect(withOwnImports("import { tensor } from 'x';\ngrad(tensor([1]));", 'a', ['grad'], { b: ['tensor', 'add'] })).toBe("import { grad } from 'a';\nimport { tensor } from 'x';\ngrad(tensor([1]));");
    expect(withOwnImports('[...treeLeaves(t)]', 'a', ['treeLeaves'])).toBe("import { treeLeaves } from 'a';\n[...treeLeaves(t)]");
  });

  it('finds re-exported symbols, their examples and their skip reasons', () => {
    const autograd = docs.find((d) => d.name === '@llm-modules/autograd')!;
    expect(autograd.exported).toEqual(expect.arrayContaining(['grad', 'valueAndGrad', 'checkGrads']));
    expect(autograd.entries['@llm-modules/autograd/testing']).toContain('checkGrads');
    const vg = autograd.examples.find((e) => e.symbol === 'valueAndGrad')!;
    expect(vg).toMatchObject({ entry: '@llm-modules/autograd', file: 'packages/autograd/src/vjp.ts', inline: false, skip: null });
    expect(vg.code).toContain('valueAndGrad(loss)(params, batch)');
    const cli = docs.find((d) => d.name === 'llm-modules')!;
    expect(cli.examples.find((e) => e.symbol === 'demoCommand')!.skip).toMatch(/trains three bridges/);
  });
});

describe.each(docs.map((d, i) => [d.name, d, FOLDERS[i]] as const))('%s', (name, d, folder) => {
  const pkgDir = new URL(`../../${folder}/`, import.meta.url);
  // examples use the tensor package's `tensor`, `evaluate`, … freely: they are imported for them (a prelude)
  const prelude: Record<string, string[]> = name === '@llm-modules/tensor' ? {} : { '@llm-modules/tensor': docs[0].entries['@llm-modules/tensor'] };

  it('every example has code to run, or its declaration says why it cannot run (@example-skip)', () => {
    const bare = d.examples.filter((e) => e.code === null && !e.skip).map((e) => `${e.id} (${e.file}:${e.line})`);
    expect(bare).toEqual([]);
  });

  const runnable = d.examples.filter((e) => e.code !== null && !e.skip);
  it.each(runnable.map((e, i) => [e.id, e, i] as const))('%s runs', async (_id, e, i) => {
    await runSnippet(pkgDir, 1000 + i, withOwnImports(e.code!, e.entry, d.entries[e.entry], prelude));
  });
});
