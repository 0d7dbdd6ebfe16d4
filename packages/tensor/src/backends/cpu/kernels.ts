/**
 * The CPU backend's kernel table: its kernel for each primitive it runs itself (host drivers in fast/,
 * WebAssembly from wasm/ on webasm / threads, JavaScript on cpu), then two generic kernels: elementwise
 * nodes as a one-member program (backends/cpu/elementwise.ts) and any other primitive's gpu.js source run as a
 * JavaScript loop (backends/cpu/jskernel.ts). `undefined` from all of them means "run the gpu.js kernel".
 */
import type { BackendName, KernelTable, View } from '../../backend.js';
import { countPath } from '../../backend.js';
import type { Shape } from '../../shape.js';
import { Tensor } from '../../tensor.js';
import { PRIMITIVES } from '../../primitives/registry.js';
import { programOf, type Program } from '../../fusion/program.js';
import { fastContext, type FastContext } from './context.js';
import { ScratchExhausted } from './runtime.js';
import { runProgram } from './elementwise.js';
import { runProgramSum } from './elementwise-sum.js';
import { runJsKernel } from './jskernel.js';
import { concatFast, copyFast, gatherFast, padFast, reduceFast, scatterAddFast } from './host.js';
import { matmulFast } from './matmul.js';
import { matmulLarge } from './matmul-chunked.js';
import { matmulBF16 } from './matmul-bf16.js';
import { attentionFast, attentionGradFast } from '../../ops/attention/cpu.js';
import { softmaxCrossEntropyFast, softmaxCrossEntropyGradFast } from '../../ops/softmax-cross-entropy/cpu.js';
import { layerNormFast, layerNormGradFast } from '../../ops/layer-norm/cpu.js';

export const CPU_KERNELS: KernelTable<FastContext> = {
  copy: copyFast,
  gather: gatherFast,
  scatterAdd: scatterAddFast,
  pad: padFast,
  concat: concatFast,
  sum: reduceFast,
  max: reduceFast,
  argmax: reduceFast,
  matmul: (ctx, node, inputs) => (inputs.some((v) => v.storage.bf16) ? matmulBF16(ctx, node, inputs) : (matmulLarge(ctx, node, inputs) ?? matmulFast(ctx, node, inputs))),
  attention: attentionFast,
  attentionGrad: attentionGradFast,
  softmaxCrossEntropy: softmaxCrossEntropyFast,
  softmaxCrossEntropyGrad: softmaxCrossEntropyGradFast,
  layerNorm: layerNormFast,
  layerNormGrad: layerNormGradFast,
};

/** Run `kernel`, declining (undefined) when its scratch memory would pass the cap. */
function declineWhenExhausted<T>(run: () => T | undefined): T | undefined {
  try {
    return run();
  } catch (e) {
    if (e instanceof ScratchExhausted) return undefined;
    throw e;
  }
}

/**
 * The node's values by the CPU backend's own kernels (table entry, one-member program, JS loop of the
 * gpu.js source), counted in kernelStats.byPath; undefined means "run the gpu.js kernel".
 */
export async function runCpuKernel(backend: BackendName, node: Tensor, inputs: readonly View[], into?: Float32Array): Promise<Float32Array | undefined> {
  const ctx = await fastContext(backend);
  if (!ctx) return undefined; // fast paths switched off: every node runs its gpu.js kernel
  const kernel = CPU_KERNELS[node.op];
  if (kernel) {
    const out = declineWhenExhausted(() => kernel(ctx, node, inputs, into));
    if (out) countPath('cpu:table');
    return out;
  }
  if (PRIMITIVES.get(node.op)?.elementwise) {
    const out = await runOneMember(backend, node, inputs);
    if (out) return out;
  }
  const prim = PRIMITIVES.get(node.op);
  if (!prim?.gpujs) return undefined;
  const out = runJsKernel(prim.gpujs(node, inputs), node.size);
  if (out) countPath('cpu:js-loop');
  return out;
}

/** A single elementwise node: its inputs in order, as a one-member program. */
async function runOneMember(backend: BackendName, node: Tensor, inputs: readonly View[]): Promise<Float32Array | undefined> {
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
  return p ? runCpuProgram(backend, p, node.shape, views) : undefined;
}

/** Run an elementwise program (a fused group) on the CPU backend; undefined means "use the gpu.js kernel". */
export async function runCpuProgram(backend: BackendName, p: Program, shape: Shape, views: readonly View[], into?: Float32Array): Promise<Float32Array | undefined> {
  const ctx = await fastContext(backend);
  const out = ctx && declineWhenExhausted(() => runProgram(ctx, p, shape, views, into));
  if (out) countPath('cpu:program');
  return out;
}

/** The row sums of an elementwise program's values over `shape` (a sum group, fusion/plan.ts); undefined: store them, then sum. */
export async function runCpuProgramSum(backend: BackendName, p: Program, shape: Shape, rows: number, views: readonly View[]): Promise<Float32Array | undefined> {
  const ctx = await fastContext(backend);
  const out = ctx && declineWhenExhausted(() => runProgramSum(ctx, p, shape, rows, views));
  if (out) countPath('cpu:program-sum');
  return out;
}
