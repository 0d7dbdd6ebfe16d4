/**
 * bfloat16-resident tensors (src/bf16.ts): matmul and gather with a bfloat16 operand, on every CPU mode and the
 * reference backend, against float64 loops over the decoded values (independent math: bf16 → f32 is exact, so
 * only the float32 summation order differs). Block sizes are lowered so that the kernels' blocked paths run
 * several blocks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import type { BackendName, Tensor } from '../src/index.js';
import { vjp } from '../../autograd/src/index.js';
import { bf16Tuning } from '../src/backends/cpu/matmul-bf16.js';
import { bankTuning } from '../src/backends/cpu/banks.js';
import { mulberry32 } from '../src/random.js';

const AVAILABLE = new Set(await T.listBackends());
const BACKENDS = (['reference', 'cpu', 'webasm', 'threads'] as BackendName[]).filter((b) => AVAILABLE.has(b));

/** Random bf16 bits of values in about (-2, 2), some exact zeros and negatives. */
function randomBits(n: number, seed: number): Uint16Array {
  const r = mulberry32(seed);
  return T.encodeBFloat16(Float32Array.from({ length: n }, () => (r() < 0.05 ? 0 : (r() - 0.5) * 4)));
}
const randomFloats = (n: number, seed: number): Float32Array => {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (r() - 0.5) * 2);
};

/** C[m, n] = Σ_k A(m, k) B(k, n) in float64, with A(m, k) = a[m·ars + k·acs], B likewise; and Σ|products| for the tolerance. */
function product(a: ArrayLike<number>, ars: number, acs: number, b: ArrayLike<number>, brs: number, bcs: number, M: number, N: number, K: number): [Float64Array, Float64Array] {
  const c = new Float64Array(M * N);
  const mag = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      let t = 0;
      for (let k = 0; k < K; k++) {
        const p = a[m * ars + k * acs] * b[k * brs + n * bcs];
        s += p;
        t += Math.abs(p);
      }
      c[m * N + n] = s;
      mag[m * N + n] = t;
    }
  }
  return [c, mag];
}

function expectClose(got: ArrayLike<number>, [want, mag]: [Float64Array, Float64Array]): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) - 1e-6 * mag[i]);
  expect(worst).toBeLessThanOrEqual(1e-7);
}

const saved = { ...bf16Tuning };
beforeAll(() => Object.assign(bf16Tuning, { block: 4096, gemvBytes: 3000 }));
afterAll(() => Object.assign(bf16Tuning, saved));

// on the WebAssembly modes, bits adopted into wasm memory (read in place), and past its cap moved into a weight
// bank (banks.ts; read in place by one-row products) or, banks off, copied per product
const CASES = BACKENDS.flatMap((b) =>
  (b === 'webasm' || b === 'threads' ? [[b, true, true], [b, false, true], [b, false, false]] : [[b, true, true]]) as [BackendName, boolean, boolean][],
);

