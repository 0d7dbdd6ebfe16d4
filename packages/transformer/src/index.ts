/**
 * @llm-modules/transformer — transformer blocks, GPT-Neo and Qwen2 exactly as Hugging Face computes them,
 * a KV cache and `generate`, as pure functions over parameter trees keyed by safetensors names.
 *
 * @example
 * ```ts
 * import { evaluate, tensor } from '@llm-modules/tensor';
 * import { generate, loadPretrained } from '@llm-modules/transformer';
 * const { model, params } = await loadPretrained('packages/transformer/test/fixtures/models/qwen2-tied');
 * const { logits } = model.apply(params, tensor(new Int32Array([1, 2, 3]), [1, 3]));
 * await evaluate(logits);
 * const { sequences } = await generate(model, params, [1, 2, 3], { maxNewTokens: 4 });
 * ```
 */
export { linear, embedding } from './nn/linear.js';
export { ACT2FN, activation, gelu, geluNew, relu, silu } from './nn/activations.js';
export { layerNorm, rmsNorm } from './nn/norms.js';
export { gptNeoMLP, swiGLU, type GPTNeoMLPParams, type SwiGLUParams } from './nn/mlp.js';
export { applyRotary, rotaryCosSin, rotaryInvFreq, rotateHalf } from './nn/rope.js';
export {
  MASK_VALUE,
  andMasks,
  causalMask,
  crossAttention,
  mergeHeads,
  maskParts,
  paddingMask,
  scaledDotProductAttention,
  splitHeads,
  splitJointHeads,
  type AttentionOptions,
  type CausalMaskOptions,
  type CrossAttentionOptions,
  type CrossAttentionParams,
  type MaskParts,
} from './nn/attention.js';
export { IGNORE_INDEX, causalLMLoss, chunkedCausalLMLoss, crossEntropy, crossEntropySum, labelsFromMask, shiftedLabels } from './nn/loss.js';
export { cacheTensors, createKVCache, disposeCache, writeCache, type CacheShape, type KVCache } from './cache.js';
export { gptNeo, gptNeoBlock, gptNeoParameterShapes, type GPTNeoMask } from './models/gpt-neo.js';
export { qwen2, qwen2Layer, qwen2ParameterShapes } from './models/qwen2.js';
export { declaredParameters, layerNormVars, linearVars, readParameters, type InitRule, type VarBuilder } from './nn/var-builder.js';
export { createModel, parameterInit } from './models/index.js';
export { param } from './models/common.js';
export type { ApplyOptions, ApplyOutput, CausalLM, GPTNeoModel, InitKind, ParameterInit, ParameterRoles, Params, Qwen2Model } from './models/types.js';
export { WeightsMismatchError, checkWeights, loadPretrainedFrom, type LoadOptions, type Pretrained } from './load.js';
export { generate, leftPad, type Decodable, type FinishReason, type GenerateOptions, type GenerateResult } from './generate.js';
export { applyRepetitionPenalty, argmaxOf, chooseToken, warpedProbabilities, type SamplingOptions } from './sampling.js';
