/** `writeSafetensors`: the layout of encode.ts streamed into a file, atomically (Node entry). */
import { LoaderError, SafetensorsError, describeFsError } from '../errors.js';
import { writeAll, writeFileAtomic } from '../atomic.js';
import { encode, layout, loadData, type WritableTensors, type WriteOptions } from './encode.js';

export type { WritableTensor, WritableTensors, WriteOptions } from './encode.js';

/**
 * Write tensors to a safetensors file, byte for byte as the Rust `safetensors` library lays it out (header with
 * `__metadata__` first, tensors ordered by dtype then name, header padded with spaces to a multiple of 8).
 * The file is written to a temp file and renamed into place: a failure never leaves a half-written `path`.
 * Tensors are fetched and written one at a time.
 *
 * @example
 * ```ts
 * await writeSafetensors('/tmp/w.safetensors', {
 *   'w': { dtype: 'float32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
 *   'ids': { dtype: 'int32', shape: [3], data: new Int32Array([7, 8, 9]) },
 * }, { dtype: 'BF16', metadata: { note: 'demo' } });
 * ```
 */
export async function writeSafetensors(path: string, tensors: WritableTensors, opts: WriteOptions = {}): Promise<void> {
  const { head, header, pending } = layout(path, tensors, opts);
  try {
    await writeFileAtomic(path, async (fh) => {
      await writeAll(fh, head);
      await writeAll(fh, header);
      for (const p of pending) await writeAll(fh, encode(p, await loadData(p, path), path));
    });
  } catch (err) {
    if (err instanceof LoaderError) throw err;
    throw new SafetensorsError(path, `cannot write: ${describeFsError(err)}`, { cause: err });
  }
}
