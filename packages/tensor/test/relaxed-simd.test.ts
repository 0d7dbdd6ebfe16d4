/**
 * Both GEMM builds (backends/cpu/relaxed-simd.ts): the 6×8 tile with relaxed SIMD's fused multiply-add, which
 * this Node runs, and the 5×8 mul + add tile that engines without relaxed SIMD get
 * (`LLM_MODULES_RELAXED_SIMD=0`). Each is loaded as a fresh copy of the package and checked on matmul
 * against a float64 product, within the float32 error bound of a K-term dot product, on shapes that hit
 * full tiles, the partial micro-panels (M mod 5 and M mod 6), edge columns, two K slabs and both operand
 * layouts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

type TensorModule = typeof import('../src/index.js');

async function freshPackage(relaxed: '0' | undefined): Promise<{ T: TensorModule; fma: boolean; MR: number }> {
  vi.resetModules();
  vi.unstubAllEnvs();
  if (relaxed !== undefined) vi.stubEnv('LLM_MODULES_RELAXED_SIMD', relaxed);
  const T = await import('../src/index.js');
  const { getRuntime } = await import('../src/backends/cpu/runtime.js');
  T.setBackend('webasm');
  const { fma, MR } = getRuntime().kernels.gemm;
  return { T, fma, MR };
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

/** Deterministic values in [-1, 1) (an LCG), so a failure reproduces. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const SHAPES: [number, number, number][] = [
  [1, 3, 1],
  [5, 64, 8],
  [6, 64, 8],
  [7, 1, 9],
  [13, 300, 20],
  [64, 257, 33],
  [31, 64, 64],
];

async function checkMatmuls(T: TensorModule): Promise<void> {
  for (const [M, K, N] of SHAPES) {
    for (const transA of [false, true]) {
      const a = values(M * K, M * 31 + K);
      const b = values(K * N, N * 17 + K);
      // A(i, k) is a[i·K + k] in both layouts; the transposed case stores it column-major and reads it back through transpose
      const aStored = transA ? Float32Array.from({ length: M * K }, (_, j) => a[(j % M) * K + Math.floor(j / M)]) : a;
      const at = transA ? T.transpose(T.tensor(aStored, [K, M])) : T.tensor(aStored, [M, K]);
      const got = await T.matmul(at, T.tensor(b, [K, N])).data();
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let ref = 0;
          let mag = 0;
          for (let k = 0; k < K; k++) {
            ref += a[i * K + k] * b[k * N + j];
            mag += Math.abs(a[i * K + k] * b[k * N + j]);
          }
          const bound = (K + 1) * 2 ** -24 * mag + 1e-30;
          const err = Math.abs(got[i * N + j] - ref);
          if (!(err <= bound)) expect.fail(`[${M},${K}]@[${K},${N}]${transA ? ' (Aᵀ stored)' : ''} at (${i}, ${j}): ${got[i * N + j]} vs ${ref}, error ${err} > ${bound}`);
        }
      }
    }
  }
}

describe('GEMM with and without relaxed SIMD', () => {
  it('this Node compiles relaxed SIMD (turned on through V8 on Node 20), so the FMA kernels are the ones tested in CI', async () => {
    const [major, minor] = process.versions.node.split('.').map(Number);
    const { fma, MR } = await freshPackage(undefined);
    if (major > 20 || (major === 20 && minor >= 16)) expect(fma).toBe(true);
    expect(MR).toBe(fma ? 6 : 5);
  });

  it('the 6×8 fused multiply-add kernels match a float64 product', async () => {
    const { T, fma } = await freshPackage(undefined);
    if (!fma) return; // engines without relaxed SIMD: the next case covers what they run
    await checkMatmuls(T);
  });

  it('LLM_MODULES_RELAXED_SIMD=0: the 5×8 mul + add kernels, matching a float64 product', async () => {
    const { T, fma, MR } = await freshPackage('0');
    expect([fma, MR]).toEqual([false, 5]);
    await checkMatmuls(T);
  });
});
