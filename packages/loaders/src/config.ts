import { ConfigError } from './errors.js';

/** Fields every Hugging Face `config.json` may carry, beside the model-specific ones. */
export interface BaseConfig {
  vocab_size: number;
  hidden_size: number;
  max_position_embeddings: number;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  pad_token_id: number | null;
  tie_word_embeddings: boolean;
  /** Storage dtype of the checkpoint as saved ('float32', 'bfloat16', 'float16'…), when given. */
  torch_dtype: string | null;
  initializer_range: number;
  architectures: string[];
}

/** `gpt_neo` config with the field names of `config.json`; `attention_layers` is expanded from `attention_types`. */
export interface GPTNeoConfig extends BaseConfig {
  model_type: 'gpt_neo';
  num_layers: number;
  num_heads: number;
  /** `null` means 4 × hidden_size (Hugging Face's rule). */
  intermediate_size: number | null;
  window_size: number;
  attention_types: Array<[Array<'global' | 'local'>, number]>;
  attention_layers: Array<'global' | 'local'>;
  activation_function: string;
  layer_norm_epsilon: number;
  embed_dropout: number;
  attention_dropout: number;
  resid_dropout: number;
}

/** `qwen2` config with the field names of `config.json`. */
export interface Qwen2Config extends BaseConfig {
  model_type: 'qwen2';
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  hidden_act: string;
  rms_norm_eps: number;
  rope_theta: number;
  use_sliding_window: boolean;
  sliding_window: number | null;
  max_window_layers: number;
  attention_dropout: number;
}

export type ModelConfig = GPTNeoConfig | Qwen2Config;
export const MODEL_TYPES = ['gpt_neo', 'qwen2'] as const;

type Json = Record<string, unknown>;

