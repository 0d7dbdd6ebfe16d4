/**
 * Fused scaled-dot-product attention, `softmax(scale·q·kᵀ + mask)·v` with a causal (optionally
 * sliding-window) mask, as two primitives with their own gradient rules:
 *
 * - `attention(q, k, v)` → `[..., Tq, Dv + 1]`: the output rows and, in the last column, each row's
 *   logsumexp L (what the backward pass needs instead of the [Tq, Tk] probabilities). The public
 *   `fusedAttention` returns the first Dv columns (a view).
 * - `attentionGrad(q, k, v, fwd, g)` → one flat vector `[dq | dk | dv]` over all batch items.
 *
 * Each has one gpu.js kernel (any backend); the CPU backends run the WebAssembly SIMD kernels of
 * wasm/attention*.ts: past T ≈ 384 they hold at most one block of scores per head; shorter sequences
 * run whole heads four query rows at a time (fast/attention.ts), and in training the forward may keep
 * P for the backward (fast/attention-cache.ts, bounded). The rule of `attentionGrad`
 * (second-order gradients) differentiates the composite backward (exact, not fused).
 */
import { TensorError, fmtShape } from '../errors.js';
import { broadcastShapes, shapesEqual, sizeOf, type Shape } from '../shape.js';
import type { View } from '../backend.js';
import type { Tensor } from '../tensor.js';
import { broadcastView, kernelFn, lit, names, offsetOf, decompose, splitIndex, type GpuKernel } from '../kernels/codegen.js';
import { PRIMITIVES, definePrimitive, node } from './registry.js';
import { add, div, greater, lessEqual, mul, sub, where } from './binary.js';
import { exp, log, stopGradient } from './unary.js';
import { max, sum, sumToShape } from './reduce.js';
import { concat, reshape, slice, transpose, broadcastTo } from './movement.js';
import { matmul } from './matmul.js';
import { arange } from '../creation.js';

export interface AttentionOptions {
  /** mask key j for query i unless j ≤ i + Tk − Tq (default true; requires Tk ≥ Tq) */
  readonly causal?: boolean;
  /** multiplies the scores (default 1/√D; GPT-Neo uses 1) */
  readonly scale?: number;
  /** with `causal`, also mask keys more than `window − 1` positions behind the query (local attention) */
  readonly window?: number;
}

export interface AttentionAttrs {
  readonly causal: boolean;
  readonly scale: number;
  readonly window: number;
  readonly [k: string]: unknown;
}

/** Dims of an attention node: batch shape, Tq, Tk, D, Dv. */
export function attentionDims(q: { shape: Shape }, k: { shape: Shape }, v: { shape: Shape }): { batch: number[]; tq: number; tk: number; d: number; dv: number } {
  const r = q.shape.length;
  return {
    batch: broadcastShapes('fusedAttention', q.shape.slice(0, -2), k.shape.slice(0, -2), v.shape.slice(0, -2)),
    tq: q.shape[r - 2],
    tk: k.shape[k.shape.length - 2],
    d: q.shape[r - 1],
    dv: v.shape[v.shape.length - 1],
  };
}

// ---------------------------------------------------------------------------------------------------
// gpu.js kernels

/** `if (<key j visible from query i>)` as a gpu.js condition (i, j are names). */
function visible(a: AttentionAttrs, off: number, i: string, j: string): string {
  if (!a.causal) return 'true';
  const c = [`${j} <= ${i} + ${lit(off)}`];
  if (a.window > 0) c.push(`${j} > ${i} + ${lit(off - a.window)}`);
  return c.join(' && ');
}

/** `let <name> = scale · Σ_d q[b, i, d] k[b, j, d];` (loop variable `<name>d`) */
function score(name: string, qv: View, kv: View, b: string[], i: string, j: string, d: number, scale: number): string {
  const dd = `${name}d`;
  return [
    `let ${name} = 0.0;`,
    `for (let ${dd} = 0; ${dd} < ${d}; ${dd}++) {`,
    `  ${name} = ${name} + x0[${offsetOf(qv, [...b, i, dd])}] * x1[${offsetOf(kv, [...b, j, dd])}];`,
    '}',
    `${name} = ${name} * ${lit(scale)};`,
  ].join('\n  ');
}

