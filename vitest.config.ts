import { defineConfig } from 'vitest/config';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const pkg = (name: string, sub = 'index') => fileURLToPath(new URL(`./packages/${name}/src/${sub}.ts`, import.meta.url));
// Tests run in Node, so a package with a Node entry (src/node.ts: the browser-safe index plus the path
// loaders) is imported through it, as Node's `node` export condition would pick dist/node.js.
const NODE_ENTRIES = ['tensor', 'autograd', 'loaders', 'transformer', 'bridge', 'trainer'].filter((n) => existsSync(pkg(n, 'node')));

// Tests import workspace packages from source, so `vitest` works without a build step.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@llm-modules\/([a-z-]+)\/([a-z-]+)$/, replacement: pkg('$1', '$2') },
      ...NODE_ENTRIES.map((n) => ({ find: new RegExp(`^@llm-modules/${n}$`), replacement: pkg(n, 'node') })),
      { find: /^@llm-modules\/([a-z-]+)$/, replacement: pkg('$1') },
      // the CLI package is published as `llm-modules` (its doctests import it by that name)
      { find: /^llm-modules$/, replacement: pkg('cli') },
      { find: /^llm-modules\/([a-z-]+)$/, replacement: pkg('cli', '$1') },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/**/*.test.ts', 'scripts/**/*.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
    globalSetup: ['./test-utils/temp-dir.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
