/**
 * Fused scaled-dot-product attention, `softmax(scale·q·kᵀ + mask)·v`, as two primitives with their own
 * gradient rules. The mask is what real callers have: causal with an offset (a KV cache: the queries are
 * the keys from `offset` on), GPT-Neo's local window, and a key mask (padding: `[..batch, Tk]`, non-zero
 * = real key), the optional fourth input.
 *
 * - `attention(q, k, v[, keys])` → `[..., Tq, Dv + 1]`: the output rows and, in the last column, each
 *   row's logsumexp L (what the backward pass needs instead of the [Tq, Tk] probabilities). The public
 *   `fusedAttention` returns the first Dv columns (a view).
 * - `attentionGrad(q, k, v, fwd, g[, keys])` → one flat vector `[dq | dk | dv]` over all batch items.
 *
 * A row that sees no key at all (a pad query of a left-padded batch) gets what the composite
 * `softmax(where(mask, s, MASK_VALUE))·v` gives: every score equal, so v averaged over all Tk keys,
 * L = MASK_VALUE, and no gradient to q or k.
 *
 * Each has one gpu.js kernel (attention-kernels.ts, any backend); the CPU backends run the WebAssembly
 * SIMD kernels of wasm/attention*.ts (ops/attention/cpu.ts): past T ≈ 384 they hold at most one block of
 * scores per head; shorter sequences run whole heads four query rows at a time, and a forward built
 * for differentiation (attribute `keep`) may keep P for the backward (ops/attention/cpu-cache.ts,
 * bounded). The rule of `attentionGrad` (second-order gradients) differentiates the composite backward
 * (exact, not fused).
 */
import { TensorError, fmtShape } from '../../errors.js';
import { shapesEqual, sizeOf } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { PRIMITIVES, definePrimitive, node } from '../../primitives/registry.js';
import { add, cast, div, greater, lessEqual, mul, notEqual, sub, where } from '../../primitives/binary.js';
import { exp, log, stopGradient } from '../../primitives/unary.js';
import { max, sum, sumToShape } from '../../primitives/reduce.js';
import { concat, reshape, slice, transpose, broadcastTo } from '../../primitives/movement.js';
import { matmul } from '../../primitives/matmul.js';
import { arange } from '../../creation.js';
import { attentionDims, differentiated, MASK_VALUE, type AttentionAttrs } from './attrs.js';
import { forwardKernel, gradKernel } from './gpujs.js';

export { attentionDims, MASK_VALUE, type AttentionAttrs } from './attrs.js';

export interface AttentionOptions {
  /** mask key j for query i unless j ≤ i + offset (default true) */
  readonly causal?: boolean;
  /**
   * with `causal`: the index of the first query among the keys (default Tk − Tq; a static KV cache
   * passes the filled length). Needs 0 ≤ offset ≤ Tk − Tq.
   */
  readonly offset?: number;
  /** multiplies the scores (default 1/√D; GPT-Neo uses 1) */
  readonly scale?: number;
  /** with `causal`, also mask keys more than `window − 1` positions behind the query (local attention) */
  readonly window?: number;
  /**
   * key padding: `[B, Tk]` (B = q's first dim, or 1), non-zero = a real key (an `attention_mask`,
   * any dtype). The CPU kernels exploit rows whose real keys are one run (left or right padding).
   */
  readonly keyMask?: Tensor | null;
}

// ---------------------------------------------------------------------------------------------------
// gradients

const swapLast = (x: Tensor): Tensor => transpose(x, [...x.shape.slice(0, -2).map((_, k) => k), x.rank - 1, x.rank - 2]);

/** The mask as a bool [..., Tq, Tk] tensor (true = visible), or null when every key is visible. */
function maskOf(a: AttentionAttrs, tq: number, tk: number, keys: Tensor | undefined): Tensor | null {
  let m: Tensor | null = null;
  if (a.causal) {
    const i = reshape(arange(tq), [tq, 1]);
    const j = reshape(arange(tk), [1, tk]);
    m = lessEqual(j, add(i, a.offset));
    if (a.window > 0) m = mul(m, greater(j, add(i, a.offset - a.window)));
  }
  if (keys) {
    const real = notEqual(reshape(keys, [...keys.shape.slice(0, -1), 1, tk]), 0); // [..batch, 1, Tk]
    m = m ? mul(m, real) : real;
  }
  return m;
}

/** The unfused forward in primitives: [O | L] (the reference meaning of `attention`). */
export function attentionComposite(q: Tensor, k: Tensor, v: Tensor, a: AttentionAttrs, keys?: Tensor): Tensor {
  const { tq, tk } = attentionDims(q, k, v);
  let s = mul(matmul(q, swapLast(k)), a.scale);
  const mask = maskOf(a, tq, tk, keys);
  if (mask) s = where(mask, s, MASK_VALUE); // finite: a row hiding every key is uniform, as documented above
  const m = stopGradient(max(s, -1, true)); // a shift: softmax and logsumexp do not depend on it
  const p = exp(sub(s, m));
  const l = sum(p, -1, true);
  const o = matmul(div(p, l), v);
  return concat([o, add(log(l), m)], -1);
}

