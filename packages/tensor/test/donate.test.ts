import { describe, expect, test } from 'vitest';
import { add, div, donate, evaluate, exp, matmul, memoryStats, mul, reshape, setBackend, sqrt, sub, sum, tensor, type Tensor } from '@llm-modules/tensor';

const N = 4096;
const ramp = (k: number) => Float32Array.from({ length: N }, (_, i) => Math.sin(i * 0.37 + k) * 3 + 4);
/** a kernel's output (donation takes storage a backend made, never a user's array); every tensor here is disposed, so live bytes move only as the code under test moves them */
const made = async (values: Float32Array): Promise<Tensor> => {
  const x = tensor(values, [64, 64]);
  const t = add(x, 0);
  await evaluate(t);
  x.dispose();
  return t;
};
const valuesOf = async (t: Tensor): Promise<Float32Array> => {
  const d = (await t.data()) as Float32Array;
  t.dispose();
  return d;
};
/** an AdamW-shaped update: new parameters and moments, evaluated together (one multi-output group on the CPU backends) */
function update(p: Tensor, m: Tensor, v: Tensor, g: Tensor): [Tensor, Tensor, Tensor] {
  const m1 = add(mul(m, 0.9), mul(g, 0.1));
  const v1 = add(mul(v, 0.999), mul(mul(g, g), 0.001));
  const p1 = sub(mul(p, 0.999), mul(div(m1, add(sqrt(v1), 1e-8)), 0.01));
  return [p1, m1, v1];
}
async function run(steps: number, donating: boolean): Promise<{ values: Float32Array[]; storages: Set<unknown>; live: number[] }> {
  let [p, m, v] = [await made(ramp(0)), await made(ramp(1)), await made(ramp(2))];
  const storages = new Set<unknown>();
  const live: number[] = [];
  for (let s = 0; s < steps; s++) {
    const g = await made(ramp(10 + s));
    const next = update(p, m, v, g);
    if (donating) donate(p, m, v, g);
    await evaluate(...next);
    if (!donating) for (const t of [p, m, v, g]) t.dispose();
    [p, m, v] = next;
    storages.add(p.view!.storage);
    live.push(memoryStats.liveBytes);
  }
  return { values: await Promise.all([p, m, v].map(valuesOf)), storages, live };
}

describe.each(['cpu', 'webasm', 'threads'] as const)('donate on %s', (backend) => {
  test('an elementwise result is written into the donated storage; the donor then throws a clear error', async () => {
    setBackend(backend);
    const p = await made(ramp(0));
    const storage = p.view!.storage;
    const p0 = await made(ramp(0));
    const expected = await valuesOf(add(mul(p0, 2), 1));
    p0.dispose();
    const live = memoryStats.liveBytes;
    const next = add(mul(p, 2), 1);
    donate(p);
    await evaluate(next);
    expect(next.view!.storage).toBe(storage);
    expect(memoryStats.liveBytes).toBe(live);
    expect(await valuesOf(next)).toEqual(expected);
    await expect(p.data()).rejects.toThrow(/donated to an earlier evaluation/);
    await expect(add(p, 1).data()).rejects.toThrow(/donated/);
  });

  test('a multi-output update reuses one storage step after step, bit-identical to the undonated run, live bytes flat', async () => {
    setBackend(backend);
    const plain = await run(6, false);
    const donated = await run(6, true);
    for (let k = 0; k < 3; k++) expect(donated.values[k]).toEqual(plain.values[k]);
    // step 1 writes a new storage (the first moments are separate tensors); every later step writes into it
    expect(donated.storages.size).toBe(1);
    expect(plain.storages.size).toBe(6);
    expect(new Set(donated.live.slice(1)).size).toBe(1);
  });

  test('no in-place write when something else reads the donor or holds its storage; the values stay right', async () => {
    setBackend(backend);
    const p = await made(ramp(0));
    const total = sum(p);
    const next = add(p, 1);
    donate(p);
    await evaluate(next, total); // sum reads p outside the group: p's storage is not overwritten
    expect(await next.data()).toEqual(await add(await made(ramp(0)), 1).data());
    expect((await total.data())[0]).toBeCloseTo(ramp(0).reduce((a, b) => a + b, 0), 0);
    await expect(p.data()).rejects.toThrow(/donated/); // still used up by the evaluation that read it

    const q = await made(ramp(3));
    const alias = reshape(q, [N]);
    await evaluate(alias); // a second holder of q's storage
    const q1 = mul(q, 3);
    donate(q);
    await evaluate(q1);
    expect(q1.view!.storage).not.toBe(alias.view!.storage);
    expect(await alias.data()).toEqual(ramp(3));
  });
  test('a donated input is freed as soon as its last reader has run, before the rest of the evaluation allocates', async () => {
    setBackend(backend);
    const p = await made(ramp(0)); // 16 KB
    const w = tensor(Float32Array.from({ length: 64 * 64 }, (_, i) => (i % 7) - 3), [64, 64]);
    const want = await matmul(exp(matmul(await made(ramp(0)), w)), w).data(); // the same, undonated
    const a = matmul(p, w); // not elementwise: nothing can be written into p
    const out = matmul(exp(a), w);
    donate(p);
    const before = memoryStats.liveBytes;
    memoryStats.peakBytes = before;
    await evaluate(out);
    expect(await out.data()).toEqual(want);
    // p (counted in `before`) is gone once `a` exists: at most two 16 KB results alive besides what was there
    expect(memoryStats.peakBytes - before).toBeLessThanOrEqual(4 * N); // without the early free: two results (a and exp(a)) beside p
    await expect(p.data()).rejects.toThrow(/donated/);
  });
});
