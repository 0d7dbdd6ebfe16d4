/** loadPretrained (names, shapes, tied heads, shards, bf16, tokenizer) and Hugging Face-style random init. */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoaderError, loadSafetensors, parseConfig, writeSafetensors, type GPTNeoConfig, type Qwen2Config } from '@llm-modules/loaders';
import { evaluate, prngKey, setBackend, tensor } from '@llm-modules/tensor';
import { WeightsMismatchError, createModel, embedding, gptNeo, loadPretrained, qwen2 } from '../src/node.js';
import { FIXTURES, modelDir } from './golden.js';

beforeAll(() => setBackend('cpu'));
const temps: string[] = [];
afterAll(async () => {
  for (const d of temps) await rm(d, { recursive: true, force: true });
});

/** A temp model folder: the gptneo fixture's config and its tensors after `edit`. */
async function editedFolder(edit: (t: Map<string, { dtype: 'float32'; shape: number[]; data: Float32Array }>) => void): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'llm-transformer-'));
  temps.push(dir);
  await copyFile(join(modelDir('gptneo'), 'config.json'), join(dir, 'config.json'));
  const tensors = (await loadSafetensors(modelDir('gptneo'))) as unknown as Map<string, { dtype: 'float32'; shape: number[]; data: Float32Array }>;
  edit(tensors);
  await writeSafetensors(join(dir, 'model.safetensors'), tensors as never);
  return dir;
}

describe('loadPretrained', () => {
  it('loads each fixture folder: every parameter by its safetensors name, tied heads left out, bf16 shards widened', async () => {
    const neo = await loadPretrained(modelDir('gptneo'));
    expect(neo.config.model_type).toBe('gpt_neo');
    expect(Object.keys(neo.params).sort()).toEqual([...neo.model.parameterShapes().keys()].sort());
    expect(Object.keys(neo.params)).toHaveLength(56);
    expect(neo.params['lm_head.weight']).toBeUndefined();
    expect(neo.params['transformer.h.1.attn.attention.q_proj.weight'].shape).toEqual([32, 32]);
    expect(neo.tokenizer).toBeNull();

    const tied = await loadPretrained(modelDir('qwen2-tied'));
    expect(Object.keys(tied.params)).toHaveLength(38);
    expect(tied.params['lm_head.weight']).toBeUndefined();
    const untied = await loadPretrained(modelDir('qwen2-untied-bf16-sharded'));
    expect(Object.keys(untied.params)).toHaveLength(39);
    expect(untied.params['lm_head.weight'].shape).toEqual([96, 48]);
    // bf16 → float32 exactly: every value has zero low 16 bits
    const bits = new Uint32Array((await untied.params['model.layers.1.mlp.up_proj.weight'].data()).buffer.slice(0));
    expect(bits.every((b) => (b & 0xffff) === 0)).toBe(true);
  });

  it('loads the tokenizer when the folder has one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'llm-transformer-'));
    temps.push(dir);
    for (const f of ['config.json', 'model.safetensors']) await copyFile(join(modelDir('gptneo'), f), join(dir, f));
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) await copyFile(join(FIXTURES, '../tokenizer-ascii', f), join(dir, f));
    const { tokenizer } = await loadPretrained(dir);
    expect(tokenizer!.encode('Hi!')).toEqual([40, 73, 1]);
    expect((await loadPretrained(dir, { tokenizer: false })).tokenizer).toBeNull();
  });

  it('names every missing, unexpected and mis-shaped tensor in one error', async () => {
    const dir = await editedFolder((t) => {
      t.delete('transformer.h.2.ln_2.bias');
      t.delete('transformer.ln_f.weight');
      t.set('transformer.h.9.mlp.c_fc.weight', { dtype: 'float32', shape: [1], data: new Float32Array(1) });
      t.set('transformer.wpe.weight', { dtype: 'float32', shape: [63, 32], data: new Float32Array(63 * 32) });
    });
    const err = await loadPretrained(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeightsMismatchError);
    expect(err).toBeInstanceOf(LoaderError);
    const e = err as WeightsMismatchError;
    expect(e.missing.sort()).toEqual(['transformer.h.2.ln_2.bias', 'transformer.ln_f.weight']);
    expect(e.unexpected).toEqual(['transformer.h.9.mlp.c_fc.weight']);
    expect(e.misShaped).toEqual(['transformer.wpe.weight [63, 32] (expected [64, 32])']);
    expect(e.message).toBe(
      `${dir}: weights do not match the gpt_neo config: missing 2: transformer.h.2.ln_2.bias, transformer.ln_f.weight; ` +
        'unexpected 1: transformer.h.9.mlp.c_fc.weight; mis-shaped 1: transformer.wpe.weight [63, 32] (expected [64, 32])',
    );
    expect(e.message).not.toContain('\n');
  });

  it("ignores what Hugging Face ignores: a stored tied lm_head and GPT-Neo's attention buffers", async () => {
    const dir = await editedFolder((t) => {
      t.set('lm_head.weight', { dtype: 'float32', shape: [96, 32], data: new Float32Array(96 * 32) });
      t.set('transformer.h.0.attn.attention.bias', { dtype: 'float32', shape: [1, 1, 64, 64], data: new Float32Array(64 * 64) });
      t.set('transformer.h.0.attn.attention.masked_bias', { dtype: 'float32', shape: [], data: new Float32Array(1) });
    });
    const { params } = await loadPretrained(dir);
    expect(params['lm_head.weight']).toBeUndefined();
    expect(Object.keys(params)).toHaveLength(56);
  });

  it('reports config and file problems as one-line loader errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'llm-transformer-'));
    temps.push(dir);
    await expect(loadPretrained(dir)).rejects.toThrow(/config\.json: cannot read/);
    await writeFile(join(dir, 'config.json'), await readFile(join(modelDir('gptneo'), 'config.json')));
    await expect(loadPretrained(dir)).rejects.toThrow(/no model\.safetensors or model\.safetensors\.index\.json/);
  });
});

