/**
 * A model loaded bfloat16-resident (`loadPretrained(dir, { keepBFloat16: true })`): the BF16 fixture's weight
 * matrices stay bfloat16 in memory and are decoded inside the kernels. Its logits equal those of the same file
 * widened to float32 (the bf16 values exactly, as float32: only the summation order of the products may
 * differ) and Hugging Face's goldens; incremental greedy decoding (one-row products) gives the golden tokens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate, isBFloat16Resident, setBackend, storageBytes, type BackendName, type Tensor } from '@llm-modules/tensor';
import { valueAndGrad } from '@llm-modules/autograd';
import { causalLMLoss, generate, labelsFromMask, loadPretrained, type Pretrained } from '../src/node.js';
import { golden, ints, maxDiff, maxDiffValid, modelDir } from './golden.js';

const NAME = 'qwen2-untied-bf16-sharded';
const BACKENDS = (process.env.GOLDEN_BACKENDS ?? 'cpu,webasm,threads').split(',').map((s) => s.trim() as BackendName);
let resident: Pretrained;
let widened: Pretrained;

beforeAll(async () => {
  resident = await loadPretrained(modelDir(NAME), { keepBFloat16: true });
  widened = await loadPretrained(modelDir(NAME));
});
afterAll(() => setBackend('cpu'));

describe(`${NAME} loaded bfloat16-resident`, () => {
  it('keeps every weight matrix as bfloat16 (half the bytes) and vectors as float32', () => {
    const params = Object.entries(resident.params as Record<string, Tensor>);
    const matrices = params.filter(([, t]) => t.rank >= 2);
    expect(matrices.length).toBeGreaterThan(0);
    for (const [name, t] of params) expect(isBFloat16Resident(t), name).toBe(t.rank >= 2);
    const bytes = (p: Pretrained) => Object.values(p.params as Record<string, Tensor>).filter((t) => t.rank >= 2).reduce((n, t) => n + storageBytes(t), 0);
    expect(2 * bytes(resident)).toBe(bytes(widened));
  });

  describe.each(BACKENDS)('on %s', (backend) => {
    beforeAll(() => setBackend(backend));

    it.each(['batch_padded', 'single_token', 'long'] as const)('logits of %s equal the widened load (1e-5) and the goldens (1e-4)', async (caseName) => {
      const c = golden(NAME).cases[caseName];
      const run = (p: Pretrained) => p.model.apply(p.params, ints(c.input_ids), { attentionMask: ints(c.attention_mask) }).logits;
      const [a, b] = [run(resident), run(widened)];
      await evaluate(a, b);
      const got = await a.data();
      const same = maxDiff(got, Array.from(await b.data()));
      expect(same.maxAbs).toBeLessThanOrEqual(1e-5 * Math.max(1, same.maxRef));
      expect(maxDiffValid(got, c.logits, c.attention_mask).maxAbs).toBeLessThanOrEqual(1e-4);
    });

    it('incremental greedy decoding gives the golden tokens', async () => {
      const g = golden(NAME).generation;
      const r = await generate(resident.model, resident.params, g.prompt, { maxNewTokens: g.max_new_tokens, stopTokens: [], useCache: true, outputLogits: true });
      expect(r.sequences).toEqual([g.tokens]);
      expect(maxDiff(Float32Array.from(r.logits!.flatMap((x) => [...x])), g.scores.data).maxAbs).toBeLessThanOrEqual(1e-4);
    });
  });

  it('refuses to differentiate with respect to its weights, in one line', () => {
    const c = golden(NAME).cases.batch_padded;
    const ids = ints(c.input_ids);
    const mask = ints(c.attention_mask);
    const lossFn = (p: Pretrained['params']) => causalLMLoss(resident.model.apply(p, ids, { attentionMask: mask }).logits, labelsFromMask(ids, mask));
    expect(() => valueAndGrad(lossFn)(resident.params)).toThrow(/held as bfloat16.*load it as float32/);
  });
});
