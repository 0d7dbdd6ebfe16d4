/**
 * In-place outputs (a primitive's `inPlace` input, evaluate.ts deadInput): the cross-entropy gradient writes
 * into its logits when they are an intermediate of the same evaluation that nothing reads afterwards, as in a
 * training step (a paper-scale head's [512, 151,646] logits: 310 MB of fresh pages saved per step). Checked:
 * the same bits as the gradient of logits that stay alive (a fresh output), no second logits-sized storage,
 * and the logits left alone when something still reads them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import type { BackendName } from '../src/index.js';
import { mulberry32 as rng } from '../src/random.js';

const AVAILABLE = new Set(await T.listBackends());
const CPU_BACKENDS = (['webasm', 'threads', 'cpu'] as BackendName[]).filter((b) => AVAILABLE.has(b));

function inputs(n: number, c: number, seed: number): [Float32Array, Float32Array, Float32Array] {
  const r = rng(seed);
  const x = Float32Array.from({ length: n * c }, () => 8 * r() - 4);
  const labels = Float32Array.from({ length: n }, (_, i) => (i % 7 === 3 ? -100 : Math.floor(r() * c)));
  const g = Float32Array.from({ length: n }, () => r());
  if (n * c > 40) [x[5], x[c + 2], x[2 * c]] = [NaN, Infinity, -Infinity]; // rows 0–2: NaN rows, and row 2's −∞
  return [x, labels, g];
}

afterEach(() => T.memoryStats.peakBytes = T.memoryStats.liveBytes);

describe.each(CPU_BACKENDS)('the cross-entropy gradient in place on %s', (backend) => {
  // [16, 37]: special values; [256, 1000]: in wasm memory (rows over threads); [1024, 8200]: 8.4 M floats, too
  // large for wasm memory, run a block of rows at a time through scratch (chunks.ts)
  it.each([
    [16, 37],
    [256, 1000],
    [1024, 8200],
  ])('[%i, %i]: the bits of a fresh output, and no second logits-sized storage', async (n, c) => {
    T.setBackend(backend);
    const [xv, lv, gv] = inputs(n, c, n + c);
    const [x, labels, g] = [T.tensor(xv, [n, c]), T.cast(T.tensor(lv, [n]), 'int32'), T.tensor(gv, [n])];
    await T.evaluate(x, labels, g);
    // logits made by an op in the same evaluation (an intermediate, as a model's head output is)
    const live = T.memoryStats.liveBytes;
    T.memoryStats.peakBytes = live;
    const inPlace = T.softmaxCrossEntropyGrad(T.mul(x, 1), labels, g);
    const got = await inPlace.data();
    const peak = T.memoryStats.peakBytes - live;
    // the same logits kept alive (requested): the gradient gets fresh storage
    const logits = T.mul(x, 1);
    const fresh = T.softmaxCrossEntropyGrad(logits, labels, g);
    await T.evaluate(logits, fresh);
    const want = await fresh.data();
    expect(got.length).toBe(n * c);
    let same = true;
    for (let i = 0; i < got.length && same; i++) same = Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i]));
    expect(same).toBe(true);
    expect(peak).toBeLessThan(2 * 4 * n * c); // logits and gradient in one storage (a fresh one would need two)
    expect(peak).toBeGreaterThanOrEqual(4 * n * c);
    // the logits were not overwritten where they are still read: still x
    const lx = await logits.data();
    for (let i = 0; i < lx.length; i += 97) expect(Object.is(lx[i], xv[i]) || (Number.isNaN(lx[i]) && Number.isNaN(xv[i]))).toBe(true);
    for (const t of [x, labels, g, inPlace, logits, fresh]) t.dispose();
  });
});
