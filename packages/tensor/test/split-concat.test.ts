/**
 * The gpu.js backend splits a concat with more parts than one kernel may read (GL textures, WebGPU
 * buffers) into a tree of concats (backends/gpujs/split-concat.ts), so that callers such as AdamW join
 * any number of tensors. Run here with gpu.js `cpu` kernels and small limits.
 */
import { describe, expect, test } from 'vitest';
import * as T from '@llm-modules/tensor';
import { memoryStats, newStorage, type View } from '../src/backend.js';
import { release, retain } from '../src/memory.js';
import { GpuJsBackend } from '../src/backends/gpujs/backend.js';
import { maxKernelInputs, splitConcat } from '../src/backends/gpujs/split-concat.js';

/** 23 blocks [2, w] (w = 1, 2, 3, …) and their concat along axis 1, as rows. */
function blocks(): { views: View[]; expected: number[]; width: number } {
  const views: View[] = [];
  const rows: number[][] = [[], []];
  for (let k = 0; k < 23; k++) {
    const w = (k % 3) + 1;
    const data = Float32Array.from({ length: 2 * w }, (_, j) => 100 * k + j);
    const storage = newStorage('cpu', data.length, data);
    retain(storage);
    views.push({ storage, shape: [2, w], strides: [w, 1], offset: 0 });
    for (let r = 0; r < 2; r++) rows[r].push(...data.subarray(r * w, (r + 1) * w));
  }
  return { views, expected: [...rows[0], ...rows[1]], width: rows[0].length };
}

describe('a concat split into kernels of a few parts', () => {
  test.each([2, 3, 7])('at most %i parts per kernel: the values of one concat, every intermediate released', async (max) => {
    const backend = new GpuJsBackend('cpu');
    const { views, expected, width } = blocks();
    const live = memoryStats.liveStorages;
    const node = new T.Tensor([2, width], 'float32', 'concat', [], { axis: 1 });
    let kernels = 0;
    const out = await splitConcat(node, views, max, (n, v) => {
      expect(v.length).toBeLessThanOrEqual(max);
      kernels++;
      return backend.runPrimitive(n, v);
    });
    expect(Array.from(await backend.read(out))).toEqual(expected);
    expect(kernels).toBeGreaterThan(1);
    retain(out);
    release(out);
    expect(memoryStats.liveStorages).toBe(live);
    for (const v of views) release(v.storage);
    backend.destroy();
  });

  test('GL modes take 16 inputs per kernel, webgpu 7, the CPU modes any number', () => {
    expect([maxKernelInputs('webgl'), maxKernelInputs('webgl2'), maxKernelInputs('headlessgl'), maxKernelInputs('webgpu')]).toEqual([16, 16, 16, 7]);
    expect(maxKernelInputs('cpu')).toBe(Infinity);
  });
});
