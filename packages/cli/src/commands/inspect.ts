import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { CHECKPOINT_FILE, checkpointWeightsFile, inspectSafetensors, loadConfig, type ModelConfig } from '@llm-modules/loaders';
import { CliError, humanBytes, humanCount, thousands, type CliIO } from '../io.js';
import { inspectBridge, isBridgeFolder } from './inspect-bridge.js';
import { requireFolder } from './model.js';

export interface InspectOptions {
  json?: boolean;
  /** List every tensor (name, dtype, shape). */
  tensors?: boolean;
  /** a bridge folder's teacher, when its recorded one moved */
  teacher?: string;
}

const exists = (p: string) => access(p).then(() => true, () => false);

function configSummary(c: ModelConfig): Record<string, unknown> {
  const common = { vocab_size: c.vocab_size, hidden_size: c.hidden_size, max_position_embeddings: c.max_position_embeddings, tie_word_embeddings: c.tie_word_embeddings, torch_dtype: c.torch_dtype };
  if (c.model_type === 'gpt_neo') {
    return { ...common, num_layers: c.num_layers, num_heads: c.num_heads, intermediate_size: c.intermediate_size ?? 4 * c.hidden_size, attention_layers: c.attention_layers, window_size: c.window_size, activation_function: c.activation_function };
  }
  return { ...common, num_hidden_layers: c.num_hidden_layers, num_attention_heads: c.num_attention_heads, num_key_value_heads: c.num_key_value_heads, intermediate_size: c.intermediate_size, rope_theta: c.rope_theta, rms_norm_eps: c.rms_norm_eps, hidden_act: c.hidden_act };
}

/** Stored tensors that are not parameters: causal-mask and rotary buffers that old Hugging Face exports keep. */
const BUFFER = /(\.attn\.attention\.(bias|masked_bias)|\.rotary_emb\.inv_freq)$/;
const EMBEDDINGS = ['transformer.wte.weight', 'model.embed_tokens.weight'];

/**
 * Why a stored tensor is not counted as a parameter: a buffer, or `lm_head.weight` stored beside the embedding it is
 * tied to (the same parameter twice); null for a parameter.
 * @example `notAParameter('transformer.h.0.attn.attention.bias', names, config) // 'buffer'`
 */
export function notAParameter(name: string, names: ReadonlySet<string>, config: ModelConfig | null): 'buffer' | 'tied' | null {
  if (BUFFER.test(name)) return 'buffer';
  const tied = config ? config.tie_word_embeddings !== false : false;
  if (name === 'lm_head.weight' && tied && EMBEDDINGS.some((e) => names.has(e))) return 'tied';
  return null;
}

/**
 * `llm-modules inspect DIR`: model type, config summary, tensor count, parameter count, dtypes and total bytes of a
 * Hugging Face model folder (single or sharded safetensors) or a checkpoint folder. Reads headers only.
 *
 * @example-skip needs a model folder (the CLI README's first snippet makes one and runs inspect)
 * @example
 * ```ts
 * await inspect('models/qwen2-untied-bf16-sharded', { json: true }, processIO);
 * ```
 */
export async function inspect(dir: string, opts: InspectOptions, io: CliIO): Promise<void> {
  await requireFolder(dir, 'inspect');
  if (await isBridgeFolder(dir)) return inspectBridge(dir, opts, io);
  if (opts.teacher !== undefined) throw new CliError(`--teacher: ${dir} is not a bridge folder (only a bridge folder has a teacher)`);
  const hasConfig = await exists(join(dir, 'config.json'));
  const config = hasConfig ? await loadConfig(dir) : null;
  const isCheckpoint = !(await exists(join(dir, 'model.safetensors'))) && !(await exists(join(dir, 'model.safetensors.index.json'))) && (await exists(join(dir, CHECKPOINT_FILE)));
  if (!hasConfig && !isCheckpoint && !(await exists(dir))) throw new CliError(`${dir}: no such folder`);
  const weights = await inspectSafetensors(isCheckpoint ? await checkpointWeightsFile(dir) : dir);
  const dtypes: Record<string, { tensors: number; parameters: number; bytes: number }> = {};
  const names = new Set(weights.tensors.map((t) => t.name));
  const notCounted = { buffer: { tensors: 0, values: 0 }, tied: { tensors: 0, values: 0 } };
  let parameters = 0;
  for (const t of weights.tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    const d = (dtypes[t.dtype] ??= { tensors: 0, parameters: 0, bytes: 0 });
    d.tensors++;
    d.bytes += t.end - t.begin;
    const why = notAParameter(t.name, names, config);
    if (why) {
      notCounted[why].tensors++;
      notCounted[why].values += size;
    } else {
      d.parameters += size;
      parameters += size;
    }
  }
  const report = {
    path: dir,
    model_type: config?.model_type ?? null,
    architectures: config?.architectures ?? [],
    config: config ? configSummary(config) : null,
    files: weights.files,
    tensor_count: weights.tensors.length,
    parameter_count: parameters,
    // stored but not parameters: buffers (attention masks, rotary frequencies) and a tied head's copy of the embedding
    not_counted: { buffers: notCounted.buffer, tied: notCounted.tied },
    dtypes,
    total_bytes: weights.totalBytes,
    ...(opts.tensors ? { tensors: weights.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })) } : {}),
  };
  if (opts.json) {
    io.stdout(`${JSON.stringify(report)}\n`);
    return;
  }
  const lines = [
    `path         ${dir}`,
    `model_type   ${report.model_type ?? '(no config.json)'}${report.architectures.length ? ` (${report.architectures.join(', ')})` : ''}`,
  ];
  if (report.config) lines.push(`config       ${Object.entries(report.config).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : v}`).join(' ')}`);
  lines.push(
    `files        ${weights.files.length}: ${weights.files.map((f) => f.slice(f.lastIndexOf('/') + 1)).join(', ')}`,
    `tensors      ${report.tensor_count}`,
    `parameters   ${thousands(report.parameter_count)} (${humanCount(report.parameter_count)})${notCountedText(notCounted)}`,
    `dtypes       ${Object.entries(dtypes).map(([d, s]) => `${d} ${s.tensors} tensors ${thousands(s.parameters)} params`).join('; ')}`,
    `total bytes  ${thousands(report.total_bytes)} (${humanBytes(report.total_bytes)})`,
  );
  if (report.tensors) for (const t of report.tensors) lines.push(`  ${t.name}  ${t.dtype}  [${t.shape.join(', ')}]`);
  io.stdout(`${lines.join('\n')}\n`);
}

function notCountedText(n: { buffer: { tensors: number; values: number }; tied: { tensors: number; values: number } }): string {
  const parts = [];
  if (n.buffer.tensors) parts.push(`${n.buffer.tensors} buffers (${thousands(n.buffer.values)} values)`);
  if (n.tied.tensors) parts.push(`lm_head.weight (${thousands(n.tied.values)} values, tied to the embedding)`);
  return parts.length ? `; not counted: ${parts.join(', ')}` : '';
}
