import type { DType } from './dtype.js';
import type { Shape } from './shape.js';
import type { View } from './backend.js';
import { sizeOf } from './shape.js';

let nextId = 1;

/** Attributes of an op node: plain JSON-like data that, with the input shapes, determines the kernel. */
export type Attrs = Readonly<Record<string, unknown>>;

/**
 * An immutable node of the lazy tensor graph. It is either realized (it holds a `view` of backend
 * storage) or pending (an `op` applied to `inputs`). Ops never mutate a tensor; evaluation only turns a
 * pending node into a realized one and drops its inputs, so the graph behind it can be collected.
 *
 * @example
 * ```ts
 * import { tensor, add } from '@llm-modules/tensor';
 * const x = tensor([1, 2, 3], [3]);
 * console.log(await add(x, 1).data()); // Float32Array [2, 3, 4]
 * ```
 */
export class Tensor {
  readonly id = nextId++;
  /** @internal the primitive that produces this tensor, or 'const' for data. */
  op: string;
  /** @internal pending inputs; emptied once realized. */
  inputs: readonly Tensor[];
  /** @internal op attributes. */
  readonly attrs: Attrs;
  /** @internal realized storage view, when evaluated. */
  view: View | undefined;
  /** @internal given by `donate` to the next evaluation that reads it (memory.ts). */
  donated?: boolean;

  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    op: string,
    inputs: readonly Tensor[],
    attrs: Attrs,
    view?: View,
  ) {
    this.op = op;
    this.inputs = inputs;
    this.attrs = attrs;
    this.view = view;
  }

  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    return sizeOf(this.shape);
  }
  get realized(): boolean {
    return this.view !== undefined;
  }

  /** Evaluate (if needed) and read the values as a typed array of the tensor's dtype (a fresh copy). */
  data(): Promise<Float32Array | Int32Array | Uint8Array> {
    return hooks.data(this);
  }

  /** Evaluate and read as nested JS arrays (a number for a 0-d tensor). */
  async array(): Promise<NestedArray> {
    const flat = await this.data();
    return nest(flat, this.shape);
  }

  /** Release the backend storage now instead of waiting for garbage collection. */
  dispose(): void {
    hooks.dispose(this);
  }

  toString(): string {
    return `Tensor(${this.dtype}[${this.shape.join(', ')}]${this.realized ? '' : ` pending ${this.op}`})`;
  }
}

export type NestedArray = number | NestedArray[];

function nest(flat: ArrayLike<number>, shape: Shape): NestedArray {
  if (shape.length === 0) return flat[0];
  const build = (dim: number, offset: number): NestedArray[] => {
    const n = shape[dim];
    const step = sizeOf(shape.slice(dim + 1));
    const out: NestedArray[] = [];
    for (let i = 0; i < n; i++) out.push(dim === shape.length - 1 ? flat[offset + i] : build(dim + 1, offset + i * step));
    return out;
  };
  return build(0, 0);
}

/** @internal wired by the evaluator, which depends on this module. */
export const hooks = {
  data: (_t: Tensor): Promise<Float32Array | Int32Array | Uint8Array> => Promise.reject(new Error('evaluator not loaded')),
  dispose: (_t: Tensor): void => {},
};

export const isTensor = (x: unknown): x is Tensor => x instanceof Tensor;
