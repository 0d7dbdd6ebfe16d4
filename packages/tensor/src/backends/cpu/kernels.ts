/** The table of hand-tuned CPU paths by primitive name (see context.ts for the rules). */
import type { BackendName, View } from '../backend.js';
import type { Shape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { PRIMITIVES } from '../primitives/registry.js';
import { programOf, type Program } from '../fusion/program.js';
import { fastContext, type FastKernel } from './context.js';
import { ScratchExhausted } from '../wasm/runtime.js';
import { runProgram } from './elementwise.js';
import { runJsKernel } from './jskernel.js';
import { concatFast, copyFast, gatherFast, padFast, reduceFast, scatterAddFast } from './host.js';
import { matmulFast } from './matmul.js';
import { attentionFast, attentionGradFast } from './attention.js';
import { softmaxCrossEntropyFast, softmaxCrossEntropyGradFast } from './cross-entropy.js';
import { layerNormFast, layerNormGradFast } from './layer-norm.js';

const FAST_PATHS: Record<string, FastKernel> = {
  copy: copyFast,
  gather: gatherFast,
  scatterAdd: scatterAddFast,
  pad: padFast,
  concat: concatFast,
  sum: reduceFast,
  max: reduceFast,
  argmax: reduceFast,
  matmul: matmulFast,
  attention: attentionFast,
  attentionGrad: attentionGradFast,
  softmaxCrossEntropy: softmaxCrossEntropyFast,
  softmaxCrossEntropyGrad: softmaxCrossEntropyGradFast,
  layerNorm: layerNormFast,
  layerNormGrad: layerNormGradFast,
};

/** Run the fast path of `node` on `backend` when there is one; undefined means "use the gpu.js kernel". */
export async function tryFastPath(backend: BackendName, node: Tensor, inputs: readonly View[]): Promise<Float32Array | undefined> {
  const fast = FAST_PATHS[node.op];
  if (fast) {
    const ctx = await fastContext(backend);
    try {
      return ctx && fast(ctx, node, inputs);
    } catch (e) {
      if (e instanceof ScratchExhausted) return undefined; // too big for the scratch memory: gpu.js kernel
      throw e;
    }
  }
  if (PRIMITIVES.get(node.op)?.elementwise) {
    // a single elementwise node: its inputs in order, as a one-member program
    let member = node;
    if (node.inputs.length !== inputs.length) {
      // a synthetic node without graph inputs (the evaluator's copy of a view)
      if (inputs.length !== 1) return undefined;
      member = new Tensor(node.shape, node.dtype, node.op, [new Tensor(inputs[0].shape, node.dtype, 'const', [], {})], node.attrs);
    }
    const externals: Tensor[] = [];
    const views: View[] = [];
    member.inputs.forEach((t, k) => {
      if (!externals.includes(t)) {
        externals.push(t);
        views.push(inputs[k]);
      }
    });
    const p = programOf({ members: [member], externals });
    const out = p ? await tryProgramFast(backend, p, node.shape, views) : undefined;
    if (out) return out;
  }
  // any other kernel: its gpu.js source as a JS loop (CPU backends)
  const prim = PRIMITIVES.get(node.op);
  if (!prim?.gpujs || !(await fastContext(backend))) return undefined;
  return runJsKernel(prim.gpujs(node, inputs), node.size);
}

/** Run an elementwise program on a CPU backend; undefined means "use the gpu.js kernel". */
export async function tryProgramFast(backend: BackendName, p: Program, shape: Shape, views: readonly View[]): Promise<Float32Array | undefined> {
  const ctx = await fastContext(backend);
  try {
    return ctx && runProgram(ctx, p, shape, views);
  } catch (e) {
    if (e instanceof ScratchExhausted) return undefined;
    throw e;
  }
}

export { setFastPaths, fastPathsEnabled, shutdownThreads } from './context.js';
