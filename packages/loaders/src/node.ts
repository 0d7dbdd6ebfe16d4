/**
 * The Node entry (export condition `node`, and the default): everything of the browser-safe index plus
 * the loaders that read and write file paths (node:fs, node:path, node:crypto, node:readline).
 */
export * from './index.js';
export * from './safetensors/node.js';
export { loadSafetensorsAsTensors, type TensorLoadOptions } from './tensors-file.js';
export { loadConfig } from './config-file.js';
export { readJsonFile } from './json-file.js';
export { loadTokenizer } from './tokenizer/tokenizer-file.js';
export * from './datasets/index.js';
export * from './checkpoint.js';
export { writeFileAtomic } from './atomic.js';
export { localFolder } from './files/local.js';
