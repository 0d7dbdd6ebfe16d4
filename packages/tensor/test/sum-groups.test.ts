/**
 * Sum groups (fusion/plan.ts sumGroups, backends/cpu/elementwise-sum.ts): a sum over all axes of a fused
 * group's root that nothing else reads runs inside the group's kernel, chunk by chunk, so `sum(mul(g, g))`
 * (a global gradient norm's square) never stores g². Checked: the same bits as the unfused mul-then-sum,
 * a float64 loop, no storage of g's size made, and the cases the rule must leave alone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import type { BackendName } from '../src/index.js';
import { mulberry32 as rng } from '../src/random.js';

const AVAILABLE = new Set(await T.listBackends());
const CPU_BACKENDS = (['webasm', 'threads', 'cpu'] as BackendName[]).filter((b) => AVAILABLE.has(b));

const randoms = (n: number, seed: number) => {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 2 * r() - 1;
  return out;
};

afterEach(() => T.setFusion(true));

/** Σ fround(x²) in float64, in index order (a different order from the kernel's: compared to 1e-6). */
function sumSquares64(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.fround(x[i] * x[i]);
  return s;
}

/** The value of `make()` evaluated, with the bytes of storage live at its peak beyond those live before. */
async function measured(make: () => T.Tensor): Promise<{ value: number; extraPeak: number; paths: Record<string, number> }> {
  const before = { ...T.kernelStats.byPath };
  T.memoryStats.peakBytes = T.memoryStats.liveBytes;
  const live = T.memoryStats.liveBytes;
  const t = make();
  const [value] = await t.data();
  const extraPeak = T.memoryStats.peakBytes - live;
  const paths: Record<string, number> = {};
  for (const [k, v] of Object.entries(T.kernelStats.byPath)) if (v !== (before[k] ?? 0)) paths[k] = v - (before[k] ?? 0);
  t.dispose();
  return { value, extraPeak, paths };
}

describe.each(CPU_BACKENDS)('sum groups on %s', (backend) => {
  // 37: the JavaScript loop; 4,097: the SIMD kernel on webasm/threads; 196,615: a two-level sum (primitives/reduce.ts),
  // whose first level (5 rows of 39,323 values, through a reshape of g²) is the sum group
  it.each([37, 4097, 3 * 65536 + 7])('sum(mul(g, g)) over %i floats: unfused bits, float64 value, no g²-sized storage', async (n) => {
    T.setBackend(backend);
    const x = randoms(n, n);
    const host = T.tensor(x, [n]); // a user array: outside wasm memory, copied in a chunk at a time
    const made = T.add(host, 0); // an op's output: in wasm memory when small enough, read in place
    await T.evaluate(host, made);
    for (const g of [host, made]) {
      const fused = await measured(() => T.sum(T.mul(g, g)));

      T.setFusion(false);
      const unfused = await measured(() => T.sum(T.mul(g, g)));
      T.setFusion(true);
      expect(fused.value).toBe(unfused.value);
      expect(Math.abs(fused.value - sumSquares64(x))).toBeLessThanOrEqual(1e-6 * sumSquares64(x));
      expect(unfused.extraPeak).toBeGreaterThanOrEqual(4 * n); // g² was stored...
      expect(fused.extraPeak).toBeLessThan(4 * n); // ...and now is not
      expect(fused.paths['cpu:program-sum']).toBe(1);
    }
    host.dispose();
    made.dispose();
  });

  it('a [rows, cols] input and a broadcast scalar factor: unfused bits; a transposed view takes the stored path, same bits', async () => {
    T.setBackend(backend);
    const [R, C] = [300, 517];
    const a = T.tensor(randoms(R * C, 7), [R, C]);
    const c = T.tensor([0.37]);
    const cases = [() => T.sum(T.mul(T.mul(a, c), a)), () => T.sum(T.mul(T.transpose(a, [1, 0]), T.transpose(a, [1, 0])), [0, 1])];
    for (const make of cases) {
      const fused = await measured(make);
      T.setFusion(false);
      const unfused = await measured(make);
      T.setFusion(true);
      expect(fused.value).toBe(unfused.value);
    }
    a.dispose();
    c.dispose();
  });

  it('row sums (a sum over the trailing axis) fuse with unfused bits; a requested root and a sum over a leading axis are left alone', async () => {
    T.setBackend(backend);
    const [R, C] = [64, 1000];
    const g = T.tensor(randoms(R * C, 3), [R, C]);
    const count = () => T.kernelStats.byPath['cpu:program-sum'] ?? 0;
    const c0 = count();
    const rowsFused = await T.sum(T.mul(g, g), [1]).data();
    expect(count()).toBe(c0 + 1);
    T.setFusion(false);
    const rowsUnfused = await T.sum(T.mul(g, g), [1]).data();
    T.setFusion(true);
    expect(Array.from(rowsFused)).toEqual(Array.from(rowsUnfused));
    const sq = T.mul(g, g);
    const total = T.sum(sq);
    await T.evaluate(sq, total); // g² asked for: stored, then summed
    const cols = T.sum(T.mul(g, g), [0]);
    await cols.data();
    expect(count()).toBe(c0 + 1);
    const sqv = await sq.data();
    let s = 0;
    for (let i = 0; i < R * C; i++) s += sqv[i];
    expect(Math.abs((await total.data())[0] - s)).toBeLessThanOrEqual(1e-6 * s);
    for (const t of [g, sq, total, cols]) t.dispose();
  });
});
