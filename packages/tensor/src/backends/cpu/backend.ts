/**
 * The CPU backend: `threads` (WebAssembly SIMD kernels, big ones split over a worker pool), `webasm`
 * (the same kernels on one thread) and `cpu` (their JavaScript versions). Storage is host memory:
 * arrays in the WebAssembly heap where the kernels made them (backends/cpu/buffers.ts), plain arrays otherwise.
 * Each node runs the CPU kernel table (kernels.ts); a primitive without an entry there, or a kernel that
 * declines, runs its gpu.js kernel in the matching gpu.js mode (the documented fallback, backends/gpujs/).
 * `setFastPaths(false)` sends every node to that fallback (how fastpaths.test.ts checks each kernel).
 * No `lowering`: every fused op (ops/) runs fused here, its kernels in the table.
 */
import type { Backend, BuiltinBackendName, Storage, View } from '../../backend.js';
import { contiguousView, kernelStats, newStorage } from '../../backend.js';
import type { Tensor } from '../../tensor.js';
import { groupOutputs, groupRoot, programOf, type Group } from '../../fusion/program.js';
import { recycle } from './buffers.js';
import { registerReleaser, release, retain } from '../../memory.js';
import { GpuJsBackend } from '../gpujs/backend.js';
import { executeEachOutput } from '../group-outputs.js';
import { runCpuKernel, runCpuProgram, runCpuProgramSum } from './kernels.js';
import { decodeInputs } from '../../bf16.js';

export type CpuBackendName = Extract<BuiltinBackendName, 'cpu' | 'webasm' | 'threads'>;

export class CpuBackend implements Backend {
  /** groups with extra outputs run as one kernel writing all of them */
  readonly multiOutputGroups = true;
  /** sum groups run as the program summed chunk by chunk, its values never stored (elementwise-sum.ts) */
  readonly sumGroups = true;
  /** the primitives' gpu.js kernels, for what the table lacks (created on first use) */
  private gpujs: GpuJsBackend | undefined;

  constructor(readonly name: CpuBackendName) {
    // arrays made by the kernels go back to their free list (backends/cpu/buffers.ts)
    registerReleaser(name, (s) => recycle(s.data));
  }

  private get fallback(): GpuJsBackend {
    return (this.gpujs ??= new GpuJsBackend(this.name));
  }

  execute(node: Tensor, inputs: readonly View[], into?: Storage): Promise<Storage> {
    kernelStats.launches++;
    return this.run(node, inputs, into);
  }

  /** matmul (either operand) and gather (the table) read bfloat16-resident storage in their kernels. */
  takesBFloat16(node: Tensor, k: number): boolean {
    return node.op === 'matmul' || (node.op === 'gather' && k === 0);
  }

  private async run(node: Tensor, inputs: readonly View[], into?: Storage): Promise<Storage> {
    const target = into?.data instanceof Float32Array && into.size === node.size ? into.data : undefined;
    const out = await runCpuKernel(this.name, node, inputs, target);
    // written into the input's array: that storage is the output, unless the kernel's copy-in moved the input
    // into wasm memory meanwhile (buffers.ts adoptIntoWasm: the storage now holds the copy, the old array the output)
    if (out) return out === target && into!.data === target ? into! : newStorage(this.name, node.size, out);
    // the kernel declined: the gpu.js kernel reads float32 only
    const { views, done } = decodeInputs(this.fallback, node, inputs);
    try {
      return await this.fallback.runPrimitive(node, views);
    } finally {
      done();
    }
  }

  /** A fused group as one elementwise program (all its outputs at once), else as gpu.js does it. */
  async executeGroup(group: Group, inputs: readonly View[], into?: Storage): Promise<Storage> {
    if (group.sum) return this.executeSum(group, group.sum, inputs);
    const root = groupRoot(group);
    const outputs = group.extra?.length ? groupOutputs(group).length : 1;
    const program = programOf(group);
    const target = into?.data instanceof Float32Array && into.size === root.size * outputs ? into.data : undefined;
    const out = program && (await runCpuProgram(this.name, program, root.shape, inputs, target));
    if (out) {
      kernelStats.launches++;
      kernelStats.fusedNodes += group.members.length - outputs;
      return out === target ? into! : newStorage(this.name, root.size * outputs, out);
    }
    if (outputs > 1) return executeEachOutput(this, group, inputs);
    if (group.members.length === 1 || !program) {
      kernelStats.launches++;
      return this.run(root, root.inputs.map((i) => inputs[group.externals.indexOf(i)]));
    }
    return this.fallback.executeGroup(group, inputs);
  }

  /** A sum group: the program summed as it runs, else its values stored and then summed by the sum kernel. */
  private async executeSum(group: Group, sum: Tensor, inputs: readonly View[]): Promise<Storage> {
    const root = groupRoot(group);
    const program = programOf(group);
    const out = program && (await runCpuProgramSum(this.name, program, root.shape, sum.size, inputs));
    if (out) {
      kernelStats.launches++;
      kernelStats.fusedNodes += group.members.length;
      return newStorage(this.name, sum.size, out);
    }
    const values = await this.executeGroup({ members: group.members, externals: group.externals }, inputs);
    retain(values);
    try {
      // the sum reads the root's values through its reshapes: the same contiguous values in its input's shape
      return await this.execute(sum, [contiguousView(values, sum.inputs[0].shape)]);
    } finally {
      release(values);
    }
  }

  async read(storage: Storage): Promise<Float32Array> {
    return storage.data ? (storage.data instanceof Float32Array ? storage.data : Float32Array.from(storage.data)) : this.fallback.read(storage);
  }

  release(): void {
    // host memory: the releaser recycles it
  }

  kernelCount(): number {
    return this.gpujs?.kernelCount() ?? 0;
  }

  /** Free the gpu.js fallback's compiled kernels. */
  destroy(): void {
    this.gpujs?.destroy();
    this.gpujs = undefined;
  }
}
