/**
 * An embedding lookup from a table too large to live in WebAssembly memory (over 8 M floats: a paper-scale
 * vocabulary) reads only the gathered rows: before, the wasm gather copied the whole table into scratch
 * first (933 MB for Qwen2-1.5B's embedding, to read 512 rows), growing the runtime's memory by the table.
 */
import { describe, expect, it } from 'vitest';
import { existingRuntime } from '../src/backends/cpu/runtime.js';
import { wasmAddress } from '../src/backends/cpu/buffers.js';
import * as T from '../src/index.js';

describe('gather from a table outside wasm memory', () => {
  it('is exact and does not copy the table into scratch', async () => {
    T.setBackend('webasm');
    // start the runtime with a small op, then note its memory size
    await T.evaluate(T.gather(T.tensor([[1, 2], [3, 4]]), T.tensor(new Int32Array([1])), 0));
    const rt = existingRuntime();
    expect(rt).toBeDefined();
    const [V, D] = [10_241, 1_024]; // 10.5 M floats (42 MB): stays a plain array
    const table = new Float32Array(V * D);
    for (let i = 0; i < table.length; i++) table[i] = (i % 9973) - 4986;
    const x = T.tensor(table, [V, D]);
    await T.evaluate(x);
    expect(wasmAddress(x.view!.storage.data as Float32Array)).toBeUndefined();
    const before = rt!.memory.buffer.byteLength;
    const ids = [7, 0, V - 1, 5_000, -3, V + 10]; // out of range: clamped
    const out = T.gather(x, T.tensor(new Int32Array(ids), [2, 3]), 0);
    const got = (await out.data()) as Float32Array;
    expect(out.shape).toEqual([2, 3, D]);
    ids.forEach((id, i) => {
      const row = Math.min(Math.max(id, 0), V - 1);
      expect(Array.from(got.subarray(i * D, (i + 1) * D))).toEqual(Array.from(table.subarray(row * D, (row + 1) * D)));
    });
    // the old path took the table's 42 MB as scratch: the memory grew by 27 MB past its first 16 MB
    expect(rt!.memory.buffer.byteLength - before).toBeLessThan(V * D); // a quarter of the table's bytes
  });
});
