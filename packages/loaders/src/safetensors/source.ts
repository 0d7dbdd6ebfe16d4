
/** Random-access bytes: a file read by offset through a file handle, or a buffer in memory. */
export interface ByteSource {
  readonly label: string;
  readonly size: number;
  /** Fill `into` with the bytes at `offset` (the caller has checked the range against `size`). */
  read(offset: number, into: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** A byte source over a buffer in memory (copies out on read, so records never alias the input). */
export function bufferSource(bytes: Uint8Array, label = '<buffer>'): ByteSource {
  return {
    label,
    size: bytes.length,
    async read(offset, into) {
      into.set(bytes.subarray(offset, offset + into.length));
    },
    async close() {},
  };
}
