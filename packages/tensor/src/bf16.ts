/**
 * bfloat16-resident tensors: frozen weights (a teacher's) kept in memory as their bfloat16 bit patterns, half
 * the bytes of float32. Their values are float32 values (every bfloat16 is one exactly), so the tensor's dtype
 * is `float32` and every op takes them; only the storage differs (`Storage.bf16`). A backend whose kernel
 * decodes in place says so per node and input (`Backend.takesBFloat16`: the CPU backend's matmul and gather);
 * for every other kernel the evaluator hands over a float32 copy, freed after the node (`decodeInputs`).
 * Gradients with respect to such a tensor are refused by autograd (it is frozen by construction).
 */
import { contiguousView, newStorage, type Backend, type Storage, type View } from './backend.js';
import { decodeBFloat16 } from './dtype.js';
import { TensorError, fmtShape } from './errors.js';
import { release, retain, realize } from './memory.js';
import { checkShape, sizeOf, type Shape } from './shape.js';
import { Tensor } from './tensor.js';

/**
 * A float32 tensor held as bfloat16 bits (`bits`, not copied: do not change them afterwards), decoded inside
 * the kernels that read it. For frozen weights: half the memory of `tensor(bits, shape, 'bfloat16')`, which
 * widens on creation; the values are the same.
 *
 * @example
 * ```ts
 * import { bfloat16Tensor, isBFloat16Resident, matmul, tensor } from '@llm-modules/tensor';
 * const w = bfloat16Tensor(Uint16Array.of(0x3f80, 0x4000, 0x4040, 0x4080), [2, 2]); // [[1, 2], [3, 4]]
 * console.log(isBFloat16Resident(w), w.dtype); // true float32
 * console.log(await matmul(tensor([[1, 1]]), w).data()); // Float32Array [4, 6]
 * ```
 */
export function bfloat16Tensor(bits: Uint16Array, shape: Shape): Tensor {
  const shp = checkShape('bfloat16Tensor', shape);
  if (!(bits instanceof Uint16Array)) throw new TensorError('bfloat16Tensor', 'bits must be a Uint16Array of bfloat16 bit patterns');
  if (sizeOf(shp) !== bits.length) throw new TensorError('bfloat16Tensor', `${bits.length} values do not fill shape ${fmtShape(shp)} (${sizeOf(shp)} elements)`);
  const storage = newStorage('host', bits.length, undefined, undefined, bits);
  const t = new Tensor(shp, 'float32', 'const', [], {});
  realize(t, contiguousView(storage, shp));
  return t;
}

/** Is `t` a realized tensor held as bfloat16 bits? @example `isBFloat16Resident(bfloat16Tensor(new Uint16Array(2), [2]))` → true */
export const isBFloat16Resident = (t: Tensor): boolean => t.view?.storage.bf16 !== undefined;

/** Bytes of storage a tensor holds (2 per element bfloat16-resident, 4 otherwise; 0 when not realized). @example `storageBytes(bfloat16Tensor(new Uint16Array(6), [2, 3]))` → 12 */
export function storageBytes(t: Tensor): number {
  const s = t.view?.storage;
  if (!s) return 0;
  return s.bf16 ? s.bf16.byteLength : s.data ? s.data.byteLength : 4 * s.size;
}

/** A float32 storage with the values of a bfloat16 one (the whole storage: views keep their offsets and strides). */
export function decodedStorage(s: Storage): Storage {
  return newStorage('host', s.size, decodeBFloat16(s.bf16!));
}

/**
 * The inputs of `node` as `backend` reads them: bfloat16 views it does not take (`takesBFloat16`; all of them
 * when `node` is undefined: a fused group) are replaced by views of float32 copies. `done()` frees the copies.
 */
export function decodeInputs(backend: Backend, node: Tensor | undefined, inputs: readonly View[]): { views: readonly View[]; done: () => void } {
  if (!inputs.some((v) => v.storage.bf16)) return { views: inputs, done: () => {} };
  const made: Storage[] = [];
  const copies = new Map<Storage, Storage>();
  const views = inputs.map((v, k) => {
    if (!v.storage.bf16 || (node && backend.takesBFloat16?.(node, k))) return v;
    let c = copies.get(v.storage);
    if (!c) {
      c = decodedStorage(v.storage);
      retain(c);
      made.push(c);
      copies.set(v.storage, c);
    }
    return { ...v, storage: c };
  });
  return { views, done: () => made.forEach(release) };
}

