/**
 * The probabilities P of a forward call, kept in wasm memory for its backward call, which otherwise
 * recomputes S = Q·Kᵀ and the exps: ~30 % of the small-path backward kernel (ops/attention/wasm-small.ts)
 * at T = 64, d = 16 (12.2 → 8.2 µs a head), ~20 % of the blocked one (ops/attention/wasm.ts) at
 * [12, 512, 64] (one of its five GEMMs; the blocks of the causal triangle, 7.5 MB), measured.
 *
 * An entry is keyed by the forward's output array (the backward gets it back as its `fwd` input) and
 * records the inputs: the same q, k, v (and key mask) storages seen through the same views with the same attributes
 * give the same P, so a hit is exact whatever became of the array in between (a recycled array that
 * another forward wrote replaced the entry; a different op's output never reaches attentionGrad).
 * Entries hold at most CAP bytes in all, oldest evicted first; a backward frees the entry it used (a
 * second backward recomputes), and an entry whose output array was collected is freed with it.
 *
 * Only a forward built for differentiation keeps P (its attribute `keep`, set when the node is built
 * from inputs autodiff traces: ops/attention/attrs.ts `differentiated`), an explicit property of
 * the graph, not state a kernel reads. Inference never pays for it, not even right
 * after training steps: writing P to a fresh block (page faults on first touch, cache misses after)
 * made a 60-call forward loop 2× slower. (An earlier rule, "a backward ran within the last 64
 * forwards", charged that to the forwards of an evaluation or generation between training steps.)
 */
import type { View } from '../../backend.js';
import type { AttentionAttrs } from './primitive.js';
import { existingRuntime, type Runtime } from '../../backends/cpu/runtime.js';
import { whenRecycled } from '../../backends/cpu/buffers.js';

const CAP = 32 * 2 ** 20;

interface Entry {
  readonly at: number;
  readonly bytes: number;
  /** the views' storages (weakly: the entry must not keep q, k, v alive) */
  readonly storages: readonly WeakRef<object>[];
  /** everything else P depends on */
  readonly signature: string;
}

const byOutput = new WeakMap<Float32Array, Entry>();
/** live entries, oldest first */
const live = new Set<Entry>();
let total = 0;
const collected = new FinalizationRegistry<Entry>((e) => drop(e));
// an output released before its backward ran (value and gradients evaluated apart: the backward's
// evaluation recomputes the forward) frees its P at once, not when the array is reused or collected
whenRecycled((out) => {
  const e = live.size > 0 ? byOutput.get(out) : undefined;
  if (e) drop(e);
});

/** Bytes of P kept now (for tests). */
export const keptBytes = (): number => total;

function drop(e: Entry): void {
  if (!live.delete(e)) return;
  total -= e.bytes;
  collected.unregister(e);
  existingRuntime()?.heap.free(e.at);
}

function signature(views: readonly View[], attrs: AttentionAttrs, ldt: number): string {
  const v = views.map((x) => `${x.offset}/${x.shape.join(',')}/${x.strides.join(',')}`).join('|');
  return `${v}|${attrs.causal}|${attrs.scale}|${attrs.window}|${attrs.offset}|${ldt}`;
}

/**
 * Room for P ([heads, Tq, ldt] floats) of the forward writing `out`: its byte address, or 0 (too
 * big, or no heap block: the backward then recomputes).
 */
export function keepProbabilities(rt: Runtime, out: Float32Array, views: readonly View[], attrs: AttentionAttrs, floats: number, ldt: number): number {
  const old = byOutput.get(out);
  if (old) drop(old);
  const bytes = 4 * floats;
  if (bytes > CAP / 4) return 0;
  for (const e of live) {
    if (total + bytes <= CAP) break;
    drop(e);
  }
  const at = rt.heap.alloc(bytes);
  if (at < 0) return 0;
  const e: Entry = { at, bytes, storages: views.map((x) => new WeakRef(x.storage)), signature: signature(views, attrs, ldt) };
  byOutput.set(out, e);
  live.add(e);
  total += bytes;
  collected.register(out, e, e);
  return at;
}

/**
 * P kept by the forward whose output the backward reads as `fwd`, if its inputs are the same: the
 * address, and `release` to free it once the backward has run.
 */
export function keptProbabilities(fwd: View, views: readonly View[], attrs: AttentionAttrs, ldt: number): { at: number; release: () => void } | undefined {
  const out = fwd.storage.data;
  const e = out instanceof Float32Array ? byOutput.get(out) : undefined;
  if (!e || !live.has(e) || e.signature !== signature(views, attrs, ldt)) return undefined;
  if (e.storages.some((w, k) => w.deref() !== views[k].storage)) return undefined;
  return { at: e.at, release: () => drop(e) };
}
