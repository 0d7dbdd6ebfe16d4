/**
 * Matmul and gather over tensors above a device kernel's limit run as several device kernels over tiles
 * (backends/gpujs/tiling.ts). LLM_MODULES_GPU_MAX_ELEMENTS lowers the limit so small shapes take the
 * tiled path; results are checked against plain JavaScript loops (float64 sums), and the number of gpu.js
 * kernels shows the tiles ran. Runs where webgpu is available (CI's webgpu step).
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';

const available = await T.isBackendAvailable('webgpu');
const LIMIT = 1000;

/** Deterministic values in [-1, 1) (no library code involved). */
const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, k) => (((k * 7919 + seed * 104729) % 2003) / 1001.5) - 1);

/** x [M, K] times the transpose of w [N, K], by loops. */
function headByLoop(x: Float32Array, w: Float32Array, M: number, K: number, N: number): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[m * N + n] += x[m * K + k] * w[n * K + k];
  return out;
}

const gpujsKernels = () => T.kernelStats.byPath.gpujs ?? 0;

async function run(t: T.Tensor): Promise<{ values: Float32Array; kernels: number }> {
  const before = gpujsKernels();
  await T.evaluate(t);
  return { values: Float32Array.from(await t.data()), kernels: gpujsKernels() - before };
}

function expectClose(got: Float32Array, want: ArrayLike<number>, tol = 1e-4): void {
  expect(got.length).toBe(want.length);
  for (let k = 0; k < want.length; k++) if (Math.abs(got[k] - want[k]) > tol) expect([k, got[k]]).toEqual([k, want[k]]);
}

afterEach(() => {
  delete process.env.LLM_MODULES_GPU_MAX_ELEMENTS;
  T.setBackend('cpu');
});

describe.skipIf(!available)('webgpu tiling of matmul and gather above the element limit', () => {
  it('a tied head x @ Wᵀ with W over the limit: one matmul per block of W rows, joined on the device', async () => {
    T.setBackend('webgpu');
    const [M, K, N] = [3, 24, 200];
    const x = values(M * K, 1);
    const w = values(N * K, 2);
    const want = headByLoop(x, w, M, K, N);
    const head = () => T.matmul(T.tensor(x, [M, K]), T.transpose(T.tensor(w, [N, K]), [1, 0]));
    const whole = await run(head());
    expect(whole.kernels).toBe(1);
    process.env.LLM_MODULES_GPU_MAX_ELEMENTS = String(LIMIT);
    const tiled = await run(head());
    expect(tiled.kernels).toBeGreaterThan(2); // blocks of W (each under 1000 elements) and their concat
    expectClose(tiled.values, want);
    expectClose(whole.values, want);
  });

  it('an output over the limit is joined on the host; a big left operand is split by rows', async () => {
    T.setBackend('webgpu');
    process.env.LLM_MODULES_GPU_MAX_ELEMENTS = String(LIMIT);
    const [M, K, N] = [8, 24, 300]; // output 2400 elements
    const x = values(M * K, 3);
    const w = values(N * K, 4);
    const out = T.matmul(T.tensor(x, [M, K]), T.transpose(T.tensor(w, [N, K]), [1, 0]));
    const r = await run(out);
    expect(r.kernels).toBeGreaterThan(2);
    expectClose(r.values, headByLoop(x, w, M, K, N));
    // A [300, 24] @ B [24, 16]: A over the limit (its rows), B below; B given as Bᵀ rows for the loop
    const a = values(300 * 24, 5);
    const bt = values(16 * 24, 6);
    const b = T.transpose(T.tensor(bt, [16, 24]), [1, 0]);
    const r2 = await run(T.matmul(T.tensor(a, [300, 24]), b));
    expectClose(r2.values, headByLoop(a, bt, 300, 24, 16));
  });

  it('a weight on the device over the (lowered) limit is tiled too, batched left operand', async () => {
    T.setBackend('webgpu');
    const [B, M, K, N] = [2, 2, 16, 100];
    const x = values(B * M * K, 7);
    const w = values(N * K, 8);
    const wDev = T.add(T.tensor(w, [N, K]), 0);
    await T.evaluate(wDev);
    process.env.LLM_MODULES_GPU_MAX_ELEMENTS = String(LIMIT);
    const r = await run(T.matmul(T.tensor(x, [B, M, K]), T.transpose(wDev, [1, 0])));
    expect(r.kernels).toBeGreaterThan(2);
    expectClose(r.values, headByLoop(x, w, B * M, K, N));
  });

  it('an embedding lookup over a table above the limit: one gather per block an id falls in, back in id order', async () => {
    T.setBackend('webgpu');
    const [V, D] = [300, 16];
    const table = values(V * D, 9);
    const ids = [5, 290, 7, 150, 5, -3, 999, 64];
    const want = ids.flatMap((j) => {
      const row = Math.min(Math.max(j, 0), V - 1); // clamped, as gather documents
      return Array.from(table.subarray(row * D, (row + 1) * D));
    });
    const lookup = () => T.gather(T.tensor(table, [V, D]), T.tensor(new Int32Array(ids), [2, 4]), 0);
    const whole = await run(lookup());
    expect(whole.kernels).toBe(1);
    process.env.LLM_MODULES_GPU_MAX_ELEMENTS = String(LIMIT);
    const t = lookup();
    expect(t.shape).toEqual([2, 4, D]);
    const tiled = await run(t);
    expect(tiled.kernels).toBeGreaterThan(2);
    expectClose(tiled.values, want, 0);
    expectClose(whole.values, want, 0);
  });
});