function forwardKernel(n: Tensor, [q, k, v]: readonly View[]): GpuKernel {
  const a = n.attrs as AttentionAttrs;
  const { batch, tq, tk, d, dv } = attentionDims(q, k, v);
  const qv = broadcastView(q, [...batch, tq, d]);
  const kv = broadcastView(k, [...batch, tk, d]);
  const vv = broadcastView(v, [...batch, tk, dv]);
  const r = n.rank;
  const idx = names('i', r);
  const b = idx.slice(0, r - 2);
  const [i, c] = [idx[r - 2], idx[r - 1]];
  const off = tk - tq;
  const body = [
    decompose(n.shape),
    `let m = ${lit(-Infinity)};`,
    `for (let j = 0; j < ${tk}; j++) {`,
    `  if (${visible(a, off, i, 'j')}) {`,
    `  ${score('s1', qv, kv, b, i, 'j', d, a.scale)}`,
    '    if (s1 > m) {\n      m = s1;\n    }',
    '  }',
    '}',
    'let l = 0.0;',
    'let acc = 0.0;',
    `const cv = Math.min(${c}, ${lit(dv - 1)});`,
    `for (let j2 = 0; j2 < ${tk}; j2++) {`,
    `  if (${visible(a, off, i, 'j2')}) {`,
    `  ${score('s2', qv, kv, b, i, 'j2', d, a.scale)}`,
    '    const p = Math.exp(s2 - m);',
    '    l = l + p;',
    `    acc = acc + p * x2[${offsetOf(vv, [...b, 'j2', 'cv'])}];`,
    '  }',
    '}',
    `if (${c} > ${lit(dv - 0.5)}) {\n    return m + Math.log(l);\n  }`,
    'return acc / l;',
  ];
  return { source: kernelFn(3, body.join('\n  ')), inputs: [qv, kv, vv] };
}

