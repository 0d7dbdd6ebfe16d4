/** Pieces the built-in variants share: PyTorch-style init, masks, multi-head attention with dropout, slicing. */
import { foldIn, full, greaterEqual, matmul, mul, permute, randomUniform, slice, softmax, where, zeros, type PRNGKey, type Tensor } from '@llm-modules/tensor';
import { andMasks, causalMask, linear, mergeHeads, MASK_VALUE, paddingMask, param, scaledDotProductAttention, splitHeads } from '@llm-modules/transformer';
import type { BridgeContext, Params } from './types.js';
import { initVars, torchLinearVars } from './vars.js';

/** `params[name]`, or an error naming the missing parameter (the transformer package's `param`). @example-skip a fragment: `p` comes from the caller's code @example `need(p, 'proj.weight')` */
export const need = param;

/**
 * The `nn.Linear` named `name` of a parameter tree applied to `x`: `x · W[name.weight]ᵀ + b[name.bias]`, the partner
 * @example-skip a fragment: `p` comes from the caller's code
 * of {@link torchLinear}'s init. @example `linearNamed(p, 'out_proj', h) // [B, T, out]`
 */
export const linearNamed = (p: Params, name: string, x: Tensor): Tensor => linear(x, need(p, `${name}.weight`), need(p, `${name}.bias`));

/**
 * Parameters of `nn.Linear(inF, outF)` with PyTorch's default init: weight and bias uniform in ±1/√inF
 * (kaiming-uniform with a = √5). Entries are `${prefix}.weight` `[out, in]` and `${prefix}.bias` `[out]`.
 * @example-skip a fragment: `key` comes from the caller's code
 * @example `torchLinear(key, 'proj', 1536, 768)` → `{ 'proj.weight': [768, 1536], 'proj.bias': [768] }`
 */
export const torchLinear = (key: PRNGKey, prefix: string, inF: number, outF: number, bias = true): Params => initVars(key, (vb) => torchLinearVars(vb.pp(prefix), inF, outF, bias));

/** `nn.LayerNorm(d)` parameters: weight 1, bias 0. @example `layerNormInit('norm', 768)` */
export const layerNormInit = (prefix: string, d: number): Params => ({ [`${prefix}.weight`]: full([d], 1), [`${prefix}.bias`]: zeros([d]) });

/**
 * Inverted dropout: zero each element with probability `p`, scale the rest by 1/(1−p). Identity when p is 0.
 * @example-skip a fragment: `probs` comes from the caller's code
 * @example `dropout(probs, 0.1, key)`
 */
export function dropout(x: Tensor, p: number, key: PRNGKey): Tensor {
  if (p <= 0) return x;
  if (p >= 1) return mul(x, 0);
  const keep = greaterEqual(randomUniform(key, x.shape), p); // same shape, bool
  return where(keep, mul(x, 1 / (1 - p)), 0);
}

/** The query window `[q0, q0 + Tq)` of a context over `Tk` teacher positions. @example-skip a fragment: `ctx` comes from the caller's code @example `queryWindow(ctx, 11)` → `{ q0: 0, Tq: 11 }` */
export function queryWindow(ctx: BridgeContext<unknown>, Tk: number): { q0: number; Tq: number } {
  const q0 = ctx.queryStart ?? 0;
  const Tq = ctx.queryLength ?? Tk - q0;
  if (q0 < 0 || Tq < 1 || q0 + Tq > Tk) throw new Error(`bridge: query window [${q0}, ${q0 + Tq}) is outside the ${Tk} teacher positions`);
  return { q0, Tq };
}

/** Positions `[q0, q0 + Tq)` of `[B, T, …]` (the tensor itself when that is everything). @example-skip a fragment: `P` comes from the caller's code @example `rows(P, 3, 1)` */
export function rows(x: Tensor, q0: number, Tq: number): Tensor {
  if (q0 === 0 && Tq === x.shape[1]) return x;
  const end = x.shape.slice();
  end[1] = q0 + Tq;
  return slice(x, [0, q0, ...x.shape.slice(2).map(() => 0)], end); // [B, Tq, …]
}

/**
 * The cross-attention mask `[B|1, 1, Tq, Tk]` (non-zero = may attend): padding keys hidden; with `causal`,
 * query i (absolute position q0 + i) also hides keys j > q0 + i. Null when nothing is hidden. Built from the
 * transformer's `paddingMask` / `causalMask`, so attention runs it fused.
 * @example-skip a fragment: `ctx` comes from the caller's code
 * @example `crossMask(ctx.attentionMask, 0, T, T, true)`
 */
export function crossMask(attentionMask: Tensor | null | undefined, q0: number, Tq: number, Tk: number, causal: boolean): Tensor | null {
  const pad = attentionMask ? paddingMask(attentionMask) : null; // [B, 1, 1, Tk]
  if (!causal) return pad;
  const c = causalMask({ queryLength: Tq, keyLength: Tk, pastLength: q0 }); // [1, 1, Tq, Tk]
  return pad ? andMasks(c, pad) : c;
}

export interface AttendOptions {
  heads: number;
  mask: Tensor | null;
  /** Dropout on the attention probabilities (applied only when `key` is given). */
  dropout?: number;
  key?: PRNGKey | null;
}

/**
 * Multi-head attention of projected queries `[B, Tq, D]` over projected keys and values `[B, Tk, D]`:
 * `softmax(q·kᵀ/√(D/heads) + mask)·v` per head (masked scores get float32's lowest value), heads merged →
 * `[B, Tq, D]` (apply `out_proj` after). Without dropout this is `scaledDotProductAttention`: the fused attention
 * primitive for the masks {@link crossMask} builds (key padding, causal from the query window's start). Dropout
 * on the probabilities (when `key` is given and `dropout > 0`: training) needs them in memory: the composite.
 * @example-skip a fragment: `linear` comes from the caller's code
 * @example `attend(linear(x, wq, bq), k, v, { heads: 8, mask })`
 */
export function attend(q: Tensor, k: Tensor, v: Tensor, { heads, mask, dropout: p = 0, key }: AttendOptions): Tensor {
  const qh = splitHeads(q, heads); // [B, nh, Tq, hd]
  const kh = splitHeads(k, heads); // [B, nh, Tk, hd]
  const vh = splitHeads(v, heads); // [B, nh, Tk, hd]
  if (!(key && p > 0)) return mergeHeads(scaledDotProductAttention(qh, kh, vh, { mask })); // [B, Tq, D]
  const hd = q.shape[2] / heads;
  let scores = mul(matmul(qh, permute(kh, [0, 1, 3, 2])), 1 / Math.sqrt(hd)); // [B, nh, Tq, Tk]
  if (mask) scores = where(mask, scores, MASK_VALUE); // [B, nh, Tq, Tk]
  const probs = dropout(softmax(scores, -1), p, key); // [B, nh, Tq, Tk]
  return mergeHeads(matmul(probs, vh)); // [B, Tq, D]
}

/** Merge several parameter trees, prefixing each (`{ 'a.': tree }`). @example-skip a fragment: `params` comes from the caller's code @example `prefixed('layers.0.', params)` */
export function prefixed(prefix: string, params: Params): Params {
  const out: Params = {};
  for (const [k, v] of Object.entries(params)) out[prefix + k] = v;
  return out;
}

/** Independent key number `i` of `key` (for one sub-module's init). @example-skip a fragment: `key` comes from the caller's code @example `torchLinear(subKey(key, 0), 'proj', 48, 32)` */
export const subKey = (key: PRNGKey, i: number): PRNGKey => foldIn(key, i);
