import { open, type FileHandle } from 'node:fs/promises';
import { parquetMetadataAsync, parquetReadObjects, type AsyncBuffer } from 'hyparquet';
import { DatasetError, describeFsError } from '../errors.js';

/** An AsyncBuffer over a file handle: hyparquet reads only the byte ranges it needs (footer, then column chunks). */
function fileBuffer(fh: FileHandle, size: number): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start: number, end = size) {
      const out = new Uint8Array(Math.max(0, end - start));
      let done = 0;
      while (done < out.length) {
        const { bytesRead } = await fh.read(out, done, out.length - done, start + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return out.buffer;
    },
  };
}

/**
 * Stream the rows of a Parquet file as plain objects, one row group at a time (nested lists and structs
 * become arrays and objects; INT64 values are bigints).
 */
export async function* streamParquet(file: string): AsyncGenerator<{ value: Record<string, unknown>; index: number }> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    throw new DatasetError(file, `cannot open: ${describeFsError(err)}`, {}, { cause: err });
  }
  try {
    const buffer = fileBuffer(fh, (await fh.stat()).size);
    let metadata;
    try {
      metadata = await parquetMetadataAsync(buffer);
    } catch (err) {
      throw new DatasetError(file, `not a valid Parquet file (${(err as Error).message})`);
    }
    let rowStart = 0;
    for (const group of metadata.row_groups) {
      const rowEnd = rowStart + Number(group.num_rows);
      let rows: Record<string, unknown>[];
      try {
        rows = await parquetReadObjects({ file: buffer, metadata, rowStart, rowEnd });
      } catch (err) {
        throw new DatasetError(file, `cannot decode rows ${rowStart}..${rowEnd - 1} (${(err as Error).message})`, { row: rowStart });
      }
      for (let i = 0; i < rows.length; i++) yield { value: rows[i], index: rowStart + i };
      rowStart = rowEnd;
    }
  } finally {
    await fh.close();
  }
}