function gradKernel(n: Tensor, [q, k, v, fwd, g]: readonly View[]): GpuKernel {
  const a = n.attrs as AttentionAttrs;
  const { batch, tq, tk, d, dv } = attentionDims(q, k, v);
  const nb = sizeOf(batch);
  const qv = broadcastView(q, [...batch, tq, d]);
  const kv = broadcastView(k, [...batch, tk, d]);
  const vv = broadcastView(v, [...batch, tk, dv]);
  const ov = broadcastView(fwd, [...batch, tq, dv + 1]);
  const gv = broadcastView(g, [...batch, tq, dv + 1]);
  const b = names('b', batch.length);
  const off = tk - tq;
  const [nq, nk] = [nb * tq * d, nb * tk * d];
  void PRIMITIVES;
  /** statements defining, for query row `i` and key `j`: p<x> (prob) and ds<x> (scale·P·(dP − Δ + dL)) */
  const probAndGrad = (x: string, i: string, j: string, withGrad: boolean): string[] => [
    score(`s${x}`, qv, kv, b, i, j, d, a.scale),
    `const p${x} = Math.exp(s${x} - x3[${offsetOf(ov, [...b, i, String(lit(dv))])}]);`,
    ...(withGrad
      ? [
          `let dp${x} = 0.0;`,
          `let delta${x} = 0.0;`,
          `for (let c${x} = 0; c${x} < ${dv}; c${x}++) {`,
          `  const gc${x} = x4[${offsetOf(gv, [...b, i, `c${x}`])}];`,
          `  dp${x} = dp${x} + gc${x} * x2[${offsetOf(vv, [...b, j, `c${x}`])}];`,
          `  delta${x} = delta${x} + gc${x} * x3[${offsetOf(ov, [...b, i, `c${x}`])}];`,
          '}',
          `const ds${x} = ${lit(a.scale)} * p${x} * (dp${x} - delta${x} + x4[${offsetOf(gv, [...b, i, String(lit(dv))])}]);`,
        ]
      : []),
  ];
  const region = (x: string, base: number, rowLen: number, rows: number, rowName: string, colName: string): string[] => [
    `const t${x} = this.thread.x - ${lit(base)};`,
    `const bf${x} = Math.floor((t${x} + 0.5) / ${lit(rows * rowLen)});`,
    `const rr${x} = t${x} - bf${x} * ${lit(rows * rowLen)};`,
    `const ${rowName} = Math.floor((rr${x} + 0.5) / ${lit(rowLen)});`,
    `const ${colName} = rr${x} - ${rowName} * ${lit(rowLen)};`,
    ...splitIndex(`bf${x}`, batch, `b${x}`),
  ];
  const bq = names('bq', batch.length);
  const bk = names('bk', batch.length);
  const bv = names('bv', batch.length);
  const body = [
    `if (this.thread.x < ${lit(nq)}) {`,
    ...region('q', 0, d, tq, 'qi', 'qd'),
    '  let accq = 0.0;',
    `  for (let jq = 0; jq < ${tk}; jq++) {`,
    `    if (${visible(a, off, 'qi', 'jq')}) {`,
    ...probAndGrad('q', 'qi', 'jq', true).map((l) => l.replace(/\bb(\d)/g, 'bq$1')),
    `      accq = accq + dsq * x1[${offsetOf(kv, [...bq, 'jq', 'qd'])}];`,
    '    }',
    '  }',
    '  return accq;',
    '}',
    `if (this.thread.x < ${lit(nq + nk)}) {`,
    ...region('k', nq, d, tk, 'kj', 'kd'),
    '  let acck = 0.0;',
    `  for (let ik = 0; ik < ${tq}; ik++) {`,
    `    if (${visible(a, off, 'ik', 'kj')}) {`,
    ...probAndGrad('k', 'ik', 'kj', true).map((l) => l.replace(/\bb(\d)/g, 'bk$1')),
    `      acck = acck + dsk * x0[${offsetOf(qv, [...bk, 'ik', 'kd'])}];`,
    '    }',
    '  }',
    '  return acck;',
    '}',
    ...region('v', nq + nk, dv, tk, 'vj', 'vc'),
    'let accv = 0.0;',
    `for (let iv = 0; iv < ${tq}; iv++) {`,
    `  if (${visible(a, off, 'iv', 'vj')}) {`,
    ...probAndGrad('v', 'iv', 'vj', false).map((l) => l.replace(/\bb(\d)/g, 'bv$1')),
    `    accv = accv + pv * x4[${offsetOf(gv, [...bv, 'iv', 'vc'])}];`,
    '  }',
    '}',
    'return accv;',
  ];
  return { source: kernelFn(5, body.join('\n  ')), inputs: [qv, kv, vv, ov, gv] };
}

// ---------------------------------------------------------------------------------------------------
// gradients

const swapLast = (x: Tensor): Tensor => transpose(x, [...x.shape.slice(0, -2).map((_, k) => k), x.rank - 1, x.rank - 2]);

/** The mask as a bool [Tq, Tk] tensor (true = visible). */
function maskOf(a: AttentionAttrs, tq: number, tk: number): Tensor {
  const i = reshape(arange(tq), [tq, 1]);
  const j = reshape(arange(tk), [1, tk]);
  let m = lessEqual(j, add(i, tk - tq));
  if (a.window > 0) m = mul(m, greater(j, add(i, tk - tq - a.window)));
  return m;
}

