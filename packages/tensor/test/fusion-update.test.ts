/**
 * An optimizer update as the trainer builds it (packages/trainer: clip by global norm, then AdamW):
 * the clipped gradient `g·coef`, read by both moments, runs inside the update's one multi-output kernel
 * (fusion/plan.ts, mergeOutputs) instead of being stored by a kernel of its own; and updates over arrays
 * too large for WebAssembly memory run chunk by chunk (backends/cpu/elementwise-stream.ts), written
 * into a donated storage. Checked against float64 loops and against the unfused / in-memory kernels.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import type { BackendName, Tensor } from '../src/index.js';
import { mulberry32 as rng } from '../src/random.js';
import { existingRuntime } from '../src/backends/cpu/runtime.js';

const AVAILABLE = new Set(await T.listBackends());
const CPU_BACKENDS = (['webasm', 'threads', 'cpu'] as BackendName[]).filter((b) => AVAILABLE.has(b));

const randoms = (n: number, seed: number, lo = -1, hi = 1) => {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
};

afterEach(() => T.setFusion(true));

const [B1, B2, LR, WD, EPS, CLIP] = [0.9, 0.999, 1e-3, 0.01, 1e-8, 0.5];

/** AdamW (step 1) of the clipped gradient `g·coef`: new parameters, first and second moments. */
function update(p0: Tensor, m0: Tensor, v0: Tensor, g: Tensor, coef: Tensor): [Tensor, Tensor, Tensor] {
  const gc = T.mul(g, coef);
  const m = T.add(T.mul(m0, B1), T.mul(gc, 1 - B1));
  const v = T.add(T.mul(v0, B2), T.mul(T.mul(gc, gc), 1 - B2));
  const denom = T.add(T.div(T.sqrt(v), Math.sqrt(1 - B2)), EPS);
  const p = T.sub(T.mul(p0, 1 - LR * WD), T.mul(T.div(m, denom), LR / (1 - B1)));
  return [p, m, v];
}

/** The same in float64. */
function update64(p0: Float32Array, m0: Float32Array, v0: Float32Array, g: Float32Array, coef: number): Float64Array[] {
  const n = p0.length;
  const [p, m, v] = [new Float64Array(n), new Float64Array(n), new Float64Array(n)];
  for (let i = 0; i < n; i++) {
    const gc = g[i] * coef;
    m[i] = B1 * m0[i] + (1 - B1) * gc;
    v[i] = B2 * v0[i] + (1 - B2) * gc * gc;
    p[i] = p0[i] * (1 - LR * WD) - ((LR / (1 - B1)) * m[i]) / (Math.sqrt(v[i]) / Math.sqrt(1 - B2) + EPS);
  }
  return [p, m, v];
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, ctx: string): void {
  expect(got.length, ctx).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    const tol = 1e-6 + 1e-5 * Math.abs(want[i]);
    if (!(Math.abs(got[i] - want[i]) <= tol)) expect(got[i], `${ctx}[${i}]`).toBeCloseTo(want[i], 6);
  }
}

async function launches(fn: () => Promise<unknown>): Promise<number> {
  const k0 = T.kernelStats.launches;
  await fn();
  return T.kernelStats.launches - k0;
}

