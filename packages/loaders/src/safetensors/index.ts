export { DTYPE_BYTES, INDEX_FILE, MAX_HEADER_BYTES, SINGLE_FILE, numel, parseHeader, readHeaderLength } from './format.js';
export type { SafetensorsDType, SafetensorsHeader, TensorInfo } from './format.js';
export { openSafetensorsBuffer, readSafetensorsBuffer } from './read.js';
export type { ReadOptions, SafetensorsReader, TensorSelection } from './read.js';
export { encodeSafetensors } from './encode.js';
export type { WritableTensor, WritableTensors, WriteOptions } from './encode.js';
