/**
 * Kernel argument limits of the gpu.js modes: GL drivers bind at most 16 textures to a kernel, WebGPU
 * (as gpu.js asks for it) 8 storage buffers, one of them the output. A concat with more parts than a
 * kernel takes runs here as concats of at most that many parts, then a concat of those: the limit stays
 * inside the backend (callers such as AdamW join any number of tensors).
 */
import type { Storage, View } from '../../backend.js';
import { contiguousView } from '../../backend.js';
import { release, retain } from '../../memory.js';
import { Tensor } from '../../tensor.js';

/** The most inputs one kernel of gpu.js mode `mode` reads. */
export function maxKernelInputs(mode: string): number {
  if (mode === 'webgpu') return 7;
  if (mode === 'webgl' || mode === 'webgl2' || mode === 'headlessgl') return 16;
  return Infinity;
}

/**
 * `node` (a concat) over `inputs` as a tree of concats of at most `max` (≥ 2) parts each, every one run
 * by `run`. Intermediate storages are released once the next level has read them.
 *
 * @example-skip needs a gpu.js backend's kernel runner; test/split-concat.test.ts runs it on gpu.js `cpu`
 */
export async function splitConcat(node: Tensor, inputs: readonly View[], max: number, run: (node: Tensor, inputs: readonly View[]) => Promise<Storage>): Promise<Storage> {
  if (inputs.length <= max) return run(node, inputs);
  const axis = node.attrs.axis as number;
  const held: Storage[] = [];
  const level: View[] = [];
  for (let s = 0; s < inputs.length; s += max) {
    const chunk = inputs.slice(s, s + max);
    if (chunk.length === 1) {
      level.push(chunk[0]);
      continue;
    }
    const shape = node.shape.slice();
    shape[axis] = chunk.reduce((n, v) => n + v.shape[axis], 0);
    // a node of its own for the chunk: the kernel reads only its shape, attributes and input views
    const part = await run(new Tensor(shape, node.dtype, 'concat', [], node.attrs), chunk);
    retain(part);
    held.push(part);
    level.push(contiguousView(part, shape));
  }
  try {
    return await splitConcat(node, level, max, run);
  } finally {
    for (const s of held) release(s);
  }
}
