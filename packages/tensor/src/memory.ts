/**
 * The memory rule.
 *
 * - Storage is reference counted. A realized tensor holds one count on its storage; so does every
 *   intermediate while an `evaluate` call still needs it.
 * - Intermediates that were not asked for are freed as soon as their last consumer in that evaluation
 *   has run. They stay pending (not realized), so asking for one later recomputes it.
 * - A realized tensor's count is dropped by `t.dispose()`, or by the garbage collector when the tensor
 *   becomes unreachable (FinalizationRegistry). `dispose()` is the prompt path for GPU backends,
 *   where device memory is scarcer than the JS heap. The registry's callbacks are event-loop tasks, so
 *   `evaluate` yields one task turn whenever the live storages have grown by 512 since it last did (a
 *   loop that only awaits evaluations would otherwise never free what it drops).
 * - A realized tensor drops its inputs, so holding a result never keeps the graph that made it alive.
 * - `donate(...tensors)` gives realized tensors to the next evaluation that reads them: it may write
 *   its results into their storage (an optimizer's new parameters and moments into the old ones: the
 *   update then needs no second copy of them); each is released as soon as the last kernel of that
 *   evaluation reading it has run, and reading it later throws a "donated" error. The API stays pure: a caller donates only what it will not read again.
 * - Freeing runs the backend's releaser: GPU backends delete the texture; the CPU backends return an
 *   array made by their fast paths to a free list for reuse (fast/buffers.ts). `data()` returns copies,
 *   so no reader ever sees a reused array.
 */
import type { Storage, View } from './backend.js';
import { memoryStats, storageByteLength } from './backend.js';
import type { Tensor } from './tensor.js';

type Releaser = (s: Storage) => void;
const releasers = new Map<string, Releaser>();

const hooks: Releaser[] = [];

/** @internal backends register how to free their device memory. */
export function registerReleaser(backend: string, fn: Releaser): void {
  releasers.set(backend, fn);
}

/** @internal called for every storage freed, of any backend (a GPU backend frees its device copy of a host array). */
export function registerReleaseHook(fn: Releaser): void {
  hooks.push(fn);
}

export function retain(s: Storage): void {
  s.refs++;
}

export function release(s: Storage): void {
  if (s.refs <= 0) return;
  s.refs--;
  if (s.refs === 0) {
    memoryStats.liveStorages--;
    memoryStats.released++;
    memoryStats.liveBytes -= storageByteLength(s);
    releasers.get(s.backend)?.(s);
    for (const h of hooks) h(s);
  }
}

const finalizer = new FinalizationRegistry<Storage>((s) => release(s));

/** Turn a tensor into a realized one holding `view`; drops its inputs. */
export function realize(t: Tensor, view: View): void {
  if (t.view) return;
  retain(view.storage);
  t.view = view;
  t.inputs = [];
  finalizer.register(t, view.storage, t);
}

export function disposeTensor(t: Tensor, as: 'disposed' | 'donated' = 'disposed'): void {
  if (!t.view) return;
  finalizer.unregister(t);
  const s = t.view.storage;
  // A disposed tensor keeps its shape and dtype but can no longer be read.
  t.view = undefined;
  t.op = as;
  release(s);
}

/**
 * Give realized tensors to the next `evaluate` that reads them (pending ones are left as they are).
 * That evaluation may write a result into a donated storage instead of a new one, when every tensor
 * holding the storage is donated and read only by the kernel writing it, elementwise in the same
 * layout; each donated tensor it reads is released as soon as the last kernel reading it has run, and
 * reading one afterwards throws.
 * Results are the same with and without donation; only the memory differs.
 *
 * @example
 * ```ts
 * import { add, donate, evaluate, memoryStats, tensor } from '@llm-modules/tensor';
 * const p = add(tensor(new Float32Array(4096).fill(1), [4096]), 0); // a kernel's output (a user's array is never written)
 * await evaluate(p);
 * const before = memoryStats.liveBytes;
 * const next = add(p, 1);
 * donate(p); // p's storage may hold `next`
 * await evaluate(next);
 * console.log(memoryStats.liveBytes - before, (await next.data())[0]); // 0 2 on the CPU backends
 * await p.data().catch((e) => console.log(e.message)); // …was donated…
 * ```
 */
export function donate(...tensors: Tensor[]): void {
  for (const t of tensors) if (t.view) t.donated = true;
}

/**
 * Number of backend storages currently alive (held by realized tensors or by a running evaluation).
 *
 * @example
 * ```ts
 * import { liveStorageCount, tensor } from '@llm-modules/tensor';
 * const before = liveStorageCount();
 * const t = tensor([1, 2], [2]);
 * t.dispose();
 * console.log(liveStorageCount() === before); // true
 * ```
 */
export const liveStorageCount = (): number => memoryStats.liveStorages;
