/**
 * Issue #22: every library package's browser entry (src/index.ts; tensor with its Web Worker platform seam)
 * bundles with esbuild for a browser without importing a Node built-in. pack-check runs the same check on
 * the published tarballs, together with a tsc check of the browser `.d.ts` without @types/node.
 */
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
// @ts-ignore plain .mjs script without declarations
import { BROWSER_PACKAGES, browserBundleProblems } from '../browser-check-lib.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('browser entries', () => {
  it.each(BROWSER_PACKAGES as string[])('@llm-modules/%s bundles for the browser with no Node built-in', async (name) => {
    const problems = await browserBundleProblems(`export * from '@llm-modules/${name}';\n`, ROOT, { fromSource: true });
    expect(problems).toEqual([]);
  });

  it('llm-modules/demo-world (the CLI demo\'s world and measures, which examples/browser imports) bundles with no Node built-in', async () => {
    const problems = await browserBundleProblems(`export * from './packages/cli/src/demo-world.ts';\n`, ROOT, { fromSource: true });
    expect(problems).toEqual([]);
  });

  it('the check catches a Node built-in, naming it and the file', async () => {
    const problems = await browserBundleProblems(`import { readFile } from 'node:fs/promises';\nexport { readFile };\n`, ROOT, { fromSource: true });
    expect(problems.join('\n')).toMatch(/imports the Node built-in "node:fs\/promises"/);
  });
});
