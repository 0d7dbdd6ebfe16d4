/**
 * The future-token leak probe: change the inputs at positions > i and measure how much the outputs at
 * positions ≤ i move. A causal composition moves them by exactly 0; the released bridge (padding-only mask) does not.
 */
import { arange, evaluate, lessEqual, reshape, tensor, where, type Tensor } from '@llm-modules/tensor';
import type { ComposedModel } from './compose.js';
import type { Params } from './types.js';

export interface LeakProbeResult {
  /** Largest |Δ output| at positions ≤ i, over every probed i (valid positions only). */
  maxChange: number;
  /** For each probed i: the largest |Δ| at positions ≤ i after changing every position > i. */
  perPosition: Array<{ position: number; maxChange: number }>;
}

export interface ProbeOptions {
  /** `[B, T]` 0 = pad: pad positions are neither compared nor counted as changed outputs. */
  attentionMask?: Tensor | null;
  /** Probe positions i (default: every position but the last). */
  positions?: number[];
}

/**
 * The generic probe: `run` maps an input `[B, T, …]` to outputs `[B, T, …]`; `changed` is the input with other
 * values at (at least) the positions to change. For each probed i the input takes `changed`'s values at
 * positions > i only, and the outputs at positions ≤ i are compared with the unchanged run.
 *
 * @example
 * ```ts
 * import { enhanced, probeFutureLeak, resolveOptions } from '@llm-modules/bridge';
 * import { prngKey, randomNormal } from '@llm-modules/tensor';
 * const options = resolveOptions(enhanced, { heads: 2, adapterDim: 4 });
 * const dims = { teacher: 12, student: 8, studentLayers: 2 };
 * const p = enhanced.init(dims, options, prngKey(0));
 * const states = randomNormal(prngKey(1), [1, 5, 12]);
 * const r = await probeFutureLeak((h) => enhanced.apply(p, h, { options, dims }), states, randomNormal(prngKey(2), [1, 5, 12]));
 * console.log(r.maxChange); // 0: enhanced is causal by default
 * ```
 */
export async function probeFutureLeak(run: (input: Tensor) => Tensor, input: Tensor, changed: Tensor, opts: ProbeOptions = {}): Promise<LeakProbeResult> {
  const [B, T] = input.shape;
  const positions = opts.positions ?? Array.from({ length: T - 1 }, (_, i) => i);
  const mask = opts.attentionMask ? await opts.attentionMask.data() : null;
  const base = run(input);
  await evaluate(base);
  const ref = await base.data();
  const inner = ref.length / (B * T);
  const perPosition: LeakProbeResult['perPosition'] = [];
  const pos = reshape(arange(T), [1, T, ...input.shape.slice(2).map(() => 1)]); // [1, T, 1…]
  for (const i of positions) {
    if (!(Number.isInteger(i) && i >= 0 && i < T)) throw new Error(`probeFutureLeak: position ${i} is outside 0…${T - 1}`);
    const out = run(where(lessEqual(pos, i), input, changed)); // [B, T, …]
    await evaluate(out);
    const got = await out.data();
    let worst = 0;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t <= i; t++) {
        if (mask && !mask[b * T + t]) continue;
        for (let k = (b * T + t) * inner; k < (b * T + t + 1) * inner; k++) worst = Math.max(worst, Math.abs(got[k] - ref[k]));
      }
    }
    out.dispose();
    perPosition.push({ position: i, maxChange: worst });
  }
  base.dispose();
  return { maxChange: Math.max(0, ...perPosition.map((p) => p.maxChange)), perPosition };
}

/**
 * The leak probe of a composed model: change the teacher's input tokens at positions > i (each real token to
 * another id) and measure the change of the logits at positions ≤ i. Causal variants show exactly 0;
 * `paper-released` shows the leak.
 *
 * @example-skip a fragment: needs a composed model, params, ids and a mask (the package README's first snippet runs it)
 * @example
 * ```ts
 * import { leakProbe } from '@llm-modules/bridge';
 * const { maxChange } = await leakProbe(model, params, ids, { attentionMask: mask });
 * ```
 */
export async function leakProbe(
  model: ComposedModel,
  params: Params,
  inputIds: Tensor,
  opts: ProbeOptions & { replace?: (id: number, batch: number, position: number) => number } = {},
): Promise<LeakProbeResult> {
  const [B, T] = inputIds.shape;
  const ids = await inputIds.data();
  const vocab = Math.min(model.vocabSize, model.teacher.model.config.vocab_size);
  const replace = opts.replace ?? ((id: number) => (id + 1) % vocab);
  const other = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) other[b * T + t] = replace(ids[b * T + t], b, t);
  const changed = tensor(other, [B, T], 'int32');
  return probeFutureLeak((x) => model.apply(params, x, { attentionMask: opts.attentionMask }).logits, inputIds, changed, opts);
}
