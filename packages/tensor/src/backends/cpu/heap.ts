/**
 * A block allocator over the WebAssembly memory: tensor storage of the CPU fast paths lives there, so the
 * kernels read their inputs and write their outputs in place instead of copying every operand into
 * scratch memory and every result out again (issue #8: those copies were ~20 % of a small training step).
 *
 * Best fit over the free blocks, exact-size reuse first (a training loop allocates the same sizes every
 * step), neighbours coalesced on free, and the highest free block given back to the bump pointer, so a
 * large temporary (the paper-scale LM head's 0.8 GB of scratch) leaves no hole behind.
 */

/** Blocks are multiples of 64 bytes (one cache line; keeps SIMD loads aligned). */
export const BLOCK_ALIGN = 64;

export class Heap {
  /** first byte past the highest block ever carved */
  private top: number;
  private readonly freeAt = new Map<number, number>(); // address → bytes
  private readonly freeEnd = new Map<number, number>(); // end → address
  private readonly live = new Map<number, number>(); // address → bytes
  /** bytes in live blocks */
  liveBytes = 0;

  /**
   * @param base first usable byte address
   * @param ensure makes bytes below `end` addressable (grows the memory); false when it cannot
   */
  constructor(
    base: number,
    private readonly ensure: (end: number) => boolean,
  ) {
    this.top = Math.ceil(base / BLOCK_ALIGN) * BLOCK_ALIGN;
  }

  /** Byte address of a new block of at least `bytes` bytes, or -1 when the memory cannot grow that far. */
  alloc(bytes: number): number {
    const size = Math.max(BLOCK_ALIGN, Math.ceil(bytes / BLOCK_ALIGN) * BLOCK_ALIGN);
    let best = -1;
    let bestSize = Infinity;
    for (const [at, s] of this.freeAt) {
      if (s >= size && s < bestSize) {
        best = at;
        bestSize = s;
        if (s === size) break;
      }
    }
    if (best >= 0) {
      this.takeFree(best);
      if (bestSize > size) this.addFree(best + size, bestSize - size);
      return this.carve(best, size);
    }
    // extend the highest free block (if it ends at the top) or start a new one at the top
    const last = this.freeEnd.get(this.top);
    const start = last ?? this.top;
    if (!this.ensure(start + size)) return -1;
    if (last !== undefined) this.takeFree(last);
    this.top = start + size;
    return this.carve(start, size);
  }

  /** Return a block; unknown addresses (and second frees) are ignored. */
  free(at: number): void {
    const size = this.live.get(at);
    if (size === undefined) return;
    this.live.delete(at);
    this.liveBytes -= size;
    let start = at;
    let end = at + size;
    const before = this.freeEnd.get(start);
    if (before !== undefined) {
      this.takeFree(before);
      start = before;
    }
    const after = this.freeAt.get(end);
    if (after !== undefined) {
      this.takeFree(end);
      end += after;
    }
    if (end === this.top) this.top = start;
    else this.addFree(start, end - start);
  }

  /** Bytes of a live block (undefined when `at` is not one). */
  sizeOf(at: number): number | undefined {
    return this.live.get(at);
  }

  /** Bytes from the base to the highest block (live or free). */
  get extent(): number {
    return this.top;
  }

  private carve(at: number, size: number): number {
    this.live.set(at, size);
    this.liveBytes += size;
    return at;
  }

  private addFree(at: number, size: number): void {
    this.freeAt.set(at, size);
    this.freeEnd.set(at + size, at);
  }

  private takeFree(at: number): void {
    const size = this.freeAt.get(at)!;
    this.freeAt.delete(at);
    this.freeEnd.delete(at + size);
  }
}