describe.each(CASES)('bfloat16-resident operands on %s (adopted: %s, banks: %s)', (backend, adopt, banks) => {
  const run = <R>(fn: () => Promise<R>): Promise<R> => T.withBackend(backend, fn);
  beforeAll(() => {
    bf16Tuning.adopt = adopt;
    bankTuning.on = banks;
  });
  afterAll(() => void (bankTuning.on = true));

  it('x · Wᵀ for one row (a decoding step) and for several rows, W [N, K] bfloat16', async () => {
    const [N, K] = [67, 203]; // K: tails of 8; N: several blocks of rows / columns
    const bits = randomBits(N * K, 1);
    const w = T.decodeBFloat16(bits);
    const fallbacks = T.kernelStats.byPath.gpujs ?? 0;
    for (const M of [1, 5]) {
      const x = randomFloats(M * K, 2 + M);
      const got = await run(() => T.matmul(T.tensor(x, [M, K]), T.transpose(T.bfloat16Tensor(bits, [N, K]))).data());
      expectClose(got, product(x, K, 1, w, 1, K, M, N, K));
    }
    // the WebAssembly modes decode in their own kernels (no gpu.js fallback)
    if (backend === 'webasm' || backend === 'threads') expect(T.kernelStats.byPath.gpujs ?? 0).toBe(fallbacks);
  });

  it('dY · W (the input gradient of a linear layer) and W · X (W as the left operand)', async () => {
    const [N, K, M] = [40, 90, 6];
    const bits = randomBits(N * K, 3);
    const w = T.decodeBFloat16(bits);
    const dy = randomFloats(M * N, 4);
    expectClose(await run(() => T.matmul(T.tensor(dy, [M, N]), T.bfloat16Tensor(bits, [N, K])).data()), product(dy, N, 1, w, K, 1, M, K, N));
    const x = randomFloats(K * M, 5);
    expectClose(await run(() => T.matmul(T.bfloat16Tensor(bits, [N, K]), T.tensor(x, [K, M])).data()), product(w, K, 1, x, M, 1, N, M, K));
  });

  it('a batched product with a broadcast bfloat16 weight, and a slice of one', async () => {
    const [N, K, M] = [12, 30, 3];
    const bits = randomBits(N * K, 6);
    const w = T.decodeBFloat16(bits);
    const x = randomFloats(2 * M * K, 7);
    const got = await run(() => T.matmul(T.tensor(x, [2, M, K]), T.transpose(T.bfloat16Tensor(bits, [N, K]))).data());
    expectClose(got, product(x, K, 1, w, 1, K, 2 * M, N, K));
    const rows = await run(() => T.matmul(T.tensor(x.subarray(0, K), [1, K]), T.transpose(T.slice(T.bfloat16Tensor(bits, [N, K]), [4, 0], [9, K]))).data());
    expectClose(rows, product(x, K, 1, w.subarray(4 * K), 1, K, 1, 5, K));
  });

  it('gather rows of a bfloat16 table (an embedding), exactly', async () => {
    const bits = randomBits(50 * 16, 8);
    const ids = Int32Array.of(3, 0, 49, 3, 17);
    const got = await run(() => T.gather(T.bfloat16Tensor(bits, [50, 16]), T.tensor(ids, [5]), 0).data());
    const w = T.decodeBFloat16(bits);
    expect(Array.from(got)).toEqual([...ids].flatMap((i) => Array.from(w.subarray(16 * i, 16 * i + 16))));
  });

  it('any other op reads the decoded values; data() decodes', async () => {
    const bits = randomBits(24, 9);
    const w = T.decodeBFloat16(bits);
    const t = T.bfloat16Tensor(bits, [4, 6]);
    expect(Array.from(await t.data())).toEqual(Array.from(w));
    const got = await run(() => T.add(T.reshape(T.transpose(t), [24]), 1).data());
    const want = Array.from({ length: 24 }, (_, i) => Math.fround(w[(i % 4) * 6 + Math.floor(i / 4)] + 1));
    expect(Array.from(got)).toEqual(want);
  });

  it('gradients with respect to the activations flow through; with respect to the bfloat16 weight are refused', async () => {
    const [N, K, M] = [9, 21, 4];
    const bits = randomBits(N * K, 10);
    const W = T.bfloat16Tensor(bits, [N, K]);
    const x = randomFloats(M * K, 11);
    const dx = await run(async () => {
      const [, pull] = vjp((xx: Tensor) => T.sum(T.matmul(xx, T.transpose(W))), T.tensor(x, [M, K]));
      return pull(T.tensor(1)).map((g) => g)[0].data();
    });
    // d/dx Σ x·Wᵀ = column sums of W, for every row
    const w = T.decodeBFloat16(bits);
    const colSums = Array.from({ length: K }, (_, k) => Array.from({ length: N }, (_, n) => w[n * K + k]).reduce((p, q) => p + q, 0));
    for (let i = 0; i < M * K; i++) expect(Math.abs(dx[i] - colSums[i % K])).toBeLessThan(1e-5);
    expect(() => vjp((ww: Tensor) => T.sum(ww), W)).toThrow(/held as bfloat16/);
  });
});

describe('bfloat16Tensor', () => {
  it('holds two bytes per value and rejects a wrong length', () => {
    const t = T.bfloat16Tensor(new Uint16Array(6), [2, 3]);
    expect([T.storageBytes(t), T.isBFloat16Resident(t), T.isBFloat16Resident(T.tensor([1]))]).toEqual([12, true, false]);
    expect(() => T.bfloat16Tensor(new Uint16Array(5), [2, 3])).toThrow(/5 values do not fill shape \[2, 3\]/);
  });

  it('is counted at two bytes a value in memoryStats.liveBytes, created and disposed', () => {
    const before = T.memoryStats.liveBytes;
    const t = T.bfloat16Tensor(new Uint16Array(1000), [10, 100]);
    const held = T.memoryStats.liveBytes - before;
    t.dispose();
    expect([held, T.memoryStats.liveBytes - before]).toEqual([2000, 0]);
  });
});
