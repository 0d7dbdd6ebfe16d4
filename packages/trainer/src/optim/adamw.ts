import type { PyTree } from '@llm-modules/autograd';
import { add, concat, div, mul, reshape, slice, sqrt, sub, zeros, type Tensor } from '@llm-modules/tensor';
import { groupOf, lrAt, type LearningRate, type Optimizer, type ParamGroup } from './types.js';
import { keyedLeaves, rebuild } from './tree.js';

export interface AdamWOptions {
  lr: LearningRate;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** per-parameter overrides, e.g. the paper's bridge at 1e-4 and student at 5e-5 */
  groups?: ParamGroup[];
}

export interface AdamWState {
  /** number of updates applied so far */
  step: number;
  m: PyTree;
  v: PyTree;
}

/**
 * AdamW with decoupled weight decay and bias correction, exactly as PyTorch's `torch.optim.AdamW`:
 * `p ← p·(1 − lr·wd)`, `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
 * `p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)`.
 *
 * @example
 * ```ts
 * import { adamw } from '@llm-modules/trainer';
 * import { tensor } from '@llm-modules/tensor';
 * let params = { 'qwen.proj.weight': tensor([1, 2]), 'gptneo.h.0.weight': tensor([3]) };
 * const grads = { 'qwen.proj.weight': tensor([0.5, -0.5]), 'gptneo.h.0.weight': tensor([1]) };
 * const opt = adamw({ lr: 1e-4, weightDecay: 0, groups: [{ match: 'gptneo.', lr: 5e-5 }] });
 * let state = opt.init(params);
 * [params, state] = opt.update(grads, state, params);
 * console.log(await params['qwen.proj.weight'].array()); // [0.9999, 2.0001]: the first step moves each by lr
 * ```
 */
export function adamw({ lr, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0.01, groups = [] }: AdamWOptions): Optimizer<AdamWState> {
  const [b1, b2] = betas;
  return {
    init(params) {
      const { leaves, def } = keyedLeaves(params);
      const zero = leaves.map((p) => zeros(p.shape));
      return { step: 0, m: rebuild(def, zero), v: rebuild(def, zero) };
    },
    update(grads, state, params) {
      const t = state.step + 1;
      const { keys, leaves: ps, def } = keyedLeaves(params);
      const gs = keyedLeaves(grads).leaves;
      const ms = keyedLeaves(state.m).leaves;
      const vs = keyedLeaves(state.v).leaves;
      if (gs.length !== ps.length || ms.length !== ps.length) throw new Error(`adamw: gradients (${gs.length}) and state (${ms.length}) do not match the ${ps.length} parameters`);
      const next: Tensor[] = new Array(ps.length);
      const nm: Tensor[] = new Array(ps.length);
      const nv: Tensor[] = new Array(ps.length);
      // small parameters sharing (rate, decay) are updated together as one flat vector: three kernels per
      // batch instead of three per tensor (a small tensor costs more in kernel launches than in
      // arithmetic; a large one is updated in place of a copy into the batch). A backend whose kernels
      // take few inputs splits the concat itself (gpu.js on GL / WebGPU).
      const open = new Map<string, Batch>();
      const batches: Batch[] = [];
      ps.forEach((p, i) => {
        const group = groupOf(groups, keys[i]);
        const rate = lrAt(group?.lr ?? lr, t);
        const wd = group?.weightDecay ?? weightDecay;
        const batched = p.dtype === 'float32' && p.size > 0 && p.size < BATCH_BELOW;
        let b = batched ? open.get(`${rate}/${wd}`) : undefined;
        if (!b) {
          batches.push((b = { rate, wd, idx: [] }));
          if (batched) open.set(`${rate}/${wd}`, b);
        }
        b.idx.push(i);
      });
      for (const { rate, wd, idx } of batches) {
        const single = idx.length === 1;
        const pick = (xs: Tensor[]) => (single ? xs[idx[0]] : flatten(idx.map((i) => xs[i])));
        const [g, m0, v0, p0] = [pick(gs), pick(ms), pick(vs), pick(ps)];
        const m = add(mul(m0, b1), mul(g, 1 - b1));
        const v = add(mul(v0, b2), mul(mul(g, g), 1 - b2));
        const denom = add(div(sqrt(v), Math.sqrt(1 - b2 ** t)), eps);
        const decayed = wd ? mul(p0, 1 - rate * wd) : p0;
        const p = sub(decayed, mul(div(m, denom), rate / (1 - b1 ** t)));
        const shapes = idx.map((i) => ps[i].shape);
        const [pp, mm, vv] = single ? [[p], [m], [v]] : [unflatten(p, shapes), unflatten(m, shapes), unflatten(v, shapes)];
        idx.forEach((i, k) => {
          next[i] = pp[k];
          nm[i] = mm[k];
          nv[i] = vv[k];
        });
      }
      return [rebuild(def, next) as typeof params, { step: t, m: rebuild(def, nm), v: rebuild(def, nv) }];
    },
  };
}

interface Batch {
  rate: number;
  wd: number;
  /** indices of the parameters updated together */
  idx: number[];
}

/** Parameters of this many elements or more are updated on their own. */
const BATCH_BELOW = 8192;

/** The tensors' values end to end, as one vector. */
const flatten = (xs: readonly Tensor[]): Tensor => concat(xs.map((x) => reshape(x, [x.size])));

/** Split a vector back into tensors of `shapes` (views of it: no copies). */
function unflatten(flat: Tensor, shapes: readonly (readonly number[])[]): Tensor[] {
  let at = 0;
  return shapes.map((shape) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const part = reshape(slice(flat, [at], [at + n]), [...shape]);
    at += n;
    return part;
  });
}
