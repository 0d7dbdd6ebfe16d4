/**
 * Attention: masks (causal, GPT-Neo local window, padding), scaled dot-product attention with grouped
 * key/value heads, and cross-attention between two streams.
 *
 * A mask built here is a 0/1 tensor that also knows how it was built (`maskParts`): causal from a
 * position, a window, a key padding mask. `scaledDotProductAttention` runs such a mask as the fused
 * attention primitive (no [Tq, Tk] scores or probabilities in memory, its own backward) and any other
 * mask — one the caller computed, sliced or reshaped — as the composite. Models and bridges call the one
 * function and do not know which runs.
 */
import { add, arange, cast, fusedAttention, matmul, mul, notEqual, permute, reshape, slice, softmax, sub, greater, lessEqual, where, type Tensor } from '@llm-modules/tensor';
import { linear } from './linear.js';

/** The value masked scores get: float32's lowest finite number, as Hugging Face's `finfo(float32).min`. */
export const MASK_VALUE = -3.4028234663852886e38;

/** How a mask was built: what the fused attention takes instead of the tensor. */
export interface MaskParts {
  readonly queryLength: number;
  readonly keyLength: number;
  /** query i (absolute position past + i) sees keys j ≤ past + i, and j > past + i − window with a window */
  readonly causal?: { readonly past: number; readonly window?: number };
  /** `[B, Tk]` float32, non-zero = real key */
  readonly keys?: Tensor;
}

// Set once when a mask is made (masks are immutable values), read when attention is built; a mask
// tensor from anywhere else has no entry and runs the composite.
const parts = new WeakMap<Tensor, MaskParts>();

/**
 * How `mask` was built by {@link causalMask}, {@link paddingMask} or {@link andMasks}, or undefined.
 * @example `maskParts(causalMask({ queryLength: 2, keyLength: 5, pastLength: 3 }))?.causal` → `{ past: 3 }`
 */
export const maskParts = (mask: Tensor): MaskParts | undefined => parts.get(mask);

/**
 * `a AND b` of two 0/1 masks (broadcasting); the result is non-zero where both are.
 * @example `andMasks(causalMask({ queryLength: 4, keyLength: 4 }), paddingMask(tensor(new Int32Array([1, 1, 1, 0]), [1, 4]))).shape` → [1, 1, 4, 4]
 */
export function andMasks(a: Tensor, b: Tensor): Tensor {
  const m = mul(a, b);
  const [pa, pb] = [parts.get(a), parts.get(b)];
  // one causal rule and one key mask over the same keys stay expressible; anything else is a plain tensor
  if (pa && pb && pa.keyLength === pb.keyLength && !(pa.causal && pb.causal) && !(pa.keys && pb.keys)) {
    const queryLength = pa.causal ? pa.queryLength : pb.queryLength;
    parts.set(m, { queryLength, keyLength: pa.keyLength, causal: pa.causal ?? pb.causal, keys: pa.keys ?? pb.keys });
  }
  return m;
}

export interface CausalMaskOptions {
  /** Number of queries T (they are the last T positions before `pastLength + T`). */
  queryLength: number;
  /** Number of keys (cache length or capacity, ≥ pastLength + queryLength). */
  keyLength: number;
  /** Index of the first query among the keys (the cache's filled length); default 0. */
  pastLength?: number;
  /** GPT-Neo local attention: keep only keys with `j > i − window` (the query and window−1 before it). */
  window?: number;
}

/**
 * Which keys each query may see by position: `j ≤ i` (and `j > i − window` for local attention), as a 0/1
 * tensor `[1, 1, Tq, Tk]`. `pastLength` is data, not part of a kernel, so decoding steps reuse kernels.
 *
 * @example
 * ```ts
 * const m = causalMask({ queryLength: 3, keyLength: 3, window: 2 });
 * console.log(await m.array()); // [[[[1,0,0],[1,1,0],[0,1,1]]]]
 * ```
 */
export function causalMask({ queryLength, keyLength, pastLength = 0, window }: CausalMaskOptions): Tensor {
  const q = reshape(add(arange(queryLength), pastLength), [queryLength, 1]); // [Tq, 1] absolute query index
  const k = reshape(arange(keyLength), [1, keyLength]); // [1, Tk]
  let allowed = lessEqual(k, q); // [Tq, Tk]
  if (window !== undefined) allowed = mul(allowed, greater(k, sub(q, window)));
  const m = reshape(allowed, [1, 1, queryLength, keyLength]); // [1, 1, Tq, Tk]
  parts.set(m, { queryLength, keyLength, causal: window === undefined ? { past: pastLength } : { past: pastLength, window } });
  return m;
}

/**
 * Padding mask from an `attention_mask` `[B, Tk]` (1 = real token, 0 = pad): `[B, 1, 1, Tk]`, non-zero where
 * the key is real. @example `paddingMask(tensor(new Int32Array([1, 1, 0]), [1, 3])).shape` → [1, 1, 1, 3] (false at the pad)
 */
