/**
 * On webgpu, kernel results stay on the device (gpu.js pipeline buffers in Storage.handle): a kernel
 * reading another's result uploads nothing, and only `data()` reads back. kernelStats.uploads and
 * readbacks count the copies. Runs where webgpu is available (in Node: the `webgpu` devDependency and
 * an adapter; CI's webgpu step); elsewhere only the CPU half runs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';

const available = await T.isBackendAvailable('webgpu');
const counts = () => ({ uploads: T.kernelStats.uploads, readbacks: T.kernelStats.readbacks });
const since = (c: { uploads: number; readbacks: number }) => ({ uploads: T.kernelStats.uploads - c.uploads, readbacks: T.kernelStats.readbacks - c.readbacks });

afterEach(() => T.setBackend('cpu'));

describe.skipIf(!available)('webgpu residency', () => {
  it('uploads a host array once per kernel reading it, keeps results on the device, reads back only at data()', async () => {
    T.setBackend('webgpu');
    const x = T.tensor([0, 1, 2, 3], [4]);
    const y = T.exp(x);
    let c = counts();
    await T.evaluate(y);
    expect(since(c)).toEqual({ uploads: 1, readbacks: 0 });
    c = counts();
    const z = T.mul(y, y);
    await T.evaluate(z);
    expect(since(c)).toEqual({ uploads: 0, readbacks: 0 });
    c = counts();
    const v = await z.data();
    expect(since(c)).toEqual({ uploads: 0, readbacks: 1 });
    [0, 1, 2, 3].forEach((k) => expect(v[k]).toBeCloseTo(Math.exp(2 * k), 2));
  });

  it('a big host array (weights) goes to the device once, however many kernels read it; small ones with each kernel', async () => {
    T.setBackend('webgpu');
    const w = T.tensor(Float32Array.from({ length: 4096 }, (_, k) => k % 7), [4096]);
    const s = T.tensor([2], [1]);
    let c = counts();
    await T.evaluate(T.mul(w, s));
    expect(since(c).uploads).toBe(2);
    c = counts();
    const [a, b] = [T.exp(T.neg(w)), T.mul(w, s)];
    await T.evaluate(a, b);
    expect(since(c).uploads).toBe(1); // the scalar again; w is on the device
    expect((await b.data())[13]).toBe(12);
  });

  it('a kernel over 2^23 elements (exact cpu mode: float32 index arithmetic) reads its device inputs back first', async () => {
    T.setBackend('webgpu');
    const n = 2 ** 22;
    const x = T.add(T.tensor(new Float32Array(n), [n]), 1); // on the device
    await T.evaluate(x);
    const c = counts();
    const v = await T.sum(T.concat([x, x], 0)).data(); // the concat has 2^23 elements
    expect(since(c).readbacks).toBeGreaterThanOrEqual(1);
    expect(v[0]).toBe(2 ** 23);
  });
});

it('the CPU backends count no device copies', async () => {
  T.setBackend('cpu');
  const c = counts();
  await T.mul(T.exp(T.tensor([1, 2], [2])), 2).data();
  expect(since(c)).toEqual({ uploads: 0, readbacks: 0 });
});
