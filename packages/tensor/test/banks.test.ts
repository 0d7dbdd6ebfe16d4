/**
 * Weight banks (backends/cpu/banks.ts): a one-row product `x · Wᵀ` whose W does not go into the runtime's heap
 * (bfloat16 bits with adoption off, a float32 array over its 32 MB array limit) moves W into a bank and reads it
 * there in place, on the threads. Checked against float64 loops over the (decoded) weights, for the same bits on
 * one thread (webasm) and on the pool (threads), and for the bank's bookkeeping: other readers see the same
 * values, and the block is freed with the tensor (an empty bank is dropped).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import type { BackendName } from '../src/index.js';
import { bf16Tuning } from '../src/backends/cpu/matmul-bf16.js';
import { bankStats } from '../src/backends/cpu/banks.js';
import { fastContext } from '../src/backends/cpu/context.js';
import { mulberry32 } from '../src/random.js';

const AVAILABLE = new Set(await T.listBackends());
const WASM = (['webasm', 'threads'] as BackendName[]).filter((b) => AVAILABLE.has(b));

const floats = (n: number, seed: number, scale = 2): Float32Array => {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (r() - 0.5) * scale);
};

/** y[n] = Σ_k x[k] · w[n·K + k] in float64, and Σ|products| (the tolerance scales with it). */
function matvec(x: Float32Array, w: ArrayLike<number>, N: number, K: number): [Float64Array, Float64Array] {
  const y = new Float64Array(N);
  const mag = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let s = 0;
    let t = 0;
    for (let k = 0; k < K; k++) {
      const p = x[k] * w[n * K + k];
      s += p;
      t += Math.abs(p);
    }
    y[n] = s;
    mag[n] = t;
  }
  return [y, mag];
}

function expectClose(got: ArrayLike<number>, [want, mag]: [Float64Array, Float64Array]): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) - 1e-6 * mag[i]);
  expect(worst).toBeLessThanOrEqual(1e-7);
}

// bfloat16: N, K with tails of 8 and several jobs per thread; float32: past the heap's 8 M-float array limit
const [NB, KB] = [1003, 517];
const [NF, KF] = [4099, 2053];
const bits = T.encodeBFloat16(floats(NB * KB, 1, 4));
const wb = T.decodeBFloat16(bits);
const wf = floats(NF * KF, 2);
const xb = floats(KB, 3);
const xf = floats(KF, 4);

const saved = { ...bf16Tuning };
beforeAll(() => void (bf16Tuning.adopt = false)); // bfloat16 bits skip the heap: into a bank
afterAll(() => Object.assign(bf16Tuning, saved));

/** One-row products of a fresh weight of each kind on `backend`: [bf16 result, f32 result]. */
async function products(backend: BackendName): Promise<ArrayLike<number>[]> {
  return T.withBackend(backend, async () => {
    const before = bankStats().weightBytes;
    const b = T.bfloat16Tensor(bits.slice(), [NB, KB]);
    const f = T.tensor(wf.slice(), [NF, KF]);
    const yb = await T.matmul(T.tensor(xb, [1, KB]), T.transpose(b)).data();
    const yf = await T.matmul(T.tensor(xf, [1, KF]), T.transpose(f)).data();
    expect(bankStats().weightBytes - before).toBeGreaterThanOrEqual(2 * NB * KB + 4 * NF * KF); // both moved into banks
    b.dispose();
    f.dispose();
    return [yb, yf];
  });
}

describe.each(WASM)('one-row products from weight banks on %s', (backend) => {
  it('x · Wᵀ with W bfloat16 and W float32 equal float64 loops over the weights', async () => {
    const [yb, yf] = await products(backend);
    expectClose(yb, matvec(xb, wb, NB, KB));
    expectClose(yf, matvec(xf, wf, NF, KF));
  });

  it('a weight in a bank reads the same everywhere: data(), gather, a slice, several rows; freed with its tensor', async () => {
    await T.withBackend(backend, async () => {
      const start = bankStats();
      const b = T.bfloat16Tensor(bits.slice(), [NB, KB]);
      await T.matmul(T.tensor(xb, [1, KB]), T.transpose(b)).data(); // moves it
      expect(bankStats().weightBytes).toBeGreaterThanOrEqual(start.weightBytes + 2 * NB * KB);
      expect(Array.from(await b.data())).toEqual(Array.from(wb));
      const rows = await T.gather(b, T.tensor(Int32Array.of(7, 1002, 0), [3]), 0).data();
      expect(Array.from(rows)).toEqual([7, 1002, 0].flatMap((n) => Array.from(wb.subarray(n * KB, n * KB + KB))));
      // a slice of its rows (a view at an offset), one row and three rows (the blocked GEMM path reads the bank's array)
      const part = T.slice(b, [100, 0], [300, KB]);
      expectClose(await T.matmul(T.tensor(xb, [1, KB]), T.transpose(part)).data(), matvec(xb, wb.subarray(100 * KB), 200, KB));
      const x3 = floats(3 * KB, 5);
      const y3 = await T.matmul(T.tensor(x3, [3, KB]), T.transpose(b)).data();
      for (let m = 0; m < 3; m++) expectClose(y3.subarray(m * NB, m * NB + NB), matvec(x3.subarray(m * KB, m * KB + KB), wb, NB, KB));
      b.dispose();
      expect(bankStats().weightBytes).toBe(start.weightBytes);
      if (start.weightBytes === 0) expect(bankStats().banks).toBe(0); // the empty bank was dropped
    });
  });
});

describe('bfloat16Array', () => {
  it.each(WASM)('on %s: an array in a bank, read in place by a one-row product (no move), freed with its tensor', async (backend) => {
    await T.withBackend(backend, async () => {
      const start = bankStats().weightBytes;
      const a = T.bfloat16Array(NB * KB);
      expect(bankStats().weightBytes).toBe(start + Math.ceil((2 * NB * KB) / 64) * 64); // 64-byte blocks
      a.set(bits);
      const b = T.bfloat16Tensor(a, [NB, KB]);
      expectClose(await T.matmul(T.tensor(xb, [1, KB]), T.transpose(b)).data(), matvec(xb, wb, NB, KB));
      expect(bankStats().weightBytes).toBe(start + Math.ceil((2 * NB * KB) / 64) * 64); // read where it is: nothing moved
      b.dispose();
      expect(bankStats().weightBytes).toBe(start);
    });
  });

  it('on the JavaScript backends: a plain Uint16Array of zeros', async () => {
    await T.withBackend('cpu', async () => {
      const start = bankStats().weightBytes;
      const a = T.bfloat16Array(10);
      expect([a.buffer instanceof ArrayBuffer, a.length, Array.from(a).every((v) => v === 0), bankStats().weightBytes]).toEqual([true, 10, true, start]);
    });
  });
});

describe.runIf(WASM.length === 2)('thread-count independence', () => {
  it('the same bits on one thread (webasm) and on the pool (threads)', async () => {
    const ctx = await fastContext('threads');
    expect(ctx?.threads).toBeGreaterThanOrEqual(2); // else this compares one thread with itself
    const [b1, f1] = await products('webasm');
    const [b2, f2] = await products('threads');
    expect(Array.from(b2)).toEqual(Array.from(b1));
    expect(Array.from(f2)).toEqual(Array.from(f1));
  });
});
