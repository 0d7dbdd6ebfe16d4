/** Safetensors files straight to Tensors (Node entry). */
import type { Tensor } from '@llm-modules/tensor';
import { loadSafetensors } from './safetensors/sharded.js';
import type { ReadOptions } from './safetensors/read.js';
import { toTensors } from './tensors.js';

/**
 * Load a model's weights (file, index or folder; F32/F16/BF16) as Tensors keyed by their safetensors names.
 * Each tensor is read by offset and handed to the tensor core without a further copy.
 *
 * @example
 * ```ts
 * import { mkdtempSync } from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * const file = join(mkdtempSync(join(tmpdir(), 'weights-')), 'model.safetensors');
 * await writeSafetensors(file, { 'model.norm.weight': { dtype: 'float32', shape: [4], data: new Float32Array([1, 1, 1, 1]) } });
 * const params = await loadSafetensorsAsTensors(file); // a file, a folder, or a sharded folder
 * console.log(await params['model.norm.weight'].data()); // Float32Array(4) [1, 1, 1, 1]
 * ```
 */
export async function loadSafetensorsAsTensors(path: string, opts: ReadOptions = {}): Promise<Record<string, Tensor>> {
  return toTensors(await loadSafetensors(path, opts));
}
