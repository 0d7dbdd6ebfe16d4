/** The tiny released bridge of the fixtures (`test/fixtures/bridge`, on top of `models/qwen2-tied`). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadSafetensorsAsTensors, parseConfig, type GPTNeoConfig } from '@llm-modules/loaders';
import { tensor, type Tensor } from '@llm-modules/tensor';
import { gptNeo, loadPretrained, type Pretrained } from '@llm-modules/transformer';
import { composeModel, type ComposedModel, type Params } from '../src/index.js';

export const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

export interface GoldenArray {
  shape: number[];
  dtype: 'float32' | 'int64';
  data: number[];
}
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

/** max |a − e| over positions whose mask is 1 (all trailing dims), and max |e| there. */
export function maxDiffValid(actual: ArrayLike<number>, expected: GoldenArray, mask: GoldenArray): { maxAbs: number; maxRef: number } {
  const [B, T] = mask.shape;
  const inner = expected.data.length / (B * T);
  let maxAbs = 0;
  let maxRef = 0;
  for (let p = 0; p < B * T; p++) {
    if (!mask.data[p]) continue;
    for (let i = p * inner; i < (p + 1) * inner; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(actual[i] - expected.data[i]));
      maxRef = Math.max(maxRef, Math.abs(expected.data[i]));
    }
  }
  return { maxAbs, maxRef };
}

/** max |a − e| and max |e| over every element. */
export function maxDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): { maxAbs: number; maxRef: number } {
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(actual[i] - expected[i]));
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  return { maxAbs, maxRef };
}
