/**
 * Bridge folders (written by `train` in mode "bridge": `bridge_config.json` + `bridge.safetensors`) as models for
 * `eval` and `generate`: the bridge package's loader (its teacher from the recorded path) and a tokenizer from the
 * recorded tokenizer folder, else the teacher's folder.
 */
import { isAbsolute, resolve } from 'node:path';
import { isBridgeFolder, loadBridge, type ComposedModel } from '@llm-modules/bridge';
import { loadTokenizer, type Tokenizer } from '@llm-modules/loaders';
import type { Tensor } from '@llm-modules/tensor';
import type { Params } from '@llm-modules/transformer';

export { isBridgeFolder };

export interface BridgeModel {
  model: ComposedModel;
  params: Params;
  tokenizer: Tokenizer | null;
  /** what `eval`/`generate` need of a config */
  config: { model_type: string; vocab_size: number; max_position_embeddings: number; eos_token_id: number[] };
  /** `[B, T, V]` logits of right-padded ids */
  logits(ids: Tensor, attentionMask?: Tensor): Tensor;
}

const ids = (v: unknown): number[] => (Array.isArray(v) ? v : typeof v === 'number' ? [v] : []).filter((x): x is number => Number.isInteger(x));

/**
 * Load a bridge folder with its frozen teacher (from the folder's recorded teacher path).
 * @example `const b = await loadBridgeModel('runs/bridge'); b.logits(ids)`
 */
export async function loadBridgeModel(dir: string): Promise<BridgeModel> {
  const { model, params, config } = await loadBridge(dir);
  const at = (p: string) => (isAbsolute(p) ? p : resolve(dir, p));
  const candidates = [config.extra.tokenizer, config.teacher.path].filter((p): p is string => typeof p === 'string').map(at);
  let tokenizer: Tokenizer | null = null;
  for (const c of candidates) {
    tokenizer = await loadTokenizer(c).catch(() => null);
    if (tokenizer) break;
  }
  const tc = model.teacher.model.config;
  return {
    model,
    params,
    tokenizer,
    config: { model_type: `bridge (${config.variant})`, vocab_size: model.vocabSize, max_position_embeddings: Math.min(model.student.maxPositions, tc.max_position_embeddings), eos_token_id: ids(tc.eos_token_id) },
    logits: (x, attentionMask) => model.apply(params, x, { attentionMask }).logits,
  };
}