/** Split the flat gradient vector into dq, dk, dv (views), reduced to the inputs' shapes. */
function splitGrad(flat: Tensor, q: Tensor, k: Tensor, v: Tensor): [Tensor, Tensor, Tensor] {
  const { batch, tq, tk, d, dv } = attentionDims(q, k, v);
  const nb = sizeOf(batch);
  const [nq, nk, nv] = [nb * tq * d, nb * tk * d, nb * tk * dv];
  const dq = reshape(slice(flat, [0], [nq]), [...batch, tq, d]);
  const dk = reshape(slice(flat, [nq], [nq + nk]), [...batch, tk, d]);
  const dvv = reshape(slice(flat, [nq + nk], [nq + nk + nv]), [...batch, tk, dv]);
  return [sumToShape(dq, q.shape), sumToShape(dk, k.shape), sumToShape(dvv, v.shape)];
}

/**
 * Reverse mode over a small graph built here from primitives: the cotangents reaching `leaves` from
 * `outputs` seeded with `seeds` (missing = zero). Used for the rule of `attentionGrad`.
 */
function localVjp(outputs: readonly Tensor[], seeds: readonly Tensor[], leaves: readonly Tensor[]): (Tensor | null)[] {
  const leafSet = new Set(leaves);
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const visit = (t: Tensor): void => {
    if (seen.has(t)) return;
    seen.add(t);
    if (!leafSet.has(t) && t.dtype === 'float32' && !PRIMITIVES.get(t.op)?.nonDifferentiable) for (const i of t.inputs) visit(i);
    order.push(t);
  };
  outputs.forEach(visit);
  const ct = new Map<Tensor, Tensor>();
  const acc = (t: Tensor, g: Tensor): void => {
    const prev = ct.get(t);
    ct.set(t, prev ? add(prev, g) : g);
  };
  outputs.forEach((o, k) => acc(o, seeds[k]));
  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k];
    const g = ct.get(t);
    if (!g || leafSet.has(t) || t.inputs.length === 0) continue;
    const prim = PRIMITIVES.get(t.op);
    if (!prim?.vjp) continue;
    prim.vjp(g, t, t.inputs).forEach((gi, j) => {
      const x = t.inputs[j];
      if (gi && x.dtype === 'float32') acc(x, gi);
    });
  }
  return leaves.map((l) => ct.get(l) ?? null);
}

definePrimitive({
  name: 'attention',
  gpujs: forwardKernel,
  vjp: (g, out, [q, k, v, keys]) => {
    const { batch, tq, tk, d, dv } = attentionDims(q, k, v);
    const ins = keys ? [q, k, v, out, g, keys] : [q, k, v, out, g];
    const flat = node('attentionGrad', [sizeOf(batch) * (tq * d + tk * d + tk * dv)], 'float32', ins, out.attrs);
    return keys ? [...splitGrad(flat, q, k, v), null] : splitGrad(flat, q, k, v); // the key mask gets none
  },
});

definePrimitive({
  name: 'attentionGrad',
  gpujs: gradKernel,
  // second order: differentiate the composite backward (q, k, v, g → dq, dk, dv); `fwd` is a function
  // of q, k, v already accounted for by the composite, so it gets no cotangent of its own.
  vjp: (u, n, [q, k, v, , g, keys]) => {
    const a = n.attrs as AttentionAttrs;
    const f = attentionComposite(q, k, v, a, keys);
    const [dq, dk, dv] = localVjp([f], [g], [q, k, v]);
    const { batch, tq, tk, d, dv: dvDim } = attentionDims(q, k, v);
    const [uq, uk, uv] = splitGrad(u, broadcastTo(q, [...batch, tq, d]), broadcastTo(k, [...batch, tk, d]), broadcastTo(v, [...batch, tk, dvDim]));
    const outs: Tensor[] = [];
    const seeds: Tensor[] = [];
    for (const [x, s] of [
      [dq, sumToShape(uq, q.shape)],
      [dk, sumToShape(uk, k.shape)],
      [dv, sumToShape(uv, v.shape)],
    ] as const) {
      if (x) {
        outs.push(x);
        seeds.push(s);
      }
    }
    const [gq, gk, gv, gg] = localVjp(outs, seeds, [q, k, v, g]);
    return keys ? [gq, gk, gv, null, gg, null] : [gq, gk, gv, null, gg];
  },
});

