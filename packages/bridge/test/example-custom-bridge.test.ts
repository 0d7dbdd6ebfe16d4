/**
 * `examples/custom-bridge/`: a variant defined and registered outside the package passes the conformance suite
 * (its own one-line test file, `examples/custom-bridge/low-rank.test.ts`, runs with the repository's tests), composes
 * by name after `registerBridge`, and survives a save/load round trip through the registry.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluate, prngKey, setBackend } from '@llm-modules/tensor';
import { composeModel, getBridge, leakProbe, registerBridge } from '@llm-modules/bridge';
import { tinyStudent, tinyTeacher } from '@llm-modules/bridge/testing';
import { lowRank } from '../../../examples/custom-bridge/low-rank.js';

describe('examples/custom-bridge: low-rank decay bridge', () => {
  it('registers from outside, composes by name, and does not leak', async () => {
    setBackend('cpu');
    registerBridge(lowRank, { replace: true });
    expect(getBridge('low-rank')).toBe(lowRank);
    const model = composeModel({ teacher: tinyTeacher(12), student: { model: tinyStudent(8) }, bridge: { variant: 'low-rank', options: { rank: 3 } }, head: { vocabSize: 23 } });
    const params = model.init(prngKey(0));
    expect(model.parameterCounts().bridge).toBe(2 * 12 + (12 * 3 + 3) + (3 * 8 + 8) * 2 + 1);
    const { tensor } = await import('@llm-modules/tensor');
    const ids = tensor(new Int32Array([3, 17, 8, 11, 2, 9]), [1, 6], 'int32');
    const logits = model.apply(params, ids).logits;
    await evaluate(logits);
    expect(logits.shape).toEqual([1, 6, 23]);
    expect((await leakProbe(model, params, ids)).maxChange).toBe(0);
  });

  it("the README's test command selects the example's conformance test file (vitest filters by path substring)", () => {
    const readme = readFileSync(new URL('../../../examples/custom-bridge/README.md', import.meta.url), 'utf8');
    const commands = [...readme.matchAll(/(?:npx|pnpm) vitest run (\S+)/g)].map((m) => m[1]);
    expect(commands.length).toBeGreaterThan(0);
    for (const filter of commands) expect('examples/custom-bridge/low-rank.test.ts'.includes(filter)).toBe(true);
  });
});
