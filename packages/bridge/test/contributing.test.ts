/** CONTRIBUTING.md's walk-through variant (its ```ts block, the "one file") compiles, runs and passes the conformance checks. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { setBackend } from '@llm-modules/tensor';
import type { BridgeDefinition } from '../src/index.js';
import { checkBridgeGradients, checkDeterminism, checkDistinctInit, checkIncrementalDecoding, checkNoFutureLeak, checkRoundTrip, checkShapes } from '../src/testing.js';

const guide = readFileSync(new URL('../../../CONTRIBUTING.md', import.meta.url), 'utf8');
const src = (f: string) => fileURLToPath(new URL(`../src/${f}`, import.meta.url));

it("CONTRIBUTING.md's gated-linear variant passes every conformance check", async () => {
  setBackend('cpu');
  const blocks = [...guide.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  expect(blocks).toHaveLength(1);
  const code = blocks[0].replace(/'\.\.\/(define|nn|types|vars)\.js'/g, (_, f: string) => JSON.stringify(src(`${f}.ts`)));
  const cache = fileURLToPath(new URL('../node_modules/.readme-snippets', import.meta.url));
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'guide-'));
  try {
    writeFileSync(join(dir, 'gated-linear.ts'), code);
    const { gatedLinear } = (await import(/* @vite-ignore */ join(dir, 'gated-linear.ts'))) as { gatedLinear: BridgeDefinition };
    expect(gatedLinear.name).toBe('gated-linear');
    await checkShapes(gatedLinear, {}, 12, 8);
    await checkBridgeGradients(gatedLinear, {});
    await checkNoFutureLeak(gatedLinear, {});
    await checkIncrementalDecoding(gatedLinear, {});
    await checkDeterminism(gatedLinear, {});
    await checkDistinctInit(gatedLinear, {});
    await checkRoundTrip(gatedLinear, {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