/**
 * Fused attention: `softmax(scale·q·kᵀ + mask)·v` in one kernel that does not need the [Tq, Tk]
 * probabilities for the backward pass (the CPU paths keep them for short sequences while training,
 * bounded, to save recomputing); its gradient is fused too. The mask is any conjunction of causal (with
 * an offset for a KV cache), a local window and a key padding mask. q `[..., Tq, D]`, k `[..., Tk, D]`,
 * v `[..., Tk, Dv]` (batch dims broadcast: grouped key/value heads are read in place, never repeated);
 * result `[..., Tq, Dv]`. Equal to the composite `matmul(softmax(where(mask, scale·q·kᵀ, MASK_VALUE)), v)`
 * (tested), including rows that hide every key (v averaged over all keys).
 *
 * @example
 * ```ts
 * const [q, k, v] = [1, 2, 3].map((seed) => randomNormal(prngKey(seed), [2, 2, 5, 8])); // [B, H, T, D]
 * const keyMask = tensor(new Int32Array([1, 1, 1, 1, 1, 1, 1, 1, 0, 0]), [2, 5]); // [B, Tk]: row 1 right-padded
 * const out = fusedAttention(q, k, v, { causal: true, scale: 1 / Math.sqrt(8), keyMask });
 * console.log(out.shape); // [2, 2, 5, 8]
 * ```
 */
export function fusedAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  for (const [name, t] of [
    ['q', q],
    ['k', k],
    ['v', v],
  ] as const) {
    if (t.rank < 2) throw new TensorError('fusedAttention', `${name} must have rank ≥ 2, got ${fmtShape(t.shape)}`);
    if (t.dtype !== 'float32') throw new TensorError('fusedAttention', `${name} must be float32, got ${t.dtype}`);
  }
  const { batch, tq, tk, d, dv } = attentionDims(q, k, v);
  if (k.shape[k.rank - 1] !== d) throw new TensorError('fusedAttention', `q ${fmtShape(q.shape)} and k ${fmtShape(k.shape)} differ in the last dim`);
  if (v.shape[v.rank - 2] !== tk) throw new TensorError('fusedAttention', `k ${fmtShape(k.shape)} and v ${fmtShape(v.shape)} differ in length`);
  if (!shapesEqual(q.shape.slice(0, -2), batch)) {
    throw new TensorError('fusedAttention', `the batch dims of k ${fmtShape(k.shape)} / v ${fmtShape(v.shape)} must broadcast to those of q ${fmtShape(q.shape)}`);
  }
  const causal = options.causal ?? true;
  const window = options.window ?? 0;
  const offset = options.offset ?? tk - tq;
  if (!Number.isInteger(window) || window < 0) throw new TensorError('fusedAttention', `window must be a non-negative integer, got ${window}`);
  if (causal && tk < tq) throw new TensorError('fusedAttention', `a causal mask needs at least as many keys as queries, got Tq = ${tq}, Tk = ${tk}`);
  if (causal && !(Number.isInteger(offset) && offset >= 0 && offset <= tk - tq)) {
    throw new TensorError('fusedAttention', `offset must be an integer in [0, Tk − Tq] = [0, ${tk - tq}], got ${offset}`);
  }
  if (tk === 0) throw new TensorError('fusedAttention', 'needs at least one key');
  const keys = keyInput(options.keyMask, batch, tk);
  const scale = options.scale ?? 1 / Math.sqrt(d);
  const keep = differentiated([q, k, v]);
  const attrs: AttentionAttrs = { causal, scale, window: causal ? window : 0, offset: causal ? offset : 0, keep };
  const full = node('attention', [...batch, tq, dv + 1], 'float32', keys ? [q, k, v, keys] : [q, k, v], attrs);
  return slice(full, [...batch.map(() => 0), 0, 0], [...batch, tq, dv]);
}

/** The key mask as the primitive's input: float32 `[B|1, 1, …, Tk]` (rank of the batch dims + 1). */
function keyInput(mask: Tensor | null | undefined, batch: readonly number[], tk: number): Tensor | undefined {
  if (!mask) return undefined;
  const ok = batch.length > 0 && mask.rank === 2 && mask.shape[1] === tk && (mask.shape[0] === batch[0] || mask.shape[0] === 1);
  if (!ok) throw new TensorError('fusedAttention', `keyMask must be [${batch.length ? `${batch[0]} or 1` : 'B'}, ${tk}] (batch, keys), got ${fmtShape(mask.shape)}`);
  const f = mask.dtype === 'float32' ? mask : cast(mask, 'float32');
  return reshape(f, [mask.shape[0], ...batch.slice(1).map(() => 1), tk]); // [B|1, 1…, Tk]
}

/**
 * The same attention as `fusedAttention`, written with primitives (matmul, where, softmax pieces):
 * the reference the fused kernels are tested against, and the unfused baseline of the benchmark.
 */
export function attentionReference(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const { batch, tq, tk, dv, d } = attentionDims(q, k, v);
  const causal = options.causal ?? true;
  const a: AttentionAttrs = { causal, scale: options.scale ?? 1 / Math.sqrt(d), window: causal ? (options.window ?? 0) : 0, offset: causal ? (options.offset ?? tk - tq) : 0, keep: false };
  const f = attentionComposite(q, k, v, a, keyInput(options.keyMask, batch, tk));
  return slice(f, [...f.shape.slice(0, -2).map(() => 0), 0, 0], [...f.shape.slice(0, -2), tq, dv]);
}
