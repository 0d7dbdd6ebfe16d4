/** Reading safetensors files by path (Node): the file side of read.ts. */
import { fileSource } from './source-file.js';
import { readAll, readerFrom, type ReadOptions, type SafetensorsReader } from './read.js';
import type { TensorRecord } from '../records.js';

/**
 * Open a safetensors file and validate its header; tensors are read later, one at a time, by offset.
 * Use this for checkpoints too large to hold twice: read, convert and drop each tensor in turn.
 *
 * @example-skip reads a model.safetensors file in the working folder
 * @example
 * ```ts
 * const reader = await openSafetensors('model.safetensors');
 * try {
 *   for (const t of reader.header.tensors) console.log(t.name, t.dtype, t.shape);
 *   const wte = await reader.read('transformer.wte.weight'); // { dtype: 'float32', shape, data }
 * } finally {
 *   await reader.close();
 * }
 * ```
 */
export async function openSafetensors(path: string): Promise<SafetensorsReader> {
  return readerFrom(await fileSource(path));
}

/**
 * Read the tensors of one safetensors file into records (F16/BF16 widened exactly to float32), in data order.
 * Each tensor is read straight from the file by offset: the file is never held in memory as a whole.
 *
 * @example-skip reads a model.safetensors file in the working folder
 * @example
 * ```ts
 * const tensors = await readSafetensors('model.safetensors');
 * const wte = tensors.get('transformer.wte.weight')!;
 * console.log(wte.shape, wte.data.length);
 * ```
 */
export async function readSafetensors(path: string, opts: ReadOptions = {}): Promise<Map<string, TensorRecord>> {
  return readAll(await openSafetensors(path), opts);
}
