/** The tiny released bridge of the fixtures (`test/fixtures/bridge`, on top of `models/qwen2-tied`). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadSafetensorsAsTensors, parseConfig, type GPTNeoConfig } from '@llm-modules/loaders';
import { tensor, type Tensor } from '@llm-modules/tensor';
import { gptNeo, loadPretrained, type Pretrained } from '@llm-modules/transformer';
import { composeModel, type ComposedModel, type Params } from '../src/index.js';
import type { GoldenArray } from '../../../test-utils/golden.js';
export { maxDiff, maxDiffValid, type GoldenArray } from '../../../test-utils/golden.js';

export const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

export interface BridgeGolden {
  causal: boolean;
  input_ids: GoldenArray;
  attention_mask: GoldenArray;
  labels: GoldenArray;
  logits: GoldenArray;
  loss: number;
  loss_float64_port: number;
  intermediates: Record<string, GoldenArray>;
  grads: Record<string, GoldenArray>;
  adamw: { lr: number; betas: [number, number]; eps: number; weight_decay: number; max_grad_norm: number; steps: Array<{ step: number; loss_before_step: number; grad_global_norm_before_clip: number; clip_coef: number }> };
  future_token_probe: { changed: [number, number]; max_abs_logit_change_at_earlier_positions: number };
}

const goldens = new Map<boolean, BridgeGolden>();
export function golden(causal: boolean): BridgeGolden {
  if (!goldens.has(causal)) goldens.set(causal, JSON.parse(readFileSync(fixture(`bridge/golden_causal_${causal}.json`), 'utf8')));
  return goldens.get(causal)!;
}
export const bridgeConfig = () => JSON.parse(readFileSync(fixture('bridge/bridge_config.json'), 'utf8'));
export const ints = (a: GoldenArray): Tensor => tensor(Int32Array.from(a.data), a.shape);

let teacher: Promise<Pretrained> | null = null;
export const loadTeacher = () => (teacher ??= loadPretrained(fixture('models/qwen2-tied')));
export const studentConfig = () => parseConfig(bridgeConfig().gptneo_config) as GPTNeoConfig;

/** The fixture's composed model (`enhanced`, 2 layers, 4 heads, adapter 16, head 90) with the given mask setting. */
export async function fixtureModel(causal: boolean): Promise<ComposedModel> {
  const cfg = bridgeConfig();
  return composeModel({
    teacher: await loadTeacher(),
    student: { model: gptNeo(studentConfig()) },
    bridge: { variant: 'enhanced', options: { layers: cfg.num_cross_layers, heads: cfg.num_heads, adapterDim: cfg.adapter_dim, causal } },
    head: { vocabSize: cfg.new_vocab_size },
  });
}
export const fixtureParams = (): Promise<Params> => loadSafetensorsAsTensors(fixture('bridge/bridge.safetensors'));
