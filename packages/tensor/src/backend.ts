import type { Shape } from './shape.js';
import type { Tensor } from './tensor.js';
import type { Group } from './fusion/program.js';
import { contiguousStrides } from './shape.js';

/** The backends built in (backends/registry.ts); `registerBackend` adds others under any name. */
export type BuiltinBackendName = 'cpu' | 'webasm' | 'threads' | 'headlessgl' | 'webgl' | 'webgl2' | 'webgpu' | 'reference';
// `string & {}` keeps the built-in names as editor suggestions while a plugged-in backend may use its own
export type BackendName = BuiltinBackendName | (string & {});

/**
 * A block of backend memory holding float values (float32 on the gpu.js and CPU backends, float64 on the
 * reference backend). `data` is set when the values live in host memory (a plain array or one in the
 * WebAssembly heap); `handle` holds a device object otherwise (a texture, a GPU buffer), which stays on
 * the device from kernel to kernel: only `Backend.read` (what `data()` calls) brings it back, async.
 * Storage is reference counted: every realized tensor and every in-flight intermediate holds one count.
 */
export interface Storage {
  readonly backend: BackendName | 'host';
  readonly size: number;
  /** may be swapped once for an equal array in WebAssembly memory (backends/cpu/buffers.ts `adoptIntoWasm`) */
  readonly data?: Float32Array | Float64Array;
  readonly handle?: unknown;
  /**
   * Host storage of a bfloat16-resident tensor (`bfloat16Tensor`): the values' bfloat16 bit patterns, in
   * place of `data`. Only kernels that say so (`Backend.takesBFloat16`) read it; for the others the
   * evaluator hands over a float32 copy (bf16.ts).
   */
  readonly bf16?: Uint16Array;
  refs: number;
}

/** A strided window onto a storage: element (i0, i1, …) lives at `offset + Σ ik·strides[k]`. */
export interface View {
  readonly storage: Storage;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
}

/**
 * A backend: where storage lives and how each primitive runs there. Each lives in one folder under
 * backends/ and is plugged in with one `registerBackend` line (backends/registry.ts). It runs a node
 * with its own kernel for the node's primitive (its kernel table) or, where it has none, the
 * primitive's gpu.js kernel (every kernel primitive has one: the universal fallback, see
 * backends/gpujs/). docs/DESIGN.md "Backends" has the vocabulary and the recipe.
 */
export interface Backend {
  readonly name: BackendName;
  /**
   * Run the kernel of a (non-view) primitive node over its input views; returns fresh storage of node.size
   * values, or `into` when given (the storage of the primitive's `inPlace` input, dead after this node, of
   * node.size values, contiguous) and the kernel wrote its output there. Backends may ignore `into`.
   */
  execute(node: Tensor, inputs: readonly View[], into?: Storage): Storage | Promise<Storage>;
  /**
   * Optional: run a fused group of elementwise nodes (fusion/program.ts) over its external inputs and
   * return the root's values (and its extra outputs', see multiOutputGroups). Backends without it
   * evaluate node by node. `into`, when given, is a donated storage of exactly the outputs' size that
   * the group may overwrite (evaluate.ts checks it is safe); a backend that writes there returns it.
   */
  executeGroup?(group: Group, inputs: readonly View[], into?: Storage): Promise<Storage>;
  /**
   * Whether executeGroup takes groups with extra outputs (`Group.extra`): it then returns all of them in
   * one storage, one after another, root first.
   */
  readonly multiOutputGroups?: boolean;
  /**
   * Whether executeGroup takes sum groups (`Group.sum`): a single-output group whose root only a sum over
   * its trailing axes reads, run as one kernel that returns the row sums (a global norm's Σ g² without
   * storing g²).
   */
  readonly sumGroups?: boolean;
  /**
   * The most external inputs a fused group may read, when lower than the planner's own bound (WebGPU
   * binds 8 storage buffers per shader by default: 7 inputs and the output).
   */
  readonly maxGroupInputs?: number;
  /** Copy a storage's values to host memory. */
  read(storage: Storage): Promise<Float32Array | Float64Array>;
  /** Free device memory of a storage whose count reached zero. */
  release(storage: Storage): void;
  /** Number of compiled kernels currently cached (for tests and benchmarks). */
  kernelCount(): number;
  /**
   * The lowering of fused ops (ops/): for an op name (`layerNorm`, `softmaxCrossEntropy`), whether the
   * op builder makes the fused primitive here or its composite of simpler primitives. Absent: fused.
   */
  lowering?(op: FusedOp): 'fused' | 'composite';
  /**
   * Whether this backend's kernel for `node` reads input `k` from bfloat16 storage itself (decoding in the
   * kernel). Absent or false: the evaluator decodes that input to float32 first (correct, slower).
   */
  takesBFloat16?(node: Tensor, k: number): boolean;
}

