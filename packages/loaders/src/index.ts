/**
 * The browser-safe entry (export conditions `browser` and, for types, the browser condition): loaders
 * over bytes, `fetch` Responses, Blobs/Files and FileFolders; no Node built-in is imported. Node gets
 * node.ts, which adds the loaders that take file paths.
 */
export * from './errors.js';
export type { FloatStorage, ReadableTensor, TensorRecord } from './records.js';
export * from './safetensors/index.js';
export { toTensor, toTensors } from './tensors.js';
export type { Tensor } from './tensors.js';
export * from './config.js';
export * from './tokenizer/index.js';
export { normalizeRow, toChatMessages, type Row, type Turn } from './datasets/rows.js';
export { flattenTree } from './tree.js';
export { asFolder, filesFolder, httpFolder, readBytes, type ByteInput, type FileFolder, type FileMap } from './files/folder.js';
export { loadConfigFrom, loadSafetensorsFrom } from './files/load.js';
