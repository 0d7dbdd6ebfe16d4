import type { Shape } from './shape.js';
import type { Tensor } from './tensor.js';
import type { Group } from './fusion/program.js';
import { contiguousStrides } from './shape.js';

export type BackendName = 'cpu' | 'webasm' | 'threads' | 'headlessgl' | 'webgl' | 'webgl2' | 'webgpu' | 'reference';

/**
 * A block of backend memory holding float values (float32 on gpu.js backends, float64 on the reference
 * backend). `data` is set when the values live in host memory; `handle` holds a device object otherwise.
 * Storage is reference counted: every realized tensor and every in-flight intermediate holds one count.
 */
export interface Storage {
  readonly backend: BackendName | 'host';
  readonly size: number;
  /** may be swapped once for an equal array in WebAssembly memory (fast/buffers.ts `adoptIntoWasm`) */
  readonly data?: Float32Array | Float64Array;
  readonly handle?: unknown;
  refs: number;
}

/** A strided window onto a storage: element (i0, i1, …) lives at `offset + Σ ik·strides[k]`. */
export interface View {
  readonly storage: Storage;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
}

export interface Backend {
  readonly name: BackendName;
  /** Run the kernel of a (non-view) primitive node over its input views; returns fresh storage of node.size values. */
  execute(node: Tensor, inputs: readonly View[]): Storage | Promise<Storage>;
  /**
   * Optional: run a fused group of elementwise nodes (fusion/program.ts) over its external inputs and
   * return the root's values (and its extra outputs', see multiOutputGroups). Backends without it
   * evaluate node by node.
   */
  executeGroup?(group: Group, inputs: readonly View[]): Promise<Storage>;
  /**
   * Whether executeGroup takes groups with extra outputs (`Group.extra`): it then returns all of them in
   * one storage, one after another, root first.
   */
  readonly multiOutputGroups?: boolean;
  /** Copy a storage's values to host memory. */
  read(storage: Storage): Promise<Float32Array | Float64Array>;
  /** Free device memory of a storage whose count reached zero. */
  release(storage: Storage): void;
  /** Number of compiled kernels currently cached (for tests and benchmarks). */
  kernelCount(): number;
}

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
 * one), `fusedNodes` the graph nodes computed inside fused groups without a storage of their own.
 */
export const kernelStats = { launches: 0, fusedNodes: 0 };

/** Live-storage accounting: the memory rule's observable side. */
export const memoryStats = { liveStorages: 0, allocated: 0, released: 0 };

export function newStorage(backend: Storage['backend'], size: number, data?: Float32Array | Float64Array, handle?: unknown): Storage {
  memoryStats.liveStorages++;
  memoryStats.allocated++;
  return { backend, size, data, handle, refs: 0 };
}
