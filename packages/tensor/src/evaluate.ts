/**
 * The evaluator: schedules the pending part of the graph on the active backend. View primitives only
 * re-index storage; kernel primitives run compiled kernels (cached by the backend). Intermediates are
 * freed as soon as their last consumer in this evaluation has run (see memory.ts for the whole rule).
 */
import { contiguousView, isContiguous, memoryStats, newStorage, type Backend, type Storage, type View } from './backend.js';
import { decodeBFloat16, toHost } from './dtype.js';
import { decodeInputs } from './bf16.js';
import { getBackend, backendByName } from './backends/registry.js';
import { release, retain, realize, disposeTensor } from './memory.js';
import { PRIMITIVES } from './primitives/registry.js';
import { Tensor, hooks } from './tensor.js';
import { TensorError } from './errors.js';
import { planFusion } from './fusion/plan.js';
import { groupRoot, type Group } from './fusion/program.js';
import { shapesEqual } from './shape.js';
import './primitives/unary.js'; // registers the 'copy' primitive used to materialise views
import { profileKey, profiling, record } from './profile.js';

/**
 * Pending nodes reachable from `roots`, inputs before consumers (depth-first from each root). Roots are
 * taken in creation order, not argument order: gradients come out of the backward pass last layer
 * first, and computing them in that order lets each layer's activations (or their recomputation under
 * `checkpoint`) be freed before the next layer's are needed, whatever order the caller lists them in.
 */
function schedule(roots: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, number][] = [];
  for (const r of [...roots].sort((a, b) => a.id - b.id)) {
    if (r.view || seen.has(r)) continue;
    stack.push([r, 0]);
    seen.add(r);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [t, k] = top;
      if (k < t.inputs.length) {
        top[1]++;
        const inp = t.inputs[k];
        if (!inp.view && !seen.has(inp)) {
          seen.add(inp);
          stack.push([inp, 0]);
        }
      } else {
        stack.pop();
        order.push(t);
      }
    }
  }
  return order;
}

/** Live storages when evaluate last yielded to the event loop (or the lowest count seen since). */
let liveAtYield = 0;
/** Growth in live storages after which evaluate yields to the event loop once. */
const YIELD_GROWTH = 512;

/**
 * Results nobody disposes are freed by the garbage collector through a FinalizationRegistry, whose
 * callbacks run as event-loop tasks. A loop that only awaits evaluations never leaves the microtask
 * queue, so they never ran: measured, 10,000 undisposed [512, 64] products held 10,000 storages and
 * 1.3 GB, and each op got 4–10× slower on fresh memory. So once the live storages have grown by
 * YIELD_GROWTH since the last yield, evaluate yields one task turn (a loop that disposes, like a
 * training step, never grows and never yields; the check is synchronous, so it adds no await either).
 */
function finalizersDue(): boolean {
  const live = memoryStats.liveStorages;
  if (live < liveAtYield) liveAtYield = live;
  if (live - liveAtYield < YIELD_GROWTH) return false;
  liveAtYield = live;
  return true;
}

async function materialize(backend: Backend, node: Tensor, input: View): Promise<View> {
  const copyNode = new Tensor(input.shape, node.dtype, 'copy', [], {});
  const { views, done } = decodeInputs(backend, copyNode, [input]);
  try {
    return contiguousView(await backend.execute(copyNode, views), input.shape);
  } finally {
    done();
  }
}

/**
 * Evaluate tensors: compute every pending node they need, on the active backend, and realize them.
 *
 * @example
 * ```ts
 * import { evaluate, tensor, exp, sum } from '@llm-modules/tensor';
 * const x = tensor([0, 1, 2]);
 * const [a, b] = [exp(x), sum(x)];
 * await evaluate(a, b); // one pass over the shared graph
 * ```
 */
