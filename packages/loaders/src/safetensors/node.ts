/** The safetensors functions that take file paths (Node entry only). */
export { openSafetensors, readSafetensors } from './read-file.js';
export { forEachSafetensor, inspectSafetensors, loadSafetensors, locateWeights, readShardIndex } from './sharded.js';
export type { LocatedTensorInfo, SafetensorsSummary, WeightsLocation } from './sharded.js';
export { writeSafetensors } from './write.js';
