/**
 * The pool of large freed arrays (backends/cpu/buffers.ts): an array of 64 MiB or more is kept once per size past
 * the 256 MiB cap of the small arrays (up to 512 MiB), because a training step frees and makes the same large arrays
 * every step and a fresh one page-faults. A file of its own: the pool is module state, and this test needs it empty.
 */
import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import type { BackendName } from '../src/index.js';

const AVAILABLE = new Set(await T.listBackends());
const backend = (['webasm', 'threads', 'cpu'] as BackendName[]).find((b) => AVAILABLE.has(b))!;

describe(`large arrays on ${backend}`, () => {
  it('a freed array larger than the 256 MiB cap of small arrays is reused by the next output of its size', async () => {
    T.setBackend(backend);
    // 280 MiB: the old rule (one 256 MiB cap for every size) dropped it, and the next output page-faulted a fresh one
    const n = 70 * 2 ** 20;
    const make = (k: number) => T.add(T.broadcastTo(T.tensor([k], [1]), [n]), 0);
    const first = make(2);
    await T.evaluate(first);
    const array = first.view!.storage.data;
    first.dispose();
    const next = make(5);
    await T.evaluate(next);
    expect(next.view!.storage.data === array).toBe(true); // (not toBe(array): a failure would print 70 M floats)
    const got = (await next.data()) as Float32Array;
    for (let i = 0; i < n; i += 1_000_003) expect(got[i]).toBe(5);
    expect(got[n - 1]).toBe(5);
    next.dispose();
  }, 60_000);
});