/** The unfused forward in primitives: [O | L] (the reference meaning of `attention`). */
export function attentionComposite(q: Tensor, k: Tensor, v: Tensor, a: AttentionAttrs): Tensor {
  const { tq, tk } = attentionDims(q, k, v);
  let s = mul(matmul(q, swapLast(k)), a.scale);
  if (a.causal) s = where(maskOf(a, tq, tk), s, -Infinity);
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

/**
 * Forward nodes whose backward node exists: autodiff built it from the rule below, before anything was
 * evaluated. The CPU fast paths keep P of exactly these for the backward (fast/attention-cache.ts), so
 * a forward with no backward to come (inference, evaluation between training steps) never pays for it.
 */
export const backwardPending = new WeakSet<Tensor>();

definePrimitive({
  name: 'attention',
  gpujs: forwardKernel,
  vjp: (g, out, [q, k, v]) => {
    backwardPending.add(out);
    const { batch, tq, tk, d, dv } = attentionDims(q, k, v);
    const flat = node('attentionGrad', [sizeOf(batch) * (tq * d + tk * d + tk * dv)], 'float32', [q, k, v, out, g], out.attrs);
    return splitGrad(flat, q, k, v);
  },
});

definePrimitive({
  name: 'attentionGrad',
  gpujs: gradKernel,
  // second order: differentiate the composite backward (q, k, v, g → dq, dk, dv); `fwd` is a function
  // of q, k, v already accounted for by the composite, so it gets no cotangent of its own.
  vjp: (u, n, [q, k, v, , g]) => {
    const a = n.attrs as AttentionAttrs;
    const f = attentionComposite(q, k, v, a);
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
    return [gq, gk, gv, null, gg];
  },
});

/**
 * Fused attention: `softmax(scale·q·kᵀ + mask)·v` with a causal (optionally sliding-window) mask, in
 * one kernel that does not need the [Tq, Tk] probabilities for the backward pass (the CPU paths keep
 * them for short sequences while training, bounded, to save recomputing); its gradient is fused too. q `[..., Tq, D]`, k `[..., Tk, D]`, v `[..., Tk, Dv]` (batch dims
 * broadcast, e.g. shared key/value heads); result `[..., Tq, Dv]`. Equal to the composite
 * `matmul(softmax(where(mask, scale·q·kᵀ, −∞)), v)` (tested), which remains the way to apply padding
 * masks.
 *
 * @example
 * ```ts
 * const [q, k, v] = [1, 2, 3].map((seed) => randomNormal(prngKey(seed), [1, 2, 5, 8])); // [B, H, T, D]
 * const out = fusedAttention(q, k, v, { causal: true, scale: 1 / Math.sqrt(8) });
 * console.log(out.shape); // [1, 2, 5, 8]
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
  if (!Number.isInteger(window) || window < 0) throw new TensorError('fusedAttention', `window must be a non-negative integer, got ${window}`);
  if (causal && tk < tq) throw new TensorError('fusedAttention', `a causal mask needs at least as many keys as queries, got Tq = ${tq}, Tk = ${tk}`);
  if (tk === 0) throw new TensorError('fusedAttention', 'needs at least one key');
  const scale = options.scale ?? 1 / Math.sqrt(d);
  const attrs: AttentionAttrs = { causal, scale, window: causal ? window : 0 };
  const full = node('attention', [...batch, tq, dv + 1], 'float32', [q, k, v], attrs);
  return slice(full, [...batch.map(() => 0), 0, 0], [...batch, tq, dv]);
}

/**
 * The same attention as `fusedAttention`, written with primitives (matmul, where, softmax pieces):
 * the reference the fused kernels are tested against, and the unfused baseline of the benchmark.
 */
export function attentionReference(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const { tq, dv, d } = attentionDims(q, k, v);
  const causal = options.causal ?? true;
  const f = attentionComposite(q, k, v, { causal, scale: options.scale ?? 1 / Math.sqrt(d), window: causal ? (options.window ?? 0) : 0 });
  return slice(f, [...f.shape.slice(0, -2).map(() => 0), 0, 0], [...f.shape.slice(0, -2), tq, dv]);
}