export async function evaluate(...tensors: Tensor[]): Promise<void> {
  if (finalizersDue()) await new Promise<void>((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
  const order = schedule(tensors);
  if (order.length === 0) return;
  const backend = getBackend();
  const wanted = new Set(tensors);
  const pendingUses = new Map<Tensor, number>();
  for (const t of order) for (const i of t.inputs) pendingUses.set(i, (pendingUses.get(i) ?? 0) + 1);
  const temp = new Map<Tensor, View>();
  // elementwise nodes run in fused groups where the backend supports it (see fusion/plan.ts)
  const plan = backend.executeGroup ? planFusion(order, wanted, backend.multiOutputGroups === true, backend.maxGroupInputs, backend.sumGroups === true) : undefined;
  const viewOf = (t: Tensor): View => {
    const v = t.view ?? temp.get(t);
    if (!v) throw new TensorError(t.op, `input tensor was disposed before evaluation (${t.toString()})`);
    return v;
  };
  try {
    for (const t of order) {
      if (t.view) continue; // realized meanwhile by a concurrent evaluation
      if (plan?.inner.has(t)) continue; // computed inside its group's kernel
      const group = plan?.groups.get(t);
      const began = profiling() ? performance.now() : 0;
      if (group) {
        // a sum group writes its row sums (its root's values are never stored): nothing of the root's size to donate
        const into = group.sum ? undefined : donatedOutput(group);
        const { views, done } = decodeInputs(backend, undefined, group.externals.map(viewOf));
        let storage;
        try {
          storage = await backend.executeGroup!(group, views, into?.storage);
        } finally {
          done();
        }
        if (began) record(profileKey(`fused:${group.members.map((m) => m.op).join(',')}${group.sum ? '>sum' : ''}`, group.externals.map(viewOf)), performance.now() - began, t.size);
        retain(storage);
        temp.set(t, contiguousView(storage, t.shape));
        // extra outputs follow the root in the same storage (fusion/plan.ts)
        group.extra?.forEach((o, k) => {
          retain(storage);
          temp.set(o, { ...contiguousView(storage, o.shape), offset: (k + 1) * t.size });
        });
        // the group wrote into the donated storage: its donors give up their counts (the outputs hold it now)
        if (into && storage === into.storage) for (const d of into.donors) disposeTensor(d, 'donated');
        for (const m of group.members) finishNode(m);
        if (group.sum) finishNode(group.sum);
        continue;
      }
      const prim = PRIMITIVES.get(t.op);
      if (t.op === 'donated') throw new TensorError('evaluate', `input tensor was donated to an earlier evaluation and can no longer be read (${t.toString()})`);
      if (!prim) throw new TensorError(t.op, 'unknown primitive (was the tensor disposed?)');
      const inputs = t.inputs.map(viewOf);
      let view: View;
      if (t.size === 0) {
        view = contiguousView(newStorage(backend.name, 0, new Float32Array(0)), t.shape);
      } else if (prim.host) {
        view = contiguousView(newStorage('host', t.size, prim.host(t)), t.shape);
      } else if (prim.view) {
        // A view op over a layout it cannot express (e.g. reshape of a transposed view) copies first.
        view = prim.view(t, inputs[0]) ?? prim.view(t, await materialize(backend, t, inputs[0]))!;
      } else {
        const aliased = prim.alias?.(t, inputs);
        if (aliased) view = aliased;
        else {
          // bfloat16-resident inputs: decoded for the kernels that do not read them in place (bf16.ts)
          const { views, done } = decodeInputs(backend, t, inputs);
          const into = prim.inPlace !== undefined ? deadInput(t, prim.inPlace) : undefined;
          try {
            view = contiguousView(await backend.execute(t, views, into), t.shape);
          } finally {
            done();
          }
        }
      }
      if (began) record(profileKey(t.op, inputs), performance.now() - began, t.size);
      retain(view.storage);
      temp.set(t, view);
      finishNode(t);
    }
    // the donated tensors this evaluation read are used up (memory.ts)
    for (const t of order) for (const i of t.inputs) if (i.donated && i.view && !wanted.has(i)) disposeTensor(i, 'donated');
  } finally {
    for (const [t, v] of temp) {
      if (wanted.has(t) && !t.view) realize(t, v);
      release(v.storage);
    }
  }

  /**
   * The storage of input k of `t` when `t` may write its output there (the primitive's `inPlace`): an
   * intermediate of this evaluation, held by nothing else, read by no other node still to run, of t's size and
   * contiguous from its start.
   */
  function deadInput(t: Tensor, k: number): Storage | undefined {
    const i = t.inputs[k];
    const v = temp.get(i);
    if (!v || i.view || wanted.has(i) || pendingUses.get(i) !== 1 || t.inputs.indexOf(i) !== t.inputs.lastIndexOf(i)) return undefined;
    const s = v.storage;
    if (s.refs !== 1 || s.size !== t.size || s.backend !== backend.name || !s.data || !isContiguous(v)) return undefined;
    return s;
  }

  /**
   * A storage the group may write its outputs into (root first, extras after, as it lays them out): one
   * of exactly that size, made by this backend, whose every holder is a donated input of the group
   * that nothing else in this evaluation reads, each viewed in the root's shape, contiguous, at an
   * output's offset (so each element is read only by the iteration that overwrites it).
   */
  function donatedOutput(group: Group): { storage: Storage; donors: Tensor[] } | undefined {
    const root = groupRoot(group);
    const n = root.size;
    const total = n * (1 + (group.extra?.length ?? 0));
    for (const e of group.externals) {
      const s = e.donated ? e.view?.storage : undefined;
      if (!s || s.size !== total || s.backend !== backend.name || !s.data) continue;
      const donors = group.externals.filter((x) => x.view?.storage === s);
      if (donors.length !== s.refs) continue;
      const fits = (x: Tensor): boolean => {
        const v = x.view!;
        if (!x.donated || wanted.has(x) || v.offset % n !== 0 || !shapesEqual(v.shape, root.shape)) return false;
        if (!isContiguous({ ...v, offset: 0, storage: { ...s, size: n } })) return false;
        let inGroup = 0;
        for (const m of group.members) for (const i of m.inputs) if (i === x) inGroup++;
        return pendingUses.get(x) === inGroup;
      };
      if (donors.every(fits)) return { storage: s, donors };
    }
    return undefined;
  }

  function finishNode(t: Tensor): void {
    for (const i of t.inputs) {
      const left = (pendingUses.get(i) ?? 1) - 1;
      pendingUses.set(i, left);
      const v = temp.get(i);
      if (left === 0 && v && !wanted.has(i)) {
        temp.delete(i);
        release(v.storage);
      }
      // a donated tensor is used up once the last kernel reading it has run (an optimizer's first update,
      // which writes new storage, then frees each old parameter as it goes instead of all at the end)
      if (left === 0 && i.donated && i.view && !wanted.has(i)) disposeTensor(i, 'donated');
    }
  }
}

/**
 * Evaluate and return the raw float values of a tensor as float64 (exact on the `reference` backend,
 * float32-rounded elsewhere). Used by gradient checks.
 */
export async function readFloat64(t: Tensor): Promise<Float64Array> {
  const flat = await readFlat(t);
  return flat instanceof Float64Array ? flat : Float64Array.from(flat);
}

/** Evaluate and read a tensor's logical values in C order (a fresh array). */
async function readFlat(t: Tensor): Promise<Float32Array | Float64Array> {
  await evaluate(t);
  const v = t.view;
  if (!v) throw new TensorError('data', `tensor was disposed (${t.toString()})`);
  const src = v.storage.data ?? (v.storage.bf16 ? decodeBFloat16(v.storage.bf16) : await backendByName(v.storage.backend).read(v.storage));
  const n = t.size;
  if (isDense(v)) return src.slice(v.offset, v.offset + n);
  const out = src instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
  if (n === 0) return out;
  const { shape, strides, offset } = v;
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let pos = offset;
  for (let i = 0; i < n; i++) {
    out[i] = src[pos];
    for (let k = rank - 1; k >= 0; k--) {
      idx[k]++;
      pos += strides[k];
      if (idx[k] < shape[k]) break;
      pos -= strides[k] * shape[k];
      idx[k] = 0;
    }
  }
  return out;
}

/** Is the view one C-order block (at any offset)? */
function isDense(v: View): boolean {
  let expected = 1;
  for (let k = v.shape.length - 1; k >= 0; k--) {
    if (v.shape[k] !== 1 && v.strides[k] !== expected) return false;
    expected *= v.shape[k];
  }
  return true;
}

hooks.data = async (t) => {
  const flat = await readFlat(t);
  return toHost(t.dtype, flat instanceof Float32Array ? flat : Float32Array.from(flat));
};
hooks.dispose = disposeTensor;
