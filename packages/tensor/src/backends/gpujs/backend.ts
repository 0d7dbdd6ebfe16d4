/**
 * The gpu.js backend. Every kernel primitive's gpu.js source is compiled here, once per distinct source
 * and output size, for the backend's mode: `headlessgl`, `webgl`, `webgl2` and `webgpu` (the backends
 * of those names), and `cpu` (transpiled JS), `webasm` (WebAssembly + f32x4 SIMD), `threads` (webasm
 * under the async contract) as the fallback of the CPU backend (backends/cpu/) for primitives without
 * a CPU kernel. It has no kernel table of its own: the primitives' gpu.js kernels are its kernels.
 */
import gpujs from 'gpu.js';
import type { Backend, BackendName, FusedOp, Storage, View } from '../../backend.js';
import { countPath, kernelStats, newStorage } from '../../backend.js';
import { F32_INDEX_LIMIT } from '../../kernels/codegen.js';
import { PRIMITIVES } from '../../primitives/registry.js';
import { registerReleaseHook, registerReleaser, release, retain } from '../../memory.js';
import type { Tensor } from '../../tensor.js';
import { TensorError } from '../../errors.js';
import { recycle, wasmAddress } from '../cpu/buffers.js';
import { groupRoot, programBody, programOf, type Group } from '../../fusion/program.js';
import { executeEachOutput } from '../group-outputs.js';
import { maxKernelInputs, splitConcat } from './split-concat.js';
import { elementwiseKernel } from '../../primitives/elementwise-kernel.js';
import { ensureOptionalPieces, forcedElementLimit, optionalPiecesProblem, webGpuElementLimit } from './optional-pieces.js';
import { reach, tiledGather, tiledMatmul, type TileHost } from './tiling.js';

type GpuInstance = InstanceType<typeof gpujs.GPU>;
type CompiledKernel = ((...args: unknown[]) => unknown) & { destroy?: () => void };

const MODES: Record<string, { mode: string; asyncMode: boolean; deviceMemory: boolean }> = {
  cpu: { mode: 'cpu', asyncMode: false, deviceMemory: false },
  webasm: { mode: 'webasm', asyncMode: false, deviceMemory: false },
  threads: { mode: 'webasm', asyncMode: true, deviceMemory: false },
  headlessgl: { mode: 'headlessgl', asyncMode: false, deviceMemory: true },
  webgl: { mode: 'webgl', asyncMode: false, deviceMemory: true },
  webgl2: { mode: 'webgl2', asyncMode: false, deviceMemory: true },
  webgpu: { mode: 'webgpu', asyncMode: true, deviceMemory: true },
};

/** Host arrays this big or bigger get a device copy on first use (smaller ones: scalars, ids, masks). */
const COPY_MIN = 1024;

interface TextureLike {
  toArray(): Float32Array | Promise<Float32Array>;
  delete?(): void;
}

export class GpuJsBackend implements Backend {
  private gpu: GpuInstance | undefined;
  private exactGpu: GpuInstance | undefined;
  private readonly kernels = new Map<string, CompiledKernel>();
  private readonly config: (typeof MODES)[string];
  /** GPU modes: set once their optional packages (gl, webgpu) are known to be here */
  private piecesChecked = false;
  /** device modes: the most elements one kernel binds or writes (float32 indices, WebGPU binding size) */
  private deviceLimit = F32_INDEX_LIMIT;

  /** Host windows of storages over the limit (tiles of a big weight), kept while the storage lives. */
  private readonly windows = new WeakMap<Storage, Map<string, Storage>>();

  /** Device copies of big host arrays (weights), made on first use so later kernels read them in place. */
  private readonly copies = new WeakMap<Storage, TextureLike>();

  /** CPU modes: groups with extra outputs (their results are host arrays, joined here when need be) */
  readonly multiOutputGroups: boolean;
  /** webgpu: 8 storage buffers per shader (WebGPU's default limit, what gpu.js asks for), one the output */
  readonly maxGroupInputs: number | undefined;

