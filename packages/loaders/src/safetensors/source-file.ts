/** The file side of ByteSource (Node): a file read by offset through a file handle. */
import { open, type FileHandle } from 'node:fs/promises';
import { SafetensorsError, describeFsError } from '../errors.js';
import type { ByteSource } from './source.js';

/** Chunk size for one `read` call: keeps each call well under the 2 GiB limit of a single read. */
const CHUNK = 1 << 30;

/** Open `path` for reading by offset. Nothing is read until `read` is called. */
export async function fileSource(path: string): Promise<ByteSource> {
  let fh: FileHandle;
  let size: number;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new SafetensorsError(path, `cannot open: ${describeFsError(err)}`, { cause: err });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new SafetensorsError(path, 'not a regular file');
    size = st.size;
  } catch (err) {
    await fh.close();
    if (err instanceof SafetensorsError) throw err;
    throw new SafetensorsError(path, `cannot stat: ${describeFsError(err)}`, { cause: err });
  }
  return {
    label: path,
    size,
    async read(offset, into) {
      let done = 0;
      while (done < into.length) {
        const len = Math.min(CHUNK, into.length - done);
        const { bytesRead } = await fh.read(into, done, len, offset + done);
        if (bytesRead === 0) throw new SafetensorsError(path, `file ended at byte ${offset + done} while reading (was it truncated while open?)`);
        done += bytesRead;
      }
    },
    close: () => fh.close(),
  };
}
