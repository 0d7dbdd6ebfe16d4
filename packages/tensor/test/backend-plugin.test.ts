/**
 * Backends as peers: a backend is plugged in with registerBackend (name, factory, probe); the CPU
 * backend runs its own kernel table and sends to the gpu.js fallback only what it has no kernel for;
 * fused-or-composite is the backend's lowering, asked when the graph is built.
 */
import { afterEach, describe, expect, test } from 'vitest';
import * as T from '@llm-modules/tensor';
import type { Backend } from '@llm-modules/tensor';

const before = T.getBackend().name;
afterEach(() => {
  T.setFastPaths(true);
  T.setBackend(before);
});

/** kernelStats.byPath gained while `fn` evaluated. */
async function paths(fn: () => Promise<unknown>): Promise<Record<string, number>> {
  const start = { ...T.kernelStats.byPath };
  await fn();
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(T.kernelStats.byPath)) if (v !== (start[k] ?? 0)) out[k] = v - (start[k] ?? 0);
  return out;
}

/** A small training-like graph: product, LayerNorm, elementwise chain, cross-entropy, reduction. */
function graph(): T.Tensor {
  const x = T.randomNormal(T.prngKey(1), [6, 8]);
  const w = T.randomNormal(T.prngKey(2), [8, 5]);
  const h = T.layerNorm(T.matmul(x, w), T.ones([5]), T.zeros([5]));
  const logits = T.mul(T.tanh(h), 2);
  return T.sum(T.softmaxCrossEntropy(logits, T.tensor(new Int32Array([0, 1, 2, 3, 4, 0]), [6], 'int32')));
}

describe('the CPU backend runs its own kernel table', () => {
  test('webasm: no gpu.js kernel compiled, every node through the table or an elementwise program', async () => {
    T.setBackend('webasm');
    const compiled = T.getBackend().kernelCount();
    const by = await paths(() => graph().data());
    expect(T.getBackend().kernelCount()).toBe(compiled);
    expect(by.gpujs).toBeUndefined();
    expect(by['cpu:table']).toBeGreaterThanOrEqual(4); // matmul, layerNorm, cross-entropy, sum
    expect(by['cpu:program']).toBeGreaterThanOrEqual(1);
  });

  test('with fast paths off every node runs its gpu.js kernel (the fallback), with the same values', async () => {
    T.setBackend('webasm');
    const fast = Array.from(await graph().data());
    T.setFastPaths(false);
    let slow: number[] = [];
    const by = await paths(async () => (slow = Array.from(await graph().data())));
    expect(Object.keys(by)).toEqual(['gpujs']);
    expect(slow[0]).toBeCloseTo(fast[0], 4);
  });
});

describe('registerBackend', () => {
  test('a plugged-in backend is listed when its probe says so, and runs graphs', async () => {
    const reference = await T.withBackend('reference', () => T.getBackend());
    let nodes = 0;
    const counting: Backend = {
      name: 'test-counting',
      execute: (node, inputs) => (nodes++, reference.execute(node, inputs)),
      read: (s) => reference.read(s),
      release: (s) => reference.release(s),
      kernelCount: () => 0,
      lowering: () => 'composite',
    };
    T.registerBackend('test-counting', () => counting, async () => true);
    T.registerBackend('test-absent', () => counting, async () => {
      throw new Error('no device');
    });
    expect(T.BACKEND_NAMES).toEqual(expect.arrayContaining(['threads', 'webasm', 'cpu', 'reference', 'test-counting', 'test-absent']));
    const listed = await T.listBackends();
    expect(listed).toContain('test-counting');
    expect(listed).not.toContain('test-absent'); // a probe that throws means "not here"
    T.setBackend('test-counting');
    // its lowering makes the composite LayerNorm: no layerNorm node in the graph
    const y = T.layerNorm(T.tensor([[1, 2, 3]]), T.ones([3]), T.zeros([3]));
    expect(y.op).not.toBe('layerNorm');
    const v = await y.data();
    expect(v[2]).toBeCloseTo(1.2247, 4);
    expect(nodes).toBeGreaterThan(1);
  });

  test('an unknown name is refused with the registered names', () => {
    expect(() => T.setBackend('no-such-backend')).toThrow(/unknown backend "no-such-backend" \(expected one of threads, webasm, cpu/);
  });
});