describe.each(CPU_BACKENDS)('a clipped AdamW update on %s', (backend) => {
  it('the clipped gradient runs inside the multi-output update (one kernel, not two); values as unfused and as float64', async () => {
    T.setBackend(backend);
    const n = 3 * 4096; // the SIMD kernels on webasm / threads
    const [p0, m0, g] = [1, 2, 3].map((s) => randoms(n, s));
    const v0 = randoms(n, 4, 0, 1);
    const norm = 1.7;
    const run = async (fused: boolean) => {
      T.setFusion(fused);
      const coef = T.minimum(T.div(CLIP, T.add(T.tensor([norm], []), 1e-6)), 1); // clipByGlobalNorm's factor
      await T.evaluate(coef);
      const out = update(...([p0, m0, v0, g].map((d) => T.tensor(d, [n])) as [Tensor, Tensor, Tensor, Tensor]), coef);
      const k = await launches(() => T.evaluate(...out));
      return { k, values: await Promise.all(out.map(async (t) => (await t.data()) as Float32Array)) };
    };
    const fused = await run(true);
    const unfused = await run(false);
    expect(T.getBackend().multiOutputGroups).toBe(true);
    expect(fused.k).toBe(1); // before: the clipped gradient's kernel, then the update's
    expect(unfused.k).toBe(15);
    const want = update64(p0, m0, v0, g, Math.min(CLIP / (norm + 1e-6), 1));
    for (let q = 0; q < 3; q++) {
      expectClose(fused.values[q], want[q], `fused output ${q}`);
      // float32 arithmetic op by op in the SIMD kernels: the same bits as one kernel per op
      if (backend !== 'cpu') expect(fused.values[q]).toEqual(unfused.values[q]);
      else expectClose(fused.values[q], unfused.values[q], `fused vs unfused ${q}`);
    }
  });

  it.skipIf(backend === 'cpu')('an update over arrays too large for wasm memory runs in chunks, into the donated storage: the same bits as in memory', async () => {
    T.setBackend(backend);
    const n = 8 * 2 ** 20 + 4099; // past the largest array kept in wasm memory (backends/cpu/buffers.ts), not a whole number of chunks
    const [p0, m0, g] = [5, 6, 7].map((s) => randoms(n, s));
    const v0 = randoms(n, 8, 0, 1);
    const coefValue = 0.75;
    const coef = T.tensor([coefValue], []);
    await T.add(T.tensor([1, 2], [2]), 1).data(); // the runtime exists
    const wasmBytes = () => existingRuntime()!.memory.buffer.byteLength;
    const before = wasmBytes();
    // step 1 makes the storage holding p, m and v; step 2 writes into it (donated)
    const first = update(...([p0, m0, v0, g].map((d) => T.tensor(d, [n])) as [Tensor, Tensor, Tensor, Tensor]), coef);
    await T.evaluate(...first);
    const storage = first[0].view!.storage;
    const firstValues = await Promise.all(first.map(async (t) => (await t.data()) as Float32Array));
    const g2 = randoms(n, 9);
    const second = update(first[0], first[1], first[2], T.tensor(g2, [n]), coef);
    T.donate(...first);
    await T.evaluate(...second);
    expect(second[0].view!.storage).toBe(storage);
    // chunks, not whole copies: wasm memory grew by less than one input (copied whole: 4 inputs and 3 outputs)
    expect(wasmBytes() - before).toBeLessThan(4 * n);
    const got = await Promise.all(second.map(async (t) => (await t.data()) as Float32Array));
    // reference: the same program on pieces that fit in wasm memory (over 4,096 elements: the SIMD kernel)
    for (const [lo, hi] of [[0, 5000], [65536 - 7, 65536 + 4096], [n - 4200, n]]) {
      const piece = (d: Float32Array) => T.tensor(d.slice(lo, hi), [hi - lo]);
      const once = update(...([p0, m0, v0, g].map(piece) as [Tensor, Tensor, Tensor, Tensor]), coef);
      const twice = update(once[0], once[1], once[2], piece(g2), coef);
      const want = await Promise.all(twice.map(async (t) => (await t.data()) as Float32Array));
      for (let q = 0; q < 3; q++) {
        const want1 = (await once[q].data()) as Float32Array;
        expect(firstValues[q].subarray(lo, hi), `step 1 output ${q} [${lo}, ${hi})`).toEqual(want1);
        expect(got[q].subarray(lo, hi), `step 2 output ${q} [${lo}, ${hi})`).toEqual(want[q]);
      }
      const w64 = update64(...([p0, m0, v0, g].map((d) => d.slice(lo, hi)) as [Float32Array, Float32Array, Float32Array, Float32Array]), coefValue);
      expectClose(firstValues[0].subarray(lo, hi), w64[0], 'step 1 vs float64');
    }
    for (const t of second) t.dispose();
  }, 60_000);
});

describe.each(CPU_BACKENDS)('large arrays on %s', (backend) => {
  it('a freed large output array is reused by the next output of its size (no fresh pages), with the right values', async () => {
    T.setBackend(backend);
    const n = 16 * 2 ** 20 + 5; // 64 MiB: past the largest array kept in wasm memory (backends/cpu/buffers.ts)
    // four freed outputs of other sizes fill the pool of small arrays (256 MiB)
    for (let k = 1; k <= 4; k++) {
      const t = T.add(T.broadcastTo(T.tensor([k], [1]), [n + k]), 0);
      await T.evaluate(t);
      t.dispose();
    }
    const a = randoms(n, 11);
    const first = T.add(T.tensor(a, [n]), 1);
    await T.evaluate(first);
    const array = first.view!.storage.data;
    first.dispose();
    const second = T.mul(T.tensor(a, [n]), 3);
    await T.evaluate(second);
    expect(second.view!.storage.data).toBe(array);
    const got = (await second.data()) as Float32Array;
    for (let i = 0; i < n; i += 4099) expect(got[i]).toBe(Math.fround(a[i] * 3));
    expect(got[n - 1]).toBe(Math.fround(a[n - 1] * 3));
    second.dispose();
  }, 60_000);
});