class Fields {
  constructor(
    readonly json: Json,
    readonly file: string,
  ) {}
  private fail(key: string, what: string): never {
    throw new ConfigError(this.file, `"${key}" ${what}`);
  }
  /** A positive integer that must be present (it fixes a parameter's shape). */
  required(key: string): number {
    if (!(key in this.json) || this.json[key] === null) this.fail(key, `is missing (required for ${this.json.model_type})`);
    return this.int(key, 0, 1);
  }
  int(key: string, dflt: number, min = 0): number {
    const v = this.json[key] ?? dflt;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) this.fail(key, `must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    return v;
  }
  num(key: string, dflt: number): number {
    const v = this.json[key] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, `must be a number, got ${JSON.stringify(v)}`);
    return v;
  }
  bool(key: string, dflt: boolean): boolean {
    const v = this.json[key] ?? dflt;
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }
  str(key: string, dflt: string): string {
    const v = this.json[key] ?? dflt;
    if (typeof v !== 'string') this.fail(key, `must be a string, got ${JSON.stringify(v)}`);
    return v;
  }
  optInt(key: string, dflt: number | null): number | null {
    return this.json[key] === undefined ? dflt : this.json[key] === null ? null : this.int(key, 0);
  }
  tokenId(key: string, dflt: number | null): number | number[] | null {
    const v = this.json[key];
    if (Array.isArray(v)) return v.map((_, i) => new Fields({ [key]: v[i] }, this.file).int(key, 0));
    return this.optInt(key, dflt);
  }
  base(defaults: { tie: boolean; maxPos?: number; bos: number | null; eos: number | null }): BaseConfig {
    const arch = this.json.architectures ?? [];
    if (!Array.isArray(arch) || !arch.every((a) => typeof a === 'string')) this.fail('architectures', 'must be a list of strings');
    const dtype = this.json.torch_dtype ?? null;
    if (dtype !== null && typeof dtype !== 'string') this.fail('torch_dtype', 'must be a string');
    const maxPos = defaults.maxPos === undefined ? this.required('max_position_embeddings') : this.int('max_position_embeddings', defaults.maxPos, 1);
    return {
      vocab_size: this.required('vocab_size'),
      hidden_size: this.required('hidden_size'),
      max_position_embeddings: maxPos,
      bos_token_id: this.optInt('bos_token_id', defaults.bos),
      eos_token_id: this.tokenId('eos_token_id', defaults.eos),
      pad_token_id: this.optInt('pad_token_id', null),
      tie_word_embeddings: this.bool('tie_word_embeddings', defaults.tie),
      torch_dtype: dtype as string | null,
      initializer_range: this.num('initializer_range', 0.02),
      architectures: arch as string[],
    };
  }
}

/** GPT-Neo's `attention_types` `[[["global","local"], 2]]` → `["global","local","global","local"]`. */
export function expandAttentionTypes(types: unknown, file: string): Array<'global' | 'local'> {
  const bad = () => new ConfigError(file, `"attention_types" must look like [[["global","local"], N]], got ${JSON.stringify(types)}`);
  if (!Array.isArray(types)) throw bad();
  const out: Array<'global' | 'local'> = [];
  for (const item of types) {
    if (!Array.isArray(item) || item.length !== 2 || !Array.isArray(item[0]) || !Number.isSafeInteger(item[1]) || item[1] < 0) throw bad();
    const [kinds, times] = item as [unknown[], number];
    if (!kinds.every((k) => k === 'global' || k === 'local')) throw bad();
    for (let i = 0; i < times; i++) out.push(...(kinds as Array<'global' | 'local'>));
  }
  return out;
}

function gptNeo(f: Fields): GPTNeoConfig {
  const base = f.base({ tie: true, bos: 50256, eos: 50256 });
  const num_layers = f.required('num_layers');
  const num_heads = f.required('num_heads');
  if (base.hidden_size % num_heads !== 0) throw new ConfigError(f.file, `"hidden_size" ${base.hidden_size} is not divisible by "num_heads" ${num_heads}`);
  const attention_types = (f.json.attention_types ?? [[['global', 'local'], 12]]) as GPTNeoConfig['attention_types'];
  const attention_layers = expandAttentionTypes(attention_types, f.file);
  if (attention_layers.length !== num_layers) {
    throw new ConfigError(f.file, `"attention_types" expands to ${attention_layers.length} layers but "num_layers" is ${num_layers}`);
  }
  const stored = f.json.attention_layers;
  if (stored !== undefined && JSON.stringify(stored) !== JSON.stringify(attention_layers)) {
    throw new ConfigError(f.file, `"attention_layers" ${JSON.stringify(stored)} disagrees with "attention_types" (${JSON.stringify(attention_layers)})`);
  }
  return {
    ...base,
    model_type: 'gpt_neo',
    num_layers,
    num_heads,
    intermediate_size: f.optInt('intermediate_size', null),
    window_size: f.int('window_size', 256, 1),
    attention_types,
    attention_layers,
    activation_function: f.str('activation_function', 'gelu_new'),
    layer_norm_epsilon: f.num('layer_norm_epsilon', 1e-5),
    embed_dropout: f.num('embed_dropout', 0),
    attention_dropout: f.num('attention_dropout', 0),
    resid_dropout: f.num('resid_dropout', 0),
  };
}

function qwen2(f: Fields): Qwen2Config {
  const base = f.base({ tie: false, maxPos: 32768, bos: null, eos: null });
  const num_attention_heads = f.required('num_attention_heads');
  const num_key_value_heads = f.int('num_key_value_heads', num_attention_heads, 1);
  const num_hidden_layers = f.required('num_hidden_layers');
  if (base.hidden_size % num_attention_heads !== 0) {
    throw new ConfigError(f.file, `"hidden_size" ${base.hidden_size} is not divisible by "num_attention_heads" ${num_attention_heads}`);
  }
  if (num_attention_heads % num_key_value_heads !== 0) {
    throw new ConfigError(f.file, `"num_attention_heads" ${num_attention_heads} is not a multiple of "num_key_value_heads" ${num_key_value_heads}`);
  }
  if (f.json.rope_scaling !== undefined && f.json.rope_scaling !== null) {
    throw new ConfigError(f.file, `"rope_scaling" ${JSON.stringify(f.json.rope_scaling)} is not supported (only plain RoPE)`);
  }
  return {
    ...base,
    model_type: 'qwen2',
    intermediate_size: f.required('intermediate_size'),
    num_hidden_layers,
    num_attention_heads,
    num_key_value_heads,
    hidden_act: f.str('hidden_act', 'silu'),
    rms_norm_eps: f.num('rms_norm_eps', 1e-6),
    rope_theta: f.num('rope_theta', 10000),
    use_sliding_window: f.bool('use_sliding_window', false),
    sliding_window: f.optInt('sliding_window', 4096),
    max_window_layers: f.int('max_window_layers', 28),
    attention_dropout: f.num('attention_dropout', 0),
  };
}

/**
 * Validate a parsed `config.json` object into a typed config. Shape-defining fields (vocab_size, hidden_size,
 * layer and head counts, intermediate_size for Qwen2, max_position_embeddings for GPT-Neo) are required;
 * the others take Hugging Face's defaults. `file` names the source in errors.
 *
 * @example
 * ```ts
 * const cfg = parseConfig({ model_type: 'qwen2', vocab_size: 96, hidden_size: 48, intermediate_size: 80,
 *   num_hidden_layers: 3, num_attention_heads: 6, num_key_value_heads: 2 });
 * cfg.model_type === 'qwen2' && cfg.num_key_value_heads; // 2
 * ```
 */
export function parseConfig(json: unknown, file = 'config.json'): ModelConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ConfigError(file, 'not a JSON object');
  const mt = (json as Json).model_type;
  if (mt === undefined) throw new ConfigError(file, '"model_type" is missing');
  const f = new Fields(json as Json, file);
  if (mt === 'gpt_neo') return gptNeo(f);
  if (mt === 'qwen2') return qwen2(f);
  throw new ConfigError(file, `unknown model_type ${JSON.stringify(mt)} (supported: ${MODEL_TYPES.join(', ')})`);
}