  constructor(readonly name: BackendName) {
    const config = MODES[name];
    if (!config) throw new Error(`unknown gpu.js backend ${name}`);
    this.config = config;
    this.multiOutputGroups = !config.deviceMemory;
    this.maxGroupInputs = config.mode === 'webgpu' ? 7 : undefined;
    if (config.deviceMemory) {
      registerReleaser(name, (s) => (s.handle as TextureLike | undefined)?.delete?.());
      registerReleaseHook((s) => {
        this.copies.get(s)?.delete?.();
        this.copies.delete(s);
        for (const w of this.windows.get(s)?.values() ?? []) release(w);
        this.windows.delete(s);
      });
    } else {
      // arrays made by the fast paths go back to their free list (fast/buffers.ts)
      registerReleaser(name, (s) => recycle(s.data));
    }
  }

  /** gpu.js instances are created on first use so that importing the package costs nothing. */
  private instance(exact: boolean): GpuInstance {
    if (exact) return (this.exactGpu ??= new gpujs.GPU({ mode: 'cpu' }));
    return (this.gpu ??= new gpujs.GPU({ mode: this.config.mode as 'cpu' }));
  }

  kernelCount(): number {
    return this.kernels.size;
  }

  /**
   * Compiled kernels bake in the argument sizes (memory layout, texture sizes), so those are part of the
   * key; and on webgpu each argument's kind too (host array or device buffer: the kernel binds the kinds
   * of its first call and rejects an array where it took a buffer).
   */
  private kernelFor(source: string, size: number, sizes: readonly number[], args: readonly unknown[], exact: boolean): CompiledKernel {
    const kinds = this.config.mode === 'webgpu' ? args.map((a) => (ArrayBuffer.isView(a) ? 'h' : 'd')).join('') : '';
    const key = `${exact ? 'exact' : 'native'}|${size}|${sizes.join(',')}|${kinds}|${source}`;
    let k = this.kernels.get(key);
    if (!k) {
      const settings = {
        output: [size],
        pipeline: true,
        immutable: true,
        precision: 'single',
        tactic: 'precision',
        asyncMode: exact ? false : this.config.asyncMode,
      };
      k = this.instance(exact).createKernel(source, settings as never) as unknown as CompiledKernel;
      this.kernels.set(key, k);
    }
    return k;
  }

  private argument(s: Storage): unknown {
    // gpu.js cannot take empty arrays; an empty input is never read (its loops run zero times).
    if (s.size === 0) return new Float32Array(1);
    if (s.data) {
      // storage in the wasm runtime's (shared) memory: GPU uploads get a plain copy
      if (this.config.deviceMemory) kernelStats.uploads++;
      if (this.config.deviceMemory && wasmAddress(s.data) !== undefined) return Float32Array.from(s.data);
      return s.data instanceof Float32Array ? s.data : Float32Array.from(s.data);
    }
    if (s.backend !== this.name) {
      throw new TensorError('evaluate', `a tensor computed on the ${s.backend} backend cannot feed the ${this.name} backend directly; read it with data() and recreate it`);
    }
    return s.handle;
  }

  /**
   * An argument of a device kernel. A host array of COPY_MIN values or more goes to the device once, by
   * an identity kernel whose result is kept with the array (until it is freed): the weights a decode step
   * reads every token were uploaded by every kernel that read them.
   */
  private async deviceArgument(s: Storage): Promise<unknown> {
    if (!s.data || s.size < COPY_MIN) return this.argument(s);
    let copy = this.copies.get(s);
    if (!copy) {
      const arg = this.argument(s);
      const k = this.kernelFor('function(x0) { return x0[this.thread.x]; }', s.size, [s.size], [arg], false);
      let out = k(arg);
      if (out instanceof Promise) out = await out;
      copy = out as TextureLike;
      this.copies.set(s, copy);
    }
    return copy;
  }

  /** An argument as a host array, for the exact cpu-mode kernel on a device backend. */
  private async hostArgument(s: Storage): Promise<Float32Array> {
    if (s.size === 0) return new Float32Array(1);
    if (!s.data) return this.read(s);
    return s.data instanceof Float32Array ? s.data : Float32Array.from(s.data);
  }

