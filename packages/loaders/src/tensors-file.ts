/** Safetensors files straight to Tensors (Node entry). */
import { bfloat16Array, bfloat16Tensor, type Tensor } from '@llm-modules/tensor';
import { loadEach } from './safetensors/sharded.js';
import type { ReadOptions } from './safetensors/read.js';
import { toTensor } from './tensors.js';

export interface TensorLoadOptions extends ReadOptions {
  /**
   * Keep BF16 matrices (rank ≥ 2) as their bits: bfloat16-resident tensors (`bfloat16Tensor`), decoded inside
   * the kernels — half the memory of float32, read straight into place (no float32 copy at any time). For
   * frozen weights: gradients with respect to them are refused. On the CPU backend's WebAssembly modes they are read
   * straight into a weight bank (`bfloat16Array`), where decoding reads them in place. Default: widen to float32.
   */
  keepBFloat16?: boolean;
}

/**
 * Load a model's weights (file, index or folder; F32/F16/BF16) as Tensors keyed by their safetensors names.
 * Each tensor is read by offset and handed to the tensor core without a further copy; with `keepBFloat16`,
 * BF16 matrices stay bfloat16 in memory.
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
 * const kept = await loadSafetensorsAsTensors(file, { keepBFloat16: true }); // BF16 matrices as bfloat16 bits
 * ```
 */
export async function loadSafetensorsAsTensors(path: string, opts: TensorLoadOptions = {}): Promise<Record<string, Tensor>> {
  const loaded = await loadEach(path, opts, async (reader, t) => {
    if (opts.keepBFloat16 && t.dtype === 'BF16' && t.shape.length >= 2) {
      // read straight into their place: a weight bank on the CPU backend's WebAssembly modes (bfloat16Array)
      const bits = bfloat16Array((t.end - t.begin) / 2);
      await reader.readBytes(t.name, new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength));
      return bfloat16Tensor(bits, t.shape.slice());
    }
    return toTensor(await reader.read(t.name));
  });
  return Object.fromEntries(loaded);
}
