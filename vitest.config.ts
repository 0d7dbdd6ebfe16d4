import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const pkg = (name: string, sub = 'index') => fileURLToPath(new URL(`./packages/${name}/src/${sub}.ts`, import.meta.url));

// Tests import workspace packages from source, so `vitest` works without a build step.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@llm-modules\/([a-z-]+)\/([a-z-]+)$/, replacement: pkg('$1', '$2') },
      { find: /^@llm-modules\/([a-z-]+)$/, replacement: pkg('$1') },
      // the CLI package is published as `llm-modules` (its doctests import it by that name)
      { find: /^llm-modules$/, replacement: pkg('cli') },
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
