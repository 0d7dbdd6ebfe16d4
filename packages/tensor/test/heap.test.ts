/**
 * Tensor storage in WebAssembly memory (backends/cpu/heap.ts, backends/cpu/buffers.ts): the block allocator's invariants
 * under random alloc/free sequences, and the fast paths reading and writing such storage in place.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Heap, BLOCK_ALIGN } from '../src/backends/cpu/heap.js';
import { existingRuntime } from '../src/backends/cpu/runtime.js';
import { wasmAddress } from '../src/backends/cpu/buffers.js';
import * as T from '../src/index.js';

const BASE = 1000; // not aligned on purpose: the heap rounds up

/** alloc (size in bytes) or free (index into the live list) */
const op = fc.oneof(fc.record({ alloc: fc.integer({ min: 1, max: 5000 }) }), fc.record({ free: fc.nat() }));

describe('Heap', () => {
  it('keeps live blocks aligned, disjoint and accounted; freeing everything returns to the base', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        let grownTo = 0;
        const heap = new Heap(BASE, (end) => ((grownTo = Math.max(grownTo, end)), true));
        const live: { at: number; bytes: number }[] = [];
        for (const o of ops) {
          if ('alloc' in o) {
            const at = heap.alloc(o.alloc);
            expect(at % BLOCK_ALIGN).toBe(0);
            expect(at).toBeGreaterThanOrEqual(BASE);
            expect(at + o.alloc).toBeLessThanOrEqual(grownTo);
            live.push({ at, bytes: heap.sizeOf(at)! });
            expect(heap.sizeOf(at)).toBeGreaterThanOrEqual(o.alloc);
          } else if (live.length) {
            const [b] = live.splice(o.free % live.length, 1);
            heap.free(b.at);
            heap.free(b.at); // a second free is ignored
          }
          const sorted = [...live].sort((a, b) => a.at - b.at);
          for (let k = 1; k < sorted.length; k++) expect(sorted[k].at).toBeGreaterThanOrEqual(sorted[k - 1].at + sorted[k - 1].bytes);
          expect(heap.liveBytes).toBe(live.reduce((s, b) => s + b.bytes, 0));
          if (sorted.length) expect(heap.extent).toBeGreaterThanOrEqual(sorted.at(-1)!.at + sorted.at(-1)!.bytes);
        }
        for (const b of live) heap.free(b.at);
        expect(heap.liveBytes).toBe(0);
        expect(heap.extent).toBe(Math.ceil(BASE / BLOCK_ALIGN) * BLOCK_ALIGN); // coalesced back into the bump pointer
      }),
      { numRuns: 200 },
    );
  });

  it('reuses a freed block of the same size and fills holes best-fit', () => {
    const heap = new Heap(0, () => true);
    const a = heap.alloc(640);
    const b = heap.alloc(64);
    const c = heap.alloc(128);
    heap.alloc(64);
    heap.free(a);
    heap.free(c);
    expect(heap.alloc(128)).toBe(c); // the exact fit, not the larger hole at a
    expect(heap.alloc(100)).toBe(a); // split off the front of the 640-byte hole
    expect(heap.alloc(512)).toBe(a + 128); // its remainder
    heap.free(b);
    expect(heap.extent).toBe(640 + 64 + 128 + 64);
  });

  it('answers -1 and stays unchanged when the memory cannot grow', () => {
    const heap = new Heap(0, (end) => end <= 4096);
    const a = heap.alloc(4000);
    expect(heap.alloc(200)).toBe(-1);
    heap.free(a);
    expect(heap.liveBytes).toBe(0);
    expect(heap.alloc(4096)).toBe(0);
  });
});

describe.runIf((await T.listBackends()).includes('webasm'))('storage in wasm memory', () => {
  it('fast-path outputs live in wasm memory, feed the next op in place and are freed on dispose', async () => {
    const prev = T.getBackend().name;
    T.setBackend('webasm');
    try {
      const a = T.tensor(Float32Array.from({ length: 64 * 48 }, (_, i) => ((i * 37) % 11) - 5), [64, 48]);
      const b = T.tensor(Float32Array.from({ length: 48 * 32 }, (_, i) => ((i * 13) % 7) - 3), [48, 32]);
      const c = T.matmul(a, b); // [64, 32], from host arrays (copied in)
      await T.evaluate(c);
      const data = c.view!.storage.data!;
      expect(wasmAddress(data)).toBeDefined();
      const heap = existingRuntime()!.heap;
      const d = T.matmul(T.transpose(c), c); // reads c in place
      const values = await d.data();
      const ca = await c.data();
      // float64 oracle of cᵀc from c's values
      for (const [i, j] of [[0, 0], [5, 17], [31, 2]]) {
        let s = 0;
        for (let k = 0; k < 64; k++) s += ca[k * 32 + i] * ca[k * 32 + j];
        expect(values[i * 32 + j]).toBeCloseTo(s, 1);
      }
      expect(wasmAddress(ca)).toBeUndefined(); // data() hands out a copy, never the storage itself
      const before = heap.liveBytes;
      c.dispose();
      expect(heap.liveBytes).toBe(before - 64 * 32 * 4); // its block went back
      d.dispose();
    } finally {
      T.setBackend(prev);
    }
  });

  it('adopts a host tensor a kernel reads into wasm memory once, keeping its values and the caller\'s array', async () => {
    const prev = T.getBackend().name;
    T.setBackend('webasm');
    try {
      const user = Float32Array.from({ length: 32 * 32 }, (_, i) => (i % 9) - 4);
      const copy = user.slice();
      const w = T.tensor(user, [32, 32]);
      const first = await T.matmul(w, w).data();
      const storage = w.view!.storage;
      const at = wasmAddress(storage.data!);
      expect(at).toBeDefined(); // adopted: read in place from now on
      expect(storage.data).not.toBe(user);
      expect(Array.from(await w.data())).toEqual(Array.from(copy));
      expect(Array.from(await T.matmul(w, w).data())).toEqual(Array.from(first));
      expect(user).toEqual(copy); // the caller's array is never written or recycled
      const heap = existingRuntime()!.heap;
      const live = heap.liveBytes;
      w.dispose();
      expect(heap.liveBytes).toBe(live - 32 * 32 * 4);
    } finally {
      T.setBackend(prev);
    }
  });
});