export function paddingMask(attentionMask: Tensor): Tensor {
  const [B, S] = attentionMask.shape;
  const m = reshape(notEqual(attentionMask, 0), [B, 1, 1, S]); // [B, 1, 1, Tk]
  // the float32 key mask every layer's fused attention reads (one node: computed once per evaluation)
  const keys = attentionMask.dtype === 'float32' ? attentionMask : cast(attentionMask, 'float32'); // [B, Tk]
  parts.set(m, { queryLength: 1, keyLength: S, keys });
  return m;
}

export interface AttentionOptions {
  /** 0/1 mask broadcastable to `[B, 1, Tq, Tk]` (non-zero = may attend). */
  mask?: Tensor | null;
  /** Multiplies the scores; default `1/√d`. GPT-Neo uses 1 (no scaling). */
  scale?: number;
}

/**
 * `softmax(q·kᵀ·scale + mask)·v` per head. `q` is `[B, H, Tq, d]`; `k`, `v` are `[B, KV, Tk, d]` with
 * `H` a multiple of `KV`: query head `h` reads key/value head `⌊h / (H/KV)⌋` (Hugging Face's `repeat_kv`),
 * computed by broadcasting, without copying the keys. Masked scores become {@link MASK_VALUE}, so a row
 * with every key masked (a pad query) is uniform, never NaN. Returns `[B, H, Tq, d]`.
 *
 * No mask, or a mask made by {@link causalMask} / {@link paddingMask} / {@link andMasks} (causal from any
 * past length, a window, key padding, in any conjunction), runs the fused attention primitive; any other
 * mask tensor (one computed or reshaped by the caller, a per-query pattern) runs the composite
 * `softmax(where(mask, scores, MASK_VALUE))·v`. Both give the same values (tested).
 *
 * @example
 * ```ts
 * import { randomNormal, prngKey } from '@llm-modules/tensor';
 * const q = randomNormal(prngKey(0), [1, 6, 4, 8]);
 * const kv = randomNormal(prngKey(1), [1, 2, 4, 8]);
 * const o = scaledDotProductAttention(q, kv, kv, { mask: causalMask({ queryLength: 4, keyLength: 4 }) }); // [1, 6, 4, 8]
 * ```
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, { mask, scale }: AttentionOptions = {}): Tensor {
  const [B, H, Tq, d] = q.shape;
  const [, KV, Tk] = k.shape;
  if (H % KV !== 0) throw new Error(`attention: ${H} query heads are not a multiple of ${KV} key/value heads`);
  const rep = H / KV;
  // Grouped layout only when heads share keys: reshaping a permuted view would copy it.
  const qg = rep === 1 ? q : reshape(q, [B, KV, rep, Tq, d]); // [B, KV, rep, Tq, d] (or [B, H, Tq, d])
  const kg = rep === 1 ? k : reshape(k, [B, KV, 1, Tk, d]); // [B, KV, 1, Tk, d]
  const vg = rep === 1 ? v : reshape(v, [B, KV, 1, Tk, d]); // [B, KV, 1, Tk, d]
  const fused = fusedOptions(mask, B, Tq, Tk);
  if (fused) return reshape(fusedAttention(qg, kg, vg, { ...fused, scale: scale ?? 1 / Math.sqrt(d) }), [B, H, Tq, d]); // [B, H, Tq, d]
  const r = qg.rank;
  let scores = matmul(qg, permute(kg, [...kg.shape.slice(0, -2).map((_, i) => i), r - 1, r - 2])); // [B, KV, rep, Tq, Tk]
  const s = scale ?? 1 / Math.sqrt(d);
  if (s !== 1) scores = mul(scores, s);
  if (mask) {
    const lead = mask.shape[0];
    const m = reshape(mask, [lead, ...new Array<number>(r - 3).fill(1), mask.shape[mask.rank - 2], mask.shape[mask.rank - 1]]); // [B|1, 1, (1,) Tq, Tk]
    scores = where(m, scores, MASK_VALUE);
  }
  const out = matmul(softmax(scores, -1), vg); // [B, KV, rep, Tq, d]
  return reshape(out, [B, H, Tq, d]); // [B, H, Tq, d]
}

/** One query's causal rule folded into the key mask, per mask (every layer reads the same node). */
const decodeKeys = new WeakMap<Tensor, Tensor>();

/** The fused attention's options for `mask` over [B, Tq, Tk], or undefined when it cannot express it. */
function fusedOptions(mask: Tensor | null | undefined, B: number, Tq: number, Tk: number): { causal: boolean; offset?: number; window?: number; keyMask?: Tensor } | undefined {
  if (!mask) return { causal: false };
  const p = parts.get(mask);
  if (!p || p.keyLength !== Tk || (p.causal && p.queryLength !== Tq)) return undefined;
  if (p.keys && p.keys.shape[0] !== B && p.keys.shape[0] !== 1) return undefined;
  const c = p.causal;
  if (c && (c.past < 0 || c.past + Tq > Tk || (c.window !== undefined && !(Number.isInteger(c.window) && c.window >= 1)))) return undefined;
  if (c && Tq === 1) {
    // a decoding step: the causal rule as data in the key mask, so the kernel (a compiled one on the GPU
    // backends) is the same at every step, where an offset attribute would make a new one per token
    let keys = decodeKeys.get(mask);
    if (!keys) {
      const j = arange(Tk);
      let visible = lessEqual(j, c.past); // [Tk]
      if (c.window !== undefined) visible = mul(visible, greater(j, c.past - c.window));
      const v = reshape(cast(visible, 'float32'), [1, Tk]); // [1, Tk]
      keys = p.keys ? mul(p.keys, v) : v; // [B|1, Tk]
      decodeKeys.set(mask, keys);
    }
    return { causal: false, keyMask: keys };
  }
  return { causal: !!c, offset: c?.past, window: c?.window, keyMask: p.keys };
}