  execute(node: Tensor, inputs: readonly View[]): Promise<Storage> {
    kernelStats.launches++;
    return this.runPrimitive(node, inputs);
  }

  /** The node's primitive's gpu.js kernel (no launch counted: the caller did). Also the CPU backend's fallback. */
  async runPrimitive(node: Tensor, inputs: readonly View[]): Promise<Storage> {
    if (this.config.deviceMemory && (node.op === 'matmul' || node.op === 'gather')) {
      const tiled = await this.tiled(node, inputs);
      if (tiled) return tiled;
    }
    const prim = PRIMITIVES.get(node.op);
    if (!prim?.gpujs) throw new TensorError(node.op, `no gpu.js kernel for primitive ${node.op}`);
    // more parts than one kernel may read (GL textures, WebGPU buffers): a tree of concats
    const max = maxKernelInputs(this.config.mode);
    if (node.op === 'concat' && inputs.length > max) return splitConcat(node, inputs, max, (n, v) => this.runPrimitive(n, v));
    countPath('gpujs');
    const { source, inputs: views } = prim.gpujs(node, inputs);
    return this.runKernel(source, views, node.size);
  }

  /**
   * Run a fused group of elementwise nodes as one gpu.js kernel whose body computes every member (a
   * single member runs its own kernel); a group with extra outputs as one group per output.
   */
  async executeGroup(group: Group, inputs: readonly View[]): Promise<Storage> {
    if (group.extra?.length) return executeEachOutput(this, group, inputs);
    const root = groupRoot(group);
    const program = programOf(group);
    kernelStats.launches++;
    kernelStats.fusedNodes += group.members.length - 1;
    if (group.members.length === 1 || !program) {
      return this.runPrimitive(root, root.inputs.map((i) => inputs[group.externals.indexOf(i)]));
    }
    countPath('gpujs');
    const { source, inputs: views } = elementwiseKernel(root.shape, inputs, (v) => programBody(program, v));
    return this.runKernel(source, views, root.size);
  }

  /**
   * A matmul or gather over more elements than one kernel may touch, as kernels over tiles (tiling.ts);
   * undefined when it fits in one kernel or no split fits (then the exact cpu-mode kernel runs it).
   */
  private async tiled(node: Tensor, inputs: readonly View[]): Promise<Storage | undefined> {
    await this.ensurePieces();
    const limit = Math.min(this.deviceLimit, forcedElementLimit());
    if (node.size < limit && inputs.every((v) => v.storage.size < limit)) return undefined;
    const host: TileHost = {
      limit,
      run: (n, v) => this.runPrimitive(n, v),
      window: (v) => this.window(v, limit),
      read: (s) => this.read(s),
    };
    return node.op === 'matmul' ? tiledMatmul(host, node, inputs) : tiledGather(host, node, inputs);
  }

  /** `view` over a host window of just the elements it reaches, when its storage is over `limit`. */
  private async window(view: View, limit: number): Promise<View> {
    const s = view.storage;
    if (s.size < limit) return view;
    const [lo, hi] = reach(view);
    let map = this.windows.get(s);
    if (!map) this.windows.set(s, (map = new Map()));
    const key = `${lo}:${hi}`;
    let w = map.get(key);
    if (!w) {
      // a host weight is cut without copying; a device tensor (only under a lowered limit) is read back
      const data = s.data ? s.data : await this.read(s);
      w = newStorage('host', hi - lo + 1, (data as Float32Array).subarray(lo, hi + 1));
      retain(w);
      map.set(key, w);
    }
    return { ...view, storage: w, offset: view.offset - lo };
  }

  private async ensurePieces(): Promise<void> {
    if (this.piecesChecked || !this.config.deviceMemory) return;
    // a missing `gl` / `webgpu` fails here with one line naming the package, not deep inside gpu.js
    await ensureOptionalPieces(this.name);
    if (this.config.mode === 'webgpu') this.deviceLimit = Math.min(F32_INDEX_LIMIT, await webGpuElementLimit());
    this.piecesChecked = true;
  }

