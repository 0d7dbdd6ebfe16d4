import { describe, expect, test } from 'vitest';
import { add, concat, exp, liveStorageCount, matmul, mul, reshape, setBackend, slice, sum, tensor, transpose, evaluate, ones, type Tensor } from '@llm-modules/tensor';

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

describe.each(['cpu', 'webasm', 'reference'] as const)('concat of adjacent blocks of one storage on %s', (backend) => {
  const values = Array.from({ length: 24 }, (_, i) => i * 0.5 - 3);

  test('joins slices that tile a tensor in order without a kernel or new storage, with the same values', async () => {
    setBackend(backend);
    const x = add(reshape(tensor(values), [2, 3, 4]), 0); // a kernel output: its own storage
    await evaluate(x);
    const before = liveStorageCount();
    const parts = [slice(x, [0], [1]), slice(x, [1], [2])];
    const y = concat(parts, 0);
    await evaluate(y);
    expect(liveStorageCount()).toBe(before); // a view of x's storage
    expect(Array.from(await y.data())).toEqual(values);
    // along a later axis when only size-1 dims lead: [1, 6, 4] cut at rows 0–1, 2–4, 5
    const r = reshape(x, [1, 6, 4]);
    const z = concat([slice(r, [0, 0], [1, 2]), slice(r, [0, 2], [1, 5]), slice(r, [0, 5], [1, 6])], 1);
    await evaluate(z);
    expect(liveStorageCount()).toBe(before);
    expect(Array.from(await z.data())).toEqual(values);
  });

  test('parts out of order, strided, or along an axis with a leading dim > 1 are copied (same values as the reference)', async () => {
    setBackend(backend);
    const x = add(reshape(tensor(values), [2, 3, 4]), 0);
    await evaluate(x);
    const swapped = concat([slice(x, [1], [2]), slice(x, [0], [1])], 0);
    expect(Array.from(await swapped.data())).toEqual([...values.slice(12), ...values.slice(0, 12)]);
    const columns = concat([slice(x, [0, 0, 0], [2, 3, 2]), slice(x, [0, 0, 2], [2, 3, 4])], 2); // leading dims 2, 3
    expect(Array.from(await columns.data())).toEqual(values);
    const strided = concat([slice(x, [0, 0], [1, 3], [1, 2]), slice(x, [1, 0], [2, 3], [1, 2])], 0); // rows 0, 2 of each
    expect(Array.from(await strided.data())).toEqual([...values.slice(0, 4), ...values.slice(8, 12), ...values.slice(12, 16), ...values.slice(20, 24)]);
  });
});