/** `[B, T, n·d]` → `[B, n, T, d]` (a view: no data moves). @example `splitHeads(zeros([2, 5, 64]), 4).shape` → [2, 4, 5, 16] */
export function splitHeads(x: Tensor, heads: number): Tensor {
  const [B, T, D] = x.shape;
  return permute(reshape(x, [B, T, heads, D / heads]), [0, 2, 1, 3]); // [B, n, T, d]
}

/**
 * `[B, T, parts·n·d]` (several projections side by side: q, k, v of one product) → `parts` views `[B, n, T, d]`.
 * The three gradients meet again in a `[parts, B, n, T, d]` block — the layout the fused attention backward
 * writes them in, so joining them costs no copy.
 * @example-skip a fragment: `x` comes from the caller's code
 * @example `const [q, k, v] = splitJointHeads(linear(x, concat([wq, wk, wv])), 3, 12)`
 */
export function splitJointHeads(x: Tensor, parts: number, heads: number): Tensor[] {
  const [B, T, W] = x.shape;
  const d = W / (parts * heads);
  if (!Number.isInteger(d)) throw new Error(`splitJointHeads: width ${W} is not ${parts} parts × ${heads} heads`);
  const h = permute(reshape(x, [B, T, parts, heads, d]), [2, 0, 3, 1, 4]); // [parts, B, n, T, d]
  return Array.from({ length: parts }, (_, i) => reshape(slice(h, [i], [i + 1]), [B, heads, T, d])); // [B, n, T, d]
}

/** `[B, n, T, d]` → `[B, T, n·d]`. @example `mergeHeads(zeros([2, 4, 5, 16])).shape` → [2, 5, 64] */
export function mergeHeads(x: Tensor): Tensor {
  const [B, n, T, d] = x.shape;
  return reshape(permute(x, [0, 2, 1, 3]), [B, T, n * d]); // [B, T, n·d]
}

/** Projections of a cross-attention layer (`nn.Linear` weights `[out, in]`; biases optional). */
export interface CrossAttentionParams {
  q_proj: { weight: Tensor; bias?: Tensor | null };
  k_proj: { weight: Tensor; bias?: Tensor | null };
  v_proj: { weight: Tensor; bias?: Tensor | null };
  out_proj: { weight: Tensor; bias?: Tensor | null };
}

export interface CrossAttentionOptions {
  heads: number;
  /** `[B, Tk]` 1 = real context token, 0 = pad. */
  contextMask?: Tensor | null;
  /** Query i may only read context positions j ≤ i (streams aligned position by position). Default false. */
  causal?: boolean;
  /** Default `1/√(head_dim)`. */
  scale?: number;
}

/**
 * Multi-head cross-attention: queries from `x` `[B, Tq, Dq]`, keys and values from `context` `[B, Tk, Dc]`,
 * output `out_proj(attention)` `[B, Tq, D]` with D the `q_proj` width. `causal` hides context positions
 * after the query's own (no future-token leak when both streams are the same token sequence).
 *
 * @example-skip a fragment: needs two hidden-state streams and q/k/v/out projection weights (the bridge variants call it)
 * @example
 * ```ts
 * const y = crossAttention(student, teacher, params, { heads: 8, contextMask: mask, causal: true });
 * ```
 */
export function crossAttention(x: Tensor, context: Tensor, p: CrossAttentionParams, opts: CrossAttentionOptions): Tensor {
  const q = splitHeads(linear(x, p.q_proj.weight, p.q_proj.bias), opts.heads); // [B, nh, Tq, hd]
  const k = splitHeads(linear(context, p.k_proj.weight, p.k_proj.bias), opts.heads); // [B, nh, Tk, hd]
  const v = splitHeads(linear(context, p.v_proj.weight, p.v_proj.bias), opts.heads); // [B, nh, Tk, hd]
  const [Tq, Tk] = [x.shape[1], context.shape[1]];
  let mask: Tensor | null = opts.contextMask ? paddingMask(opts.contextMask) : null;
  if (opts.causal) {
    const c = causalMask({ queryLength: Tq, keyLength: Tk });
    mask = mask ? andMasks(mask, c) : c;
  }
  const o = scaledDotProductAttention(q, k, v, { mask, scale: opts.scale }); // [B, nh, Tq, hd]
  return linear(mergeHeads(o), p.out_proj.weight, p.out_proj.bias); // [B, Tq, D]
}
