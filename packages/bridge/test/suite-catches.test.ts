/**
 * The conformance checks fail on broken variants: a leak in a variant that claims to be causal, wrong gradients,
 * a non-deterministic init, a wrong output width, a memory that mixes positions, two modules drawn from one key.
 */
import { describe, expect, it } from 'vitest';
import { add, concat, mean, slice, stopGradient, tensor, type Tensor } from '@llm-modules/tensor';
import { linear } from '@llm-modules/transformer';
import { defineBridge, rows, queryWindow, torchLinear, type BridgeDefinition, type Params } from '../src/index.js';
import { checkBridgeGradients, checkDeterminism, checkDistinctInit, checkIncrementalDecoding, checkNoFutureLeak, checkShapes } from '../src/testing.js';
import { lowRank } from '../../../examples/custom-bridge/low-rank.js';

const base = {
  options: {},
  init: (d: { teacher: number; student: number }, _o: unknown, key: Parameters<typeof torchLinear>[0]) => torchLinear(key, 'proj', d.teacher, d.student),
};
const proj = (p: Params, h: Tensor) => linear(h, p['proj.weight'], p['proj.bias']); // [B, T, Ds]
const window = (h: Tensor, ctx: { queryStart?: number; queryLength?: number }) => {
  const { q0, Tq } = queryWindow(ctx as never, h.shape[1]);
  return rows(h, q0, Tq);
};
const def = (name: string, rest: Partial<BridgeDefinition>) => defineBridge({ ...base, name, apply: (p, h, ctx) => proj(p, window(h, ctx)), ...rest } as BridgeDefinition);

describe('the conformance checks catch broken variants', () => {
  it('a leak: adding the mean over all positions (future included) while claiming to be causal', async () => {
    const leaky = def('leaky', { apply: (p, h, ctx) => proj(p, window(add(h, mean(h, 1, true)), ctx)) });
    await expect(checkNoFutureLeak(leaky, {})).rejects.toThrow(/bridge "leaky": future-token leak: changing teacher states after position 0 moved the bridge output at ≤ 0 by/);
  });

  it('wrong gradients: a stopGradient on a parameter path', async () => {
    const frozen = def('frozen', { apply: (p, h, ctx) => linear(window(h, ctx), stopGradient(p['proj.weight']), p['proj.bias']) });
    await expect(checkBridgeGradients(frozen, {})).rejects.toThrow(/checkGrads \(order 1\).*\n.*BAD arg0\.proj\.weight/);
  });

  it('a non-deterministic init', async () => {
    const random = def('random', { init: (d) => ({ 'proj.weight': tensor(Float32Array.from({ length: d.student * d.teacher }, Math.random), [d.student, d.teacher]), 'proj.bias': tensor(new Float32Array(d.student)) }) });
    await expect(checkDeterminism(random, {})).rejects.toThrow('bridge "random": init with the same key gave a different "qwen.proj.weight"');
  });

  it('a wrong output width', async () => {
    const wide = def('wide', { apply: (p, h, ctx) => concat([proj(p, window(h, ctx)), proj(p, window(h, ctx))], -1) });
    await expect(checkShapes(wide, {}, 12, 8)).rejects.toThrow('bridge "wide": output is [2, 5, 16], expected [2, 5, 8] ([B, Tq, student width])');
  });

  it('a memory that is not position-wise breaks incremental decoding', async () => {
    const mixing = def('mixing', {
      memory: (p, h) => ({ m: add(proj(p, h), proj(p, slice(h, [0, 0, 0], [h.shape[0], 1, h.shape[2]]))) }), // every row + row 0 of *this* call
      apply: (p, h, ctx) => window(ctx.memory?.m ?? add(proj(p, h), proj(p, slice(h, [0, 0, 0], [h.shape[0], 1, h.shape[2]]))), ctx),
    });
    await expect(checkIncrementalDecoding(mixing, {})).rejects.toThrow(/bridge "mixing": incremental decoding differs from the full forward by/);
  });

  it("one key for two modules of the same shape (the custom-bridge example before its fix: up and skip bit-identical)", async () => {
    const oneKey = defineBridge({
      ...lowRank,
      name: 'low-rank-one-key',
      init: (dims, o, key) => ({ ...lowRank.init(dims, o, key), ...torchLinear(key, 'down', dims.teacher, o.rank), ...torchLinear(key, 'up', o.rank, dims.student), ...torchLinear(key, 'skip', o.rank, dims.student) }),
    });
    await expect(checkDistinctInit(oneKey, { rank: 4 })).rejects.toThrow('bridge "low-rank-one-key": "up.weight" and "skip.weight" start bit-identical');
    await expect(checkDistinctInit(lowRank, { rank: 4 })).resolves.toBeUndefined();
  });
});
