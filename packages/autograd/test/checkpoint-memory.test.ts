/**
 * checkpoint saves memory: a 12-block residual MLP model (LayerNorm → GELU MLP), loss and all
 * gradients evaluated in one pass on the cpu backend, peak bytes held by kernel outputs with and
 * without `checkpoint` around each block. (benchmarks/autograd-checkpoint.mjs runs a bigger one.)
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import * as T from '@llm-modules/tensor';
import type { Tensor } from '@llm-modules/tensor';
import { checkpoint, treeLeaves, valueAndGrad } from '../src/index.js';
import { geluTanh, layerNorm } from './composites.js';
import { probeMemory, type MemoryProbe } from './memory.js';

type Block = { ln: { g: Tensor; b: Tensor }; w1: Tensor; w2: Tensor };
const [L, N, D, H] = [12, 64, 16, 64];

let probe: MemoryProbe;
beforeAll(() => {
  T.setBackend('cpu');
  probe = probeMemory();
});
afterAll(() => probe.restore());

function model(): { params: Block[]; x: Tensor } {
  const keys = T.splitKey(T.prngKey(0), 2 * L + 1);
  const params = Array.from({ length: L }, (_, i) => ({
    ln: { g: T.ones([D]), b: T.zeros([D]) },
    w1: T.randomNormal(keys[2 * i], [D, H], { std: 0.2 }),
    w2: T.randomNormal(keys[2 * i + 1], [H, D], { std: 0.2 }),
  }));
  return { params, x: T.randomNormal(keys[2 * L], [N, D]) };
}

const block = (p: Block, h: Tensor) => T.add(h, T.matmul(geluTanh(T.matmul(layerNorm(h, p.ln.g, p.ln.b), p.w1)), p.w2));

async function run(blockFn: typeof block) {
  const { params, x } = model();
  const loss = (ps: Block[], x: Tensor) => T.mean(T.mul(ps.reduce((h, p) => blockFn(p, h), x), x));
  const [value, grads] = valueAndGrad(loss)(params, x);
  const base = probe.reset();
  await T.evaluate(value, ...treeLeaves(grads));
  const peak = probe.peak().bytes - base;
  return { peak, value: (await value.data())[0], grads: await Promise.all(treeLeaves(grads).map((g) => g.data())) };
}

it('checkpointing each of 12 blocks lowers the peak memory of a training step', async () => {
  const plain = await run(block);
  const ck = await run(checkpoint(block));
  expect(ck.value).toBe(plain.value);
  ck.grads.forEach((g, i) => g.forEach((v, j) => expect(v).toBeCloseTo(plain.grads[i][j], 5)));
  // Activations: ~12 blocks' worth without checkpoint; the 12 block inputs plus one block's recomputation with it.
  expect(ck.peak).toBeLessThan(0.5 * plain.peak);
});
