/** `defineBridge` values, presets, option resolution and the registry. */
import { describe, expect, it } from 'vitest';
import { prngKey, randomNormal } from '@llm-modules/tensor';
import { linear } from '@llm-modules/transformer';
import { BUILTIN_BRIDGES, defineBridge, enhanced, getBridge, isCausal, listBridges, paperReleased, presetBridge, registerBridge, resolveOptions, unregisterBridge } from '../src/index.js';

const tiny = defineBridge({
  name: 'tiny-test',
  options: { scale: 1 },
  init: (dims, _o, key) => ({ 'w.weight': randomNormal(key, [dims.student, dims.teacher]) }),
  apply: (p, h) => linear(h, p['w.weight']),
});

describe('defineBridge', () => {
  it('returns a frozen value and rejects malformed definitions with a message', () => {
    expect(Object.isFrozen(tiny)).toBe(true);
    expect(Object.isFrozen(tiny.options)).toBe(true);
    expect(() => defineBridge({ ...tiny, name: 'Bad Name' })).toThrow(/name must match/);
    expect(() => defineBridge({ ...tiny, apply: undefined as never })).toThrow('defineBridge(tiny-test): apply must be a function');
    expect(() => defineBridge({ ...tiny, options: [] as never })).toThrow(/options must be an object/);
    expect(() => defineBridge({ ...tiny, student: { layers: () => [0] } as never })).toThrow(/student must have layers\(\) and apply\(\)/);
  });

  it('paper-released is a preset of enhanced: the same mechanism, the released options, declared non-causal', () => {
    expect(paperReleased.apply).toBe(enhanced.apply);
    expect(paperReleased.options).toEqual({ layers: 2, heads: 8, adapterDim: 256, dropout: 0.1, causal: false, intermediateDim: null });
    expect(enhanced.options).toEqual({ layers: 2, heads: 8, adapterDim: 256, dropout: 0.1, causal: true, intermediateDim: null });
    expect(isCausal(enhanced, enhanced.options)).toBe(true);
    expect(isCausal(paperReleased, paperReleased.options)).toBe(false);
    expect(isCausal(enhanced, resolveOptions(enhanced, { causal: false }))).toBe(false);
    const mine = presetBridge(enhanced, 'enhanced-4', { layers: 4 });
    expect(mine.options.layers).toBe(4);
  });

  it('resolveOptions merges defaults and rejects unknown names', () => {
    expect(resolveOptions(enhanced, { heads: 4 })).toMatchObject({ heads: 4, layers: 2 });
    expect(() => resolveOptions(enhanced, { head: 4 } as never)).toThrow('bridge "enhanced": unknown option head (known: layers, heads, adapterDim, dropout, causal, intermediateDim)');
  });
});

describe('the registry', () => {
  it('holds the built-ins: enhanced, paper-released, flamingo, calm, gated-tokens, plain, linear', () => {
    expect(BUILTIN_BRIDGES.map((d) => d.name)).toEqual(['enhanced', 'paper-released', 'flamingo', 'calm', 'gated-tokens', 'plain', 'linear']);
    for (const d of BUILTIN_BRIDGES) expect(getBridge(d.name)).toBe(d);
  });

  it('registers a variant from outside, refuses a taken name, and forgets run-time registrations on request', () => {
    registerBridge(tiny);
    expect(getBridge('tiny-test')).toBe(tiny);
    expect(listBridges().at(-1)).toBe(tiny);
    expect(() => registerBridge({ ...tiny })).toThrow('registerBridge: "tiny-test" is already registered (pass { replace: true } to override)');
    expect(() => unregisterBridge('enhanced')).toThrow(/built in/);
    expect(unregisterBridge('tiny-test')).toBe(true);
    expect(() => getBridge('tiny-test')).toThrow(/unknown bridge variant "tiny-test"/);
  });

  it('a registered variant works standalone: [B, T, Dt] → [B, T, Ds]', () => {
    const dims = { teacher: 6, student: 4, studentLayers: 1 };
    const p = tiny.init(dims, tiny.options, prngKey(0));
    expect(tiny.apply(p, randomNormal(prngKey(1), [2, 3, 6]), { options: tiny.options, dims }).shape).toEqual([2, 3, 4]);
  });
});
