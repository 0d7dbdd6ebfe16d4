import { describe, expect, test } from 'vitest';
import { add, exp, liveStorageCount, matmul, mul, reshape, setBackend, sum, tensor, transpose, evaluate, ones, type Tensor } from '@llm-modules/tensor';

const gc = (globalThis as { gc?: () => void }).gc;

describe.each(['cpu', 'webasm', 'reference'] as const)('memory on %s', (backend) => {
  test('live storages return to baseline after evaluating and disposing 1,000 graphs', async () => {
    setBackend(backend);
    const w = tensor([[1, 2], [3, 4]]);
    const baseline = liveStorageCount();
    for (let i = 0; i < 1000; i++) {
      const x = tensor([i, 1, 2, 3], [2, 2]);
      const y = sum(exp(mul(add(matmul(x, transpose(w)), 1), 0.001)), 1);
      const z = reshape(y, [2, 1]);
      await evaluate(y, z);
      y.dispose();
      z.dispose();
      x.dispose();
    }
    expect(liveStorageCount()).toBe(baseline);
  });

  test('intermediates are freed during evaluation; only requested outputs stay', async () => {
    setBackend(backend);
    const x = ones([8, 8]);
    const before = liveStorageCount();
    let y: Tensor = x;
    for (let i = 0; i < 20; i++) y = add(mul(y, 0.5), 1);
    await evaluate(y);
    expect(liveStorageCount() - before).toBe(1); // y's storage only: 40 intermediates and scalars were freed

    expect(y.inputs.length).toBe(0); // a realized tensor no longer holds its graph
    y.dispose();
  });

  test.skipIf(!gc)('garbage collection releases storages of dropped tensors', async () => {
    setBackend(backend);
    const settle = async () => {
      for (let k = 0; k < 5; k++) {
        gc!();
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await settle();
    const baseline = liveStorageCount();
    for (let i = 0; i < 200; i++) await add(tensor([i, i]), 1).data();
    for (let attempt = 0; attempt < 50 && liveStorageCount() > baseline; attempt++) {
      gc!();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(liveStorageCount()).toBe(baseline);
  });
});

describe('undisposed results in a loop that only awaits evaluations', () => {
  test('evaluate yields to the event loop once live storages have grown, so finalizers (and other tasks) can run', async () => {
    setBackend('webasm');
    const x = ones([64, 64]);
    let taskRan = false;
    setImmediate(() => (taskRan = true)); // a task: runs only when the loop leaves the microtask queue
    const kept: Tensor[] = []; // held, so that the growth does not depend on the garbage collector
    for (let i = 0; i < 600 && !taskRan; i++) {
      const y = mul(x, i);
      await evaluate(y);
      kept.push(y);
    }
    expect(taskRan).toBe(true);
    kept.forEach((t) => t.dispose());
  });

  test('a loop that disposes its results never yields (a training step pays nothing)', async () => {
    setBackend('webasm');
    const x = ones([64, 64]);
    let taskRan = false;
    setImmediate(() => (taskRan = true));
    for (let i = 0; i < 2000; i++) {
      const y = mul(x, i);
      await evaluate(y);
      y.dispose();
    }
    expect(taskRan).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(taskRan).toBe(true);
  });
});
