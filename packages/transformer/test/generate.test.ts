/**
 * Generation: greedy tokens identical to Hugging Face's goldens with the static cache, the dynamic cache and
 * without a cache; step logits against the golden scores; left-padded batches equal single prompts; stops,
 * streaming and sampling options.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate, setBackend, slice, tensor } from '@llm-modules/tensor';
import { cacheTensors, generate, loadPretrained, type Pretrained } from '../src/node.js';
import { MODELS, golden, maxDiff, modelDir, type ModelName } from './golden.js';

const loaded = new Map<ModelName, Pretrained>();
beforeAll(async () => {
  setBackend('cpu');
  for (const name of MODELS) loaded.set(name, await loadPretrained(modelDir(name)));
});

const MODES = [
  { label: 'static KV cache', useCache: true, cacheKind: 'static' },
  { label: 'dynamic KV cache', useCache: true, cacheKind: 'dynamic' },
  { label: 'no cache', useCache: false, cacheKind: 'static' },
] as const;

describe.each(MODELS)('%s', (name) => {
  it.each(MODES)('greedy generation equals the golden tokens ($label); step logits within 1e-4 of the golden scores', async ({ useCache, cacheKind }) => {
    const { model, params } = loaded.get(name)!;
    const g = golden(name).generation;
    const r = await generate(model, params, g.prompt, { maxNewTokens: g.max_new_tokens, stopTokens: [], useCache, cacheKind, outputLogits: true });
    expect(r.sequences).toEqual([g.tokens]);
    expect(g.tokens_use_cache).toEqual(g.tokens);
    expect(g.tokens_no_cache).toEqual(g.tokens);
    expect(r.finishReasons).toEqual(['length']);
    const d = maxDiff(Float32Array.from(r.logits!.flatMap((x) => [...x])), g.scores.data);
    expect(d.maxAbs).toBeLessThanOrEqual(1e-4);
  });

  it('a left-padded batch of prompts of different lengths gives each prompt its own greedy continuation', async () => {
    const { model, params } = loaded.get(name)!;
    const prompt = golden(name).generation.prompt;
    const prompts = [prompt.slice(3), prompt, [7], prompt.slice(1)];
    const batch = await generate(model, params, prompts, { maxNewTokens: 6, stopTokens: [] });
    expect(batch.sequences[1]).toEqual(golden(name).generation.tokens.slice(0, 6));
    for (let i = 0; i < prompts.length; i++) {
      const single = await generate(model, params, prompts[i], { maxNewTokens: 6, stopTokens: [] });
      expect(batch.sequences[i]).toEqual(single.sequences[0]);
    }
  });

  it('a step with the KV cache gives the logits of the full forward pass (static and dynamic)', async () => {
    const { model, params } = loaded.get(name)!;
    const ids = golden(name).cases.long.input_ids.data;
    const full = model.apply(params, tensor(Int32Array.from(ids), [1, ids.length])).logits;
    await evaluate(full);
    for (const capacity of [32, null]) {
      let cache = model.createCache(1, capacity);
      const pieces = [ids.slice(0, 10), ids.slice(10, 11), ids.slice(11, 12), ids.slice(12)];
      let at = 0;
      for (const piece of pieces) {
        const out = model.apply(params, tensor(Int32Array.from(piece), [1, piece.length]), { cache });
        await evaluate(out.logits, ...cacheTensors(out.cache!));
        const want = slice(full, [0, at], [1, at + piece.length]);
        expect(maxDiff(await out.logits.data(), await want.data()).maxAbs).toBeLessThanOrEqual(1e-5);
        cache = out.cache!;
        at += piece.length;
      }
      expect(cache.length).toBe(ids.length);
    }
  });
});

describe('stopping, streaming and sampling', () => {
  it('stops at a stop token (kept in the output) and by default at the config eos; other sequences continue', async () => {
    const { model, params } = loaded.get('gptneo')!;
    const g = golden('gptneo').generation; // tokens 49 49 23 1 61 61 61 94
    const r = await generate(model, params, [g.prompt, g.prompt], { maxNewTokens: 8, stopTokens: [23] });
    expect(r.sequences[0]).toEqual([49, 49, 23]);
    expect(r.finishReasons).toEqual(['stop_token', 'stop_token']);
    const eos = await generate(model, params, g.prompt, { maxNewTokens: 8 }); // eos 95 never comes
    expect(eos.sequences[0]).toEqual(g.tokens);
    const mixed = await generate(model, params, [g.prompt, g.prompt.slice(2)], { maxNewTokens: 8, stopTokens: [1] });
    expect(mixed.sequences[0]).toEqual([49, 49, 23, 1]);
    expect(mixed.finishReasons[0]).toBe('stop_token');
  });

  it('stop strings end a sequence once its decoded text contains them; onToken streams every token', async () => {
    const { model, params } = loaded.get('qwen2-tied')!;
    const g = golden('qwen2-tied').generation; // 69 81 69 69 87 69 36 52
    const tokenizer = { decode: (ids: ArrayLike<number>) => Array.from(ids, (i) => String.fromCharCode(65 + (i % 26))).join('') };
    const seen: number[] = [];
    const r = await generate(model, params, g.prompt, { maxNewTokens: 8, stopTokens: [], stopStrings: [tokenizer.decode([69, 87])], tokenizer, onToken: (e) => seen.push(e.token) });
    expect(r.sequences[0]).toEqual([69, 81, 69, 69, 87]);
    expect(r.finishReasons).toEqual(['stop_string']);
    expect(seen).toEqual(r.sequences[0]);
    await expect(generate(model, params, g.prompt, { maxNewTokens: 2, stopStrings: ['x'] })).rejects.toThrow(/tokenizer/);
  });

  it('sampling is reproducible from a seed; top-k 1 is greedy; a strong repetition penalty avoids repeats', async () => {
    const { model, params } = loaded.get('qwen2-untied-bf16-sharded')!;
    const g = golden('qwen2-untied-bf16-sharded').generation;
    const opts = { maxNewTokens: 8, stopTokens: [], greedy: false, temperature: 0.9, topK: 20, topP: 0.95 };
    const a = await generate(model, params, g.prompt, { ...opts, seed: 1 });
    const b = await generate(model, params, g.prompt, { ...opts, seed: 1 });
    const others = await Promise.all([2, 3, 4].map((seed) => generate(model, params, g.prompt, { ...opts, seed })));
    expect(a.sequences).toEqual(b.sequences);
    expect(others.some((o) => JSON.stringify(o.sequences) !== JSON.stringify(a.sequences))).toBe(true);
    const k1 = await generate(model, params, g.prompt, { ...opts, topK: 1, seed: 5 });
    expect(k1.sequences[0]).toEqual(g.tokens);
    const penalised = await generate(model, params, g.prompt, { maxNewTokens: 8, stopTokens: [], repetitionPenalty: 1e6 });
    const all = [...g.prompt, ...penalised.sequences[0]];
    expect(new Set(all).size).toBe(all.length);
  });

  it('rejects empty prompts and bad maxNewTokens; maxNewTokens 0 generates nothing', async () => {
    const { model, params } = loaded.get('gptneo')!;
    await expect(generate(model, params, [[]], { maxNewTokens: 2 })).rejects.toThrow(/at least one token/);
    await expect(generate(model, params, [1], { maxNewTokens: -1 })).rejects.toThrow(/maxNewTokens/);
    expect((await generate(model, params, [1, 2], { maxNewTokens: 0 })).sequences).toEqual([[]]);
  });
});
