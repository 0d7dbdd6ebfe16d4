export * from './errors.js';
export type { FloatStorage, TensorLike, TensorRecord } from './records.js';
export * from './safetensors/index.js';
export { loadSafetensorsAsTensors, toTensor, toTensors } from './tensors.js';
export type { Tensor, TensorFactory } from './tensors.js';
export * from './config.js';
export * from './tokenizer/index.js';
