/**
 * The future-token leak probe (issue 6, causality): change the teacher's input tokens at positions > i and measure
 * the change of the logits at ≤ i. Every causal variant shows exactly 0; `paper-released` (the released
 * padding-only mask) shows the leak. `GOLDEN_REPORT=1` prints the numbers per variant.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matmul, prngKey, setBackend, tensor, type Tensor } from '@llm-modules/tensor';
import { gptNeo } from '@llm-modules/transformer';
import { BUILTIN_BRIDGES, composeModel, isCausal, leakProbe, probeFutureLeak } from '../src/index.js';
import { fixtureModel, fixtureParams, golden, ints, loadTeacher, studentConfig } from './fixture.js';
import { perturb } from '../src/testing/world.js';

const report: string[] = [];
beforeAll(() => setBackend('cpu'));
afterAll(() => {
  if (process.env.GOLDEN_REPORT) console.log(report.join('\n'));
});
const g = golden(true);
const ids = ints(g.input_ids);
const mask = ints(g.attention_mask);
const SMALL: Record<string, Record<string, unknown>> = {
  enhanced: { heads: 4, adapterDim: 16 },
  'paper-released': { heads: 4, adapterDim: 16 },
  flamingo: { heads: 4 },
  calm: { heads: 4, every: 2 },
  plain: { heads: 4, layers: 2 },
  linear: {},
};

describe('the released bridge of the fixture', () => {
  it('changing the last real token of sequence 1 (the golden probe): causal moves earlier logits by exactly 0, the released mask does not', async () => {
    const change = (id: number, b: number, t: number) => (b === 1 && t === 10 ? (id + 1) % 89 : id);
    const params = await fixtureParams();
    const causal = await leakProbe(await fixtureModel(true), params, ids, { attentionMask: mask, positions: [9], replace: change });
    const released = await leakProbe(await fixtureModel(false), params, ids, { attentionMask: mask, positions: [9], replace: change });
    report.push(`fixture probe (token 1,10 changed): causal=true ${causal.maxChange}, causal=false ${released.maxChange.toFixed(4)} (golden: ${golden(true).future_token_probe.max_abs_logit_change_at_earlier_positions} / ${golden(false).future_token_probe.max_abs_logit_change_at_earlier_positions.toFixed(4)})`);
    expect(causal.maxChange).toBe(golden(true).future_token_probe.max_abs_logit_change_at_earlier_positions); // 0
    expect(released.maxChange).toBeGreaterThan(0.01);
  });
});

describe.each(BUILTIN_BRIDGES.map((d) => [d.name, d] as const))('leak probe at every position: %s', (name, def) => {
  it(isCausal(def, { ...def.options, ...SMALL[name] }) ? 'causal: every change after i moves the logits at ≤ i by exactly 0' : 'declared non-causal: the probe shows the leak', async () => {
    const teacher = await loadTeacher();
    const model = composeModel({ teacher, student: { model: gptNeo(studentConfig()) }, bridge: { variant: def, options: SMALL[name] }, head: { vocabSize: 90 } });
    const params = name === 'enhanced' || name === 'paper-released' ? await fixtureParams() : perturb(model.init(prngKey(0)));
    const r = await leakProbe(model, params, ids, { attentionMask: mask });
    report.push(`${name}: max |Δ logits| at positions ≤ i over i = 0…9: ${r.maxChange === 0 ? '0 (exact)' : r.maxChange.toFixed(4)}`);
    if (model.causal) expect(r.maxChange).toBe(0);
    else {
      expect(r.maxChange).toBeGreaterThan(0.01);
      expect(r.perPosition.filter((p) => p.maxChange > 0).length).toBe(r.perPosition.length); // at every position
    }
  });
});

describe('probeFutureLeak', () => {
  /** `[1, T, 1]` → running sum over positions ≤ t, or (`reverse`, a deliberate leak) over positions ≥ t. */
  const runningSum = (x: Tensor, reverse: boolean) => {
    const T = x.shape[1];
    const m = Array.from({ length: T }, (_, i) => Array.from({ length: T }, (_, j) => ((reverse ? j >= i : j <= i) ? 1 : 0)));
    return matmul(tensor(m), x); // [1, T, 1]
  };
  it('is a plain function: a running sum passes, a reversed running sum is caught at the first position', async () => {
    const x = tensor([[[1], [2], [3], [4]]]);
    const y = tensor([[[9], [9], [9], [9]]]);
    expect((await probeFutureLeak((v) => runningSum(v, false), x, y)).maxChange).toBe(0);
    const leak = await probeFutureLeak((v) => runningSum(v, true), x, y);
    expect(leak.perPosition[0]).toEqual({ position: 0, maxChange: 7 + 6 + 5 });
  });
});
