import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, expandAttentionTypes, loadConfig, parseConfig } from '../src/node.js';
import { fixture, tempDir } from './helpers.js';

const raw = async (p: string) => JSON.parse(await readFile(fixture(p), 'utf8')) as Record<string, unknown>;

describe('Hugging Face configs', () => {
  it('loads the GPT-Neo fixture, expanding attention_types into attention_layers', async () => {
    const cfg = await loadConfig(fixture('models/gptneo'));
    expect(cfg.model_type).toBe('gpt_neo');
    if (cfg.model_type !== 'gpt_neo') return;
    expect(cfg.attention_layers).toEqual(['global', 'local', 'global', 'local']);
    expect(cfg).toMatchObject({ vocab_size: 96, hidden_size: 32, num_layers: 4, num_heads: 4, intermediate_size: 64, window_size: 5, max_position_embeddings: 64 });
    expect(cfg).toMatchObject({ activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, bos_token_id: 95, eos_token_id: 95, pad_token_id: null, tie_word_embeddings: true, torch_dtype: 'float32' });
  });

  it('loads the Qwen2 fixtures (tied float32, untied bf16) and the real Qwen2-1.5B-Instruct config', async () => {
    const tied = await loadConfig(fixture('models/qwen2-tied/config.json'));
    expect(tied).toMatchObject({ model_type: 'qwen2', num_attention_heads: 6, num_key_value_heads: 2, rope_theta: 1e6, rms_norm_eps: 1e-6, tie_word_embeddings: true, torch_dtype: 'float32', use_sliding_window: false, sliding_window: 128 });
    const untied = await loadConfig(fixture('models/qwen2-untied-bf16-sharded'));
    expect(untied).toMatchObject({ model_type: 'qwen2', tie_word_embeddings: false, torch_dtype: 'bfloat16' });
    const real = await loadConfig(fixture('configs/qwen2-1.5b-instruct'));
    expect(real).toMatchObject({ model_type: 'qwen2', vocab_size: 151936, hidden_size: 1536, intermediate_size: 8960, num_hidden_layers: 28, num_attention_heads: 12, num_key_value_heads: 2, tie_word_embeddings: true, bos_token_id: 151643, eos_token_id: 151645, torch_dtype: 'bfloat16' });
  });

  it('takes Hugging Face defaults for optional fields (Qwen2 unties embeddings by default, KV heads = heads)', () => {
    const cfg = parseConfig({ model_type: 'qwen2', vocab_size: 10, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2 });
    expect(cfg).toMatchObject({ num_key_value_heads: 2, tie_word_embeddings: false, rope_theta: 10000, max_position_embeddings: 32768, torch_dtype: null });
    const neo = parseConfig({ model_type: 'gpt_neo', vocab_size: 10, hidden_size: 8, num_layers: 2, num_heads: 2, max_position_embeddings: 16, attention_types: [[['global'], 2]] });
    expect(neo).toMatchObject({ tie_word_embeddings: true, window_size: 256, intermediate_size: null, attention_layers: ['global', 'global'] });
  });

  it('unknown model_type, missing required field, bad values: one-line ConfigError naming the file', async () => {
    const base = await raw('models/qwen2-tied/config.json');
    expect(() => parseConfig({ ...base, model_type: 'llama' }, 'x/config.json')).toThrow(new ConfigError('x/config.json', 'unknown model_type "llama" (supported: gpt_neo, qwen2)'));
    const { hidden_size: _h, ...noHidden } = base;
    expect(() => parseConfig(noHidden, 'x/config.json')).toThrow(new ConfigError('x/config.json', '"hidden_size" is missing (required for qwen2)'));
    expect(() => parseConfig({ ...base, num_key_value_heads: 4 }, 'c')).toThrow(/"num_attention_heads" 6 is not a multiple of "num_key_value_heads" 4/);
    expect(() => parseConfig({ ...base, rope_theta: 'big' }, 'c')).toThrow(/"rope_theta" must be a number/);
    expect(() => parseConfig({ ...base, rope_scaling: { type: 'yarn', factor: 4 } }, 'c')).toThrow(/rope_scaling/);
    const { model_type: _m, ...noType } = base;
    expect(() => parseConfig(noType, 'c')).toThrow(/"model_type" is missing/);
    const neo = await raw('models/gptneo/config.json');
    expect(() => parseConfig({ ...neo, num_layers: 6 }, 'c')).toThrow(/"attention_types" expands to 4 layers but "num_layers" is 6/);
    expect(() => parseConfig({ ...neo, attention_layers: ['global', 'global', 'global', 'local'] }, 'c')).toThrow(/disagrees with "attention_types"/);
    expect(() => expandAttentionTypes([['global', 2]], 'c')).toThrow(ConfigError);

    const dir = await tempDir();
    await expect(loadConfig(dir)).rejects.toThrow(new ConfigError(join(dir, 'config.json'), 'cannot read: no such file or folder'));
    await writeFile(join(dir, 'config.json'), '{"model_type": ');
    await expect(loadConfig(dir)).rejects.toThrow(/config\.json: not valid JSON/);
  });
});
