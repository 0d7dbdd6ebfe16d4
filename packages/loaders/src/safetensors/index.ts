export { DTYPE_BYTES, MAX_HEADER_BYTES, numel, parseHeader, readHeaderLength } from './format.js';
export type { SafetensorsDType, SafetensorsHeader, TensorInfo } from './format.js';
export { openSafetensors, openSafetensorsBuffer, readSafetensors, readSafetensorsBuffer } from './read.js';
export type { ReadOptions, SafetensorsReader, TensorSelection } from './read.js';
export { INDEX_FILE, SINGLE_FILE, forEachSafetensor, inspectSafetensors, loadSafetensors, locateWeights, readShardIndex } from './sharded.js';
export type { LocatedTensorInfo, SafetensorsSummary, WeightsLocation } from './sharded.js';
export { writeSafetensors } from './write.js';
export type { WritableTensor, WritableTensors, WriteOptions } from './write.js';
