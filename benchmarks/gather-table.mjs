#!/usr/bin/env node
// An embedding lookup at paper scale: 512 rows gathered from a [151936, 1536] table (Qwen2-1.5B's; 933 MB,
// too large to live in wasm memory), per backend, each call timed. Before issue #26's fix the wasm gather copied
// the whole table into scratch on every call (first call 6.5–9.5 s, later 107–180 ms, load ~7); now the rows are
// copied alone (first 0.2–0.3 s: page faults of the output, later 0.5–6 ms).
// Usage: node benchmarks/gather-table.mjs [webasm|threads|cpu] (≈ 1 GB of memory; after `pnpm build`)
import * as T from '@llm-modules/tensor';

T.setBackend(process.argv[2] ?? 'threads');
const [V, D] = [151936, 1536];
const x = T.randomNormal(T.prngKey(1), [V, D]);
await T.evaluate(x);
const ids = T.tensor(Int32Array.from({ length: 512 }, (_, i) => (i * 7919) % V), [1, 512]);
for (let i = 0; i < 4; i++) {
  const t0 = performance.now();
  const g = T.gather(x, ids, 0);
  await T.evaluate(g);
  console.log(`${T.getBackend().name}: gather 512 rows of [${V}, ${D}], call ${i + 1}: ${(performance.now() - t0).toFixed(1)} ms`);
  g.dispose();
}
T.shutdownThreads();
process.exit(0);