  private async runKernel(source: string, views: readonly View[], size: number): Promise<Storage> {
    // gpu.js index arithmetic is float32 on every mode but cpu: exact only below 2^23 elements.
    await this.ensurePieces();
    // and WebGPU binds at most maxStorageBufferBindingSize bytes per buffer (deviceLimit)
    const limit = this.config.deviceMemory ? this.deviceLimit : F32_INDEX_LIMIT;
    const exact = this.name !== 'cpu' && (size >= limit || views.some((v) => v.storage.size >= limit));
    // the exact (cpu mode) kernel reads host arrays: device results come back first (slow, but correct)
    const args = !this.config.deviceMemory
      ? views.map((v) => this.argument(v.storage))
      : await Promise.all(views.map((v) => (exact ? this.hostArgument(v.storage) : this.deviceArgument(v.storage))));
    const kernel = this.kernelFor(source, size, views.map((v) => v.storage.size), args, exact);
    let out = kernel(...args);
    if (out instanceof Promise) out = await out;
    if (out instanceof Float32Array) return newStorage(exact ? 'host' : this.name, size, out);
    return newStorage(this.name, size, undefined, out);
  }

  /**
   * LayerNorm as its composite: the gpu.js kernel of its gradient loops over every row for each weight
   * element, slow on GPUs; cross-entropy fused (one pass per element either way).
   */
  lowering(op: FusedOp): 'fused' | 'composite' {
    return op === 'layerNorm' ? 'composite' : 'fused';
  }

  async read(storage: Storage): Promise<Float32Array> {
    if (storage.data) return storage.data instanceof Float32Array ? storage.data : Float32Array.from(storage.data);
    kernelStats.readbacks++;
    const arr = await (storage.handle as TextureLike).toArray();
    return arr instanceof Float32Array ? arr.subarray(0, storage.size) : Float32Array.from(arr as ArrayLike<number>);
  }

  release(storage: Storage): void {
    (storage.handle as TextureLike | undefined)?.delete?.();
  }

  /** Free every compiled kernel and the gpu.js instances (and their worker pools). */
  destroy(): void {
    for (const k of this.kernels.values()) k.destroy?.();
    this.kernels.clear();
    this.gpu?.destroy();
    this.exactGpu?.destroy();
    this.gpu = this.exactGpu = undefined;
  }
}

/** Can this gpu.js mode run here? Probed with a tiny kernel, never throws. */
export async function probeGpuJsMode(name: BackendName): Promise<boolean> {
  const config = MODES[name];
  if (!config) return false;
  const G = gpujs.GPU as unknown as Record<string, unknown>;
  if (name === 'headlessgl' && !G.isHeadlessGLSupported) return false;
  if ((name === 'webgl' || name === 'webgl2') && !(name === 'webgl' ? G.isWebGLSupported : G.isWebGL2Supported)) return false;
  if ((name === 'webasm' || name === 'threads') && !G.isWebAssemblySupported) return false;
  if (await optionalPiecesProblem(name)) return false;
  if (name === 'webgpu' && !(typeof G.isWebGPUAvailable === 'function' && (await (G.isWebGPUAvailable as () => Promise<boolean>)()))) return false;
  try {
    const gpu = new gpujs.GPU({ mode: config.mode as 'cpu' });
    const k = gpu.createKernel('function(x0) { return x0[this.thread.x] * 2.0; }' as never, { output: [4], asyncMode: config.asyncMode } as never) as unknown as (
      a: Float32Array,
    ) => unknown;
    let out = k(new Float32Array([1, 2, 3, 4]));
    if (out instanceof Promise) out = await out;
    const arr = out as ArrayLike<number>;
    const ranMode = (k as unknown as { kernel?: { constructor?: { mode?: string } } }).kernel?.constructor?.mode;
    const ok = arr[3] === 8 && (config.mode === 'cpu' || ranMode !== 'cpu');
    gpu.destroy();
    return Boolean(ok);
  } catch {
    return false;
  }
}