/** Ops that exist both as fused primitives and as composites; the backend's `lowering` picks one. */
export type FusedOp = 'layerNorm' | 'softmaxCrossEntropy';

/**
 * A kernel: one backend's code for one primitive, in that backend's kernel table. It returns the node's
 * values, or undefined to decline (too big for its scratch memory, an unsupported layout): the
 * backend's fallback (the primitive's gpu.js kernel) runs instead. `into`, for a primitive with `inPlace`, is
 * its input's array, which the kernel may write its output into (and return).
 */
export type Kernel<Ctx, Out = Float32Array> = (ctx: Ctx, node: Tensor, inputs: readonly View[], into?: Float32Array) => Out | undefined;
/** A backend's kernels by primitive name; a primitive without an entry runs its gpu.js kernel. */
export type KernelTable<Ctx, Out = Float32Array> = Readonly<Record<string, Kernel<Ctx, Out>>>;

export const contiguousView = (storage: Storage, shape: Shape): View => ({ storage, shape, strides: contiguousStrides(shape), offset: 0 });

export function isContiguous(v: View): boolean {
  if (v.offset !== 0) return false;
  let expected = 1;
  for (let i = v.shape.length - 1; i >= 0; i--) {
    if (v.shape[i] !== 1 && v.strides[i] !== expected) return false;
    expected *= v.shape[i];
  }
  return expected === v.storage.size;
}

/**
 * Kernel accounting of the backends that run kernels: `launches` counts kernels run (a fused group is
 * one), `fusedNodes` the graph nodes computed inside fused groups without a storage of their own, and
 * `byPath` the nodes and groups each way of running them took (`cpu:table`, `cpu:program`,
 * `cpu:js-loop`, `gpujs`: see DESIGN.md "Backends"). On backends with device memory (webgpu, GL),
 * `uploads` counts host arrays handed to a kernel (each is copied to the device) and `readbacks` the
 * device results copied back (`data()`, or a value a host step needs).
 */
export const kernelStats = { launches: 0, fusedNodes: 0, byPath: {} as Record<string, number>, uploads: 0, readbacks: 0 };

/** Count one node or group run by `path` (kernelStats.byPath). */
export const countPath = (path: string): void => {
  kernelStats.byPath[path] = (kernelStats.byPath[path] ?? 0) + 1;
};

/**
 * Live-storage accounting: the memory rule's observable side. `liveBytes` is what the live storages
 * hold (4 bytes a value, 8 on the reference backend, 2 bfloat16-resident), `peakBytes` its highest value since it was last
 * set (a caller measuring one step sets it to `liveBytes` first). A released storage's array may
 * outlive it until the garbage collector runs or a free list reuses it: these count tensors, not RSS.
 * `wasmBytes` is the size of the CPU kernels' WebAssembly memory (tensor storage and scratch; it never shrinks).
 */
export const memoryStats = { liveStorages: 0, allocated: 0, released: 0, liveBytes: 0, peakBytes: 0, wasmBytes: 0 };

/** Bytes a storage is accounted for in `memoryStats`: 2 a value bfloat16-resident, else its array's width (4 without one). */
export const storageByteLength = (s: Pick<Storage, 'size' | 'data' | 'bf16'>): number => s.size * (s.bf16 ? 2 : (s.data?.BYTES_PER_ELEMENT ?? 4));

export function newStorage(backend: Storage['backend'], size: number, data?: Float32Array | Float64Array, handle?: unknown, bf16?: Uint16Array): Storage {
  memoryStats.liveStorages++;
  memoryStats.allocated++;
  const s: Storage = bf16 ? { backend, size, bf16, refs: 0 } : { backend, size, data, handle, refs: 0 };
  memoryStats.liveBytes += storageByteLength(s);
  if (memoryStats.liveBytes > memoryStats.peakBytes) memoryStats.peakBytes = memoryStats.liveBytes;
  return s;
}
