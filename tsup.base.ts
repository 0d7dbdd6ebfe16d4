import { defineConfig, type Options } from 'tsup';

/**
 * The build every package shares: ESM + .d.ts, source maps, ES2022. Workspace packages, declared
 * dependencies and peers stay external (tsup's default for dependencies; listed here for the workspace
 * and optional peers, which are not always in `dependencies`).
 */
export const packageBuild = (entry: string[], extra: Options = {}) =>
  defineConfig({
    entry,
    format: ['esm'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    external: [/^@llm-modules\//, 'gpu.js', 'fast-check', 'vitest'],
    ...extra,
  });
