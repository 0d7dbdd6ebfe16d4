/**
 * @llm-modules/bridge — cross-attention bridges from a frozen teacher LLM into a small student (LLM Modules,
 * arXiv 2502.08213): bridge variants as values (`defineBridge`) and a registry, the composed
 * teacher → bridge → student → head model, the future-token leak probe, incremental generation with the
 * teacher's KV cache, and bridge folders (save, load, describe).
 *
 * @example
 * ```ts
 * import { composeModel, leakProbe } from '@llm-modules/bridge';
 * import { loadConfig } from '@llm-modules/loaders';
 * import { createModel, loadPretrained } from '@llm-modules/transformer';
 * import { prngKey, tensor } from '@llm-modules/tensor';
 * const teacher = await loadPretrained('packages/bridge/test/fixtures/models/qwen2-tied');
 * const student = createModel(await loadConfig('packages/bridge/test/fixtures/models/gptneo'));
 * const model = composeModel({ teacher, student: { model: student }, bridge: { variant: 'enhanced', options: { heads: 4, adapterDim: 16 } } });
 * const params = model.init(prngKey(0));
 * const ids = tensor(new Int32Array([6, 1, 40, 23, 30]), [1, 5]);
 * console.log((await leakProbe(model, params, ids)).maxChange); // 0: the default bridge is causal
 * ```
 */
export type { BridgeContext, BridgeDefinition, BridgeDims, BridgeMemory, Params, StudentHook } from './types.js';
export { defineBridge, isCausal, presetBridge, resolveOptions } from './define.js';
export { BUILTIN_BRIDGES, getBridge, listBridges, registerBridge, unregisterBridge } from './registry.js';
export { enhanced, paperReleased, type EnhancedOptions } from './variants/enhanced.js';
export { flamingo, type FlamingoOptions } from './variants/flamingo.js';
export { calm, calmLayers, type CalmOptions } from './variants/calm.js';
export { gatedTokens, type GatedTokensOptions } from './variants/gated-tokens.js';
export { plain, type PlainOptions } from './variants/plain.js';
export { linearBridge, type LinearOptions } from './variants/linear.js';
export { attend, crossMask, dropout, layerNormInit, linearNamed, need, prefixed, queryWindow, rows, subKey, torchLinear, type AttendOptions } from './nn.js';
export {
  ONES,
  ZEROS,
  applyLinear,
  applyNorm,
  declareVars,
  initVars,
  readVars,
  torchLayerNormVars,
  torchLinearVars,
  type BridgeVars,
  type DeclaredVars,
  type LayerNormVars,
  type LinearVars,
  type VarInit,
} from './vars.js';
export { crossAttend, crossAttentionMemory, crossAttentionVars, type CrossAttentionVars } from './cross-attention.js';
export { studentStack, type StudentApplyOptions, type StudentStack } from './student.js';
export {
  RELEASED_NAMES,
  composeModel,
  type BridgeSpec,
  type ComposeOptions,
  type ComposedApplyOptions,
  type ComposedModel,
  type ComposedOutput,
  type ForwardOptions,
  type ParamNames,
  type ParameterCounts,
} from './compose.js';
export { leakProbe, probeFutureLeak, type LeakProbeResult, type ProbeOptions } from './probe.js';
export { generateComposed, type ComposedGenerateOptions, type ComposedGenerateResult } from './generate.js';
export { composedDecoder, type ComposedCache } from './decode.js';
export { BRIDGE_CONFIG_FILE, BRIDGE_FORMAT, BRIDGE_WEIGHTS_FILE, parseBridgeConfig, readBridgeConfigFrom, type BridgeFolderConfig } from './folder-config.js';
export { bridgeFiles, loadBridgeFrom, type BridgeFilesOptions } from './folder-load.js';
