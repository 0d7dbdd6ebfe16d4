/** Shared by the packages' README tests: the ```ts snippets of a README, and running one as a user would. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The README text of the package at `packageDir` (a URL ending in '/') and its runnable (```js and ```ts) snippets. */
export function readmeSnippets(packageDir: URL): { readme: string; snippets: string[] } {
  const readme = readFileSync(new URL('README.md', packageDir), 'utf8');
  return { readme, snippets: [...readme.matchAll(/```(?:js|ts)\n([\s\S]*?)```/g)].map((m) => m[1]) };
}

/**
 * Run a snippet and return what it passed to console.log, one array of arguments per call. It is written under the
 * package's node_modules (ignored by git) so that bare imports resolve as they would for a user.
 */
export async function runSnippet(packageDir: URL, index: number, code: string): Promise<unknown[][]> {
  const cache = fileURLToPath(new URL('node_modules/.readme-snippets', packageDir));
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'run-'));
  const file = join(dir, `snippet${index}.ts`);
  const lines: unknown[][] = [];
  const log = console.log;
  writeFileSync(file, code);
  try {
    console.log = (...args: unknown[]) => void lines.push(args);
    await import(/* @vite-ignore */ file);
  } finally {
    console.log = log;
    rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}
