/** The table of hand-tuned CPU paths by primitive name (see context.ts for the rules). */
import type { BackendName, View } from '../backend.js';
import type { Tensor } from '../tensor.js';
import { fastContext, type FastKernel } from './context.js';
import { matmulFast } from './matmul.js';

const FAST_PATHS: Record<string, FastKernel> = {
  matmul: matmulFast,
};

/** Run the fast path of `node` on `backend` when there is one; undefined means "use the gpu.js kernel". */
export async function tryFastPath(backend: BackendName, node: Tensor, inputs: readonly View[]): Promise<Float32Array | undefined> {
  const fast = FAST_PATHS[node.op];
  if (!fast) return undefined;
  const ctx = await fastContext(backend);
  if (!ctx) return undefined;
  return fast(ctx, node, inputs);
}

export { setFastPaths, fastPathsEnabled, shutdownThreads } from './context.js';
