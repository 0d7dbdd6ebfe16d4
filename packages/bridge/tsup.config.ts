import { defineConfig } from 'tsup';
export default defineConfig({
  entry: ['src/index.ts', 'src/testing.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  external: ['@llm-modules/tensor', '@llm-modules/autograd', '@llm-modules/loaders', '@llm-modules/transformer', 'fast-check', 'vitest'],
});
