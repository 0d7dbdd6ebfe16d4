/**
 * Incremental generation (issue 6, causality): the teacher runs once over the prompt and then one step per token on
 * its KV cache; with a causal bridge this equals re-running everything each step. The released (non-causal)
 * bridge shows why teacher forcing and generation disagree.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { setBackend } from '@llm-modules/tensor';
import { generate } from '@llm-modules/transformer';
import { composeModel, generateComposed, type ComposedModel } from '../src/index.js';
import { fixtureModel, fixtureParams } from './fixture.js';

beforeAll(() => setBackend('cpu'));
const PROMPT = [6, 1, 40, 23, 30, 23, 3];

/** The same composed model over a teacher whose apply is counted (positions per call). */
function counted(model: ComposedModel): { model: ComposedModel; calls: number[] } {
  const calls: number[] = [];
  const t = model.teacher.model;
  const teacher = { ...t, apply: (...a: Parameters<typeof t.apply>) => (calls.push((a[1] ?? a[2]!.inputsEmbeds!).shape[1]), t.apply(...a)) };
  const m = composeModel({ teacher: { model: teacher, params: model.teacher.params }, bridge: { variant: model.bridge, options: model.bridgeOptions }, student: { model: model.student.model }, head: { vocabSize: model.vocabSize } });
  return { model: m, calls };
}
const maxAbs = (a: Float32Array[], b: Float32Array[]) => Math.max(...a.map((x, k) => Math.max(...x.map((v, i) => Math.abs(v - b[k][i])))));

describe('generation with the causal enhanced bridge of the fixture', () => {
  it('costs one teacher step per new token and equals re-running the whole sequence each step', async () => {
    const { model, calls } = counted(await fixtureModel(true));
    const params = await fixtureParams();
    const opts = { maxNewTokens: 8, stopTokens: [], outputLogits: true };
    const inc = await generateComposed(model, params, PROMPT, opts);
    expect(calls).toEqual([7, 1, 1, 1, 1, 1, 1, 1]);
    expect(inc.teacherCalls).toEqual(calls);
    calls.length = 0;
    const full = await generateComposed(model, params, PROMPT, { ...opts, mode: 'full' });
    expect(calls).toEqual([7, 8, 9, 10, 11, 12, 13, 14]);
    expect(inc.sequences).toEqual(full.sequences);
    expect(maxAbs(inc.logits!, full.logits!)).toBeLessThanOrEqual(1e-4);
    expect(inc.sequences[0]).toHaveLength(8);
  });

  it("is the transformer package's generate: static, dynamic and no cache agree on a composed model's decoding view", async () => {
    const { model, calls } = counted(await fixtureModel(true));
    const params = await fixtureParams();
    const opts = { maxNewTokens: 5, stopTokens: [], outputLogits: true };
    const viaWrapper = await generateComposed(model, params, PROMPT, opts);
    calls.length = 0;
    const results = [];
    for (const mode of [{ cacheKind: 'static' }, { cacheKind: 'dynamic' }, { useCache: false }] as const) results.push(await generate(model.decoding, params, PROMPT, { ...opts, ...mode }));
    expect(calls).toEqual([7, 1, 1, 1, 1, 7, 1, 1, 1, 1, 7, 8, 9, 10, 11]);
    for (const r of results) {
      expect(r.sequences).toEqual(viaWrapper.sequences);
      expect(maxAbs(r.logits!, viaWrapper.logits!)).toBeLessThanOrEqual(1e-4);
    }
    await expect(generate(model.decoding, params, PROMPT, { maxNewTokens: model.student.maxPositions })).rejects.toThrow(/exceed the model's/);
  });

  it('a left-padded batch gives each prompt what it gets alone', async () => {
    const model = await fixtureModel(true);
    const params = await fixtureParams();
    const prompts = [PROMPT, [48, 35, 82]];
    const opts = { maxNewTokens: 4, stopTokens: [], outputLogits: true };
    const both = await generateComposed(model, params, prompts, opts);
    for (const [b, p] of prompts.entries()) {
      const alone = await generateComposed(model, params, p, opts);
      expect(both.sequences[b]).toEqual(alone.sequences[0]);
      const V = model.vocabSize;
      expect(maxAbs(both.logits!.map((l) => l.subarray(b * V, (b + 1) * V)), alone.logits!)).toBeLessThanOrEqual(1e-4);
    }
  });

  it('samples reproducibly with a seed (temperature 0.9, top-k 100, top-p 0.98, as the paper) and stops at a stop token', async () => {
    const model = await fixtureModel(true);
    const params = await fixtureParams();
    const opts = { maxNewTokens: 6, greedy: false, temperature: 0.9, topK: 100, topP: 0.98, seed: 3, stopTokens: [] };
    const a = await generateComposed(model, params, PROMPT, opts);
    expect((await generateComposed(model, params, PROMPT, opts)).sequences).toEqual(a.sequences);
    const stop = a.sequences[0][2];
    const stopped = await generateComposed(model, params, PROMPT, { ...opts, stopTokens: [stop] });
    expect(stopped.sequences[0].at(-1)).toBe(stop);
    expect(stopped.finishReasons).toEqual(['stop_token']);
  });
});

describe('generation with the released (padding-only mask) bridge', () => {
  it('teacher forcing sees the future, generation cannot: re-running the sequence gives other logits than decoding', async () => {
    const model = await fixtureModel(false);
    const params = await fixtureParams();
    const opts = { maxNewTokens: 4, stopTokens: [], outputLogits: true };
    const inc = await generateComposed(model, params, PROMPT, opts);
    const full = await generateComposed(model, params, PROMPT, { ...opts, mode: 'full' });
    expect(maxAbs(inc.logits!.slice(1), full.logits!.slice(1))).toBeGreaterThan(1e-3);
  });
});