describe('random init (Hugging Face style) and the model interface', () => {
  const neoConfig = parseConfig({ model_type: 'gpt_neo', vocab_size: 50, hidden_size: 64, num_layers: 2, num_heads: 4, max_position_embeddings: 32, attention_types: [[['global', 'local'], 1]], window_size: 4, intermediate_size: 128 }) as GPTNeoConfig;
  const qwenConfig = parseConfig({ model_type: 'qwen2', vocab_size: 50, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, pad_token_id: 3, tie_word_embeddings: false }) as Qwen2Config;

  it('normal(0, initializer_range) weights, zero biases, unit norms; deterministic per key; runs', async () => {
    for (const model of [gptNeo(neoConfig), qwen2(qwenConfig)]) {
      const p = model.init(prngKey(0));
      expect(Object.keys(p).sort()).toEqual([...model.parameterShapes().keys()].sort());
      for (const [name, t] of Object.entries(p)) {
        const v = Array.from(await t.data());
        expect(t.shape).toEqual(model.parameterShapes().get(name));
        if (/norm\.weight$|ln_(1|2|f)\.weight$/.test(name)) expect(v.every((x) => x === 1), name).toBe(true);
        else if (name.endsWith('.bias')) expect(v.every((x) => x === 0), name).toBe(true);
        else {
          const std = Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
          expect(Math.abs(std - 0.02), name).toBeLessThan(0.004);
        }
      }
      const again = model.init(prngKey(0));
      const first = Object.keys(p).find((n) => n.endsWith('weight') && !/norm|ln_/.test(n))!;
      expect(await again[first].data()).toEqual(await p[first].data());
      expect(await model.init(prngKey(1))[first].data()).not.toEqual(await p[first].data());
      const { logits } = model.apply(p, tensor(new Int32Array([1, 2, 3, 4]), [2, 2]));
      await evaluate(logits);
      expect(logits.shape).toEqual([2, 2, 50]);
    }
  });

  it("zeroes the embedding row of Qwen2's pad_token_id (nn.Embedding padding_idx)", async () => {
    const p = qwen2(qwenConfig).init(prngKey(0));
    const table = await p['model.embed_tokens.weight'].data();
    expect(table.slice(3 * 64, 4 * 64).every((x) => x === 0)).toBe(true);
    expect(table.slice(2 * 64, 3 * 64).some((x) => x !== 0)).toBe(true);
  });

  it('createModel dispatches on model_type; inputsEmbeds replace the token embeddings; logitsToKeep', async () => {
    const model = createModel(neoConfig);
    expect(model.config.model_type).toBe('gpt_neo');
    const p = model.init(prngKey(2));
    const ids = tensor(new Int32Array([5, 6, 7]), [1, 3]);
    const a = model.apply(p, ids);
    const embeds = embedding(p['transformer.wte.weight'], ids);
    const b = model.apply(p, null, { inputsEmbeds: embeds, logitsToKeep: 1 });
    await evaluate(a.logits, b.logits);
    expect(b.logits.shape).toEqual([1, 1, 50]);
    expect(Array.from(await b.logits.data())).toEqual(Array.from(await a.logits.data()).slice(2 * 50));
    expect(() => model.apply(p, null)).toThrow(/inputIds or inputsEmbeds/);
    expect(() => model.apply({}, ids)).toThrow(/missing parameter "transformer.wte.weight"/);
  });
});
