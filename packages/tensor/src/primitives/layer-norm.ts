/**
 * Fused LayerNorm over the last axis, as two primitives with their own gradient rules (the pattern of
 * cross-entropy.ts), so that a training step spends two kernels per LayerNorm instead of a dozen:
 *
 * - `layerNorm(x, weight, bias)` → x's shape: `(x − μ)·r·weight + bias` per row of C, r = 1/√(σ² + eps),
 *   σ² the biased variance (torch.nn.LayerNorm).
 * - `layerNormGrad(x, weight, g)` → one packed `[R + 2, C]` (R = x.size / C rows): rows 0…R−1 dx,
 *   row R dweight = Σ_rows g·x̂, row R + 1 dbias = Σ_rows g. The forward's rule slices it (free views).
 *
 * Each has one gpu.js kernel (any backend: O(C) loops per output element, and the dweight / dbias
 * elements loop over all rows, so big inputs are slow on GPUs); the CPU backends run fast/layer-norm.ts
 * (WebAssembly SIMD on webasm / threads, JavaScript on cpu; statistics in float64). The rule of
 * `layerNormGrad` (second-order gradients) is written in primitives.
 */
import { TensorError, fmtShape } from '../errors.js';
import type { View } from '../backend.js';
import type { Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { decompose, kernelFn, lit, names, offsetOf, splitIndex, type GpuKernel } from '../kernels/codegen.js';
import { definePrimitive, node } from './registry.js';
import { rsqrt } from './unary.js';
import { add, div, mul, sub } from './binary.js';
import { sum } from './reduce.js';
import { reshape, slice } from './movement.js';
import { zeros } from '../creation.js';
import { mean } from '../composites.js';

export interface LayerNormAttrs {
  readonly eps: number;
  readonly [k: string]: unknown;
}

/** Rows and row length of a LayerNorm input (R = 0 for an empty batch). */
export function layerNormDims(shape: Shape): { R: number; C: number } {
  const C = shape[shape.length - 1];
  return { R: shape.slice(0, -1).reduce((a, b) => a * b, 1), C };
}

// ---------------------------------------------------------------------------------------------------
// gpu.js kernels

/**
 * Statements defining `m<s>` (row mean) and `r<s>` (1/√(σ² + eps)) of the row whose leading indices are
 * `lead`. The sums run over x minus the row's first value (exact for close values): float32 modes would
 * otherwise lose a row with a large common offset to cancellation. `m<s>` is relative to `x0<s>`.
 */
function rowStats(x: View, lead: readonly string[], C: number, eps: number, s: string): string[] {
  const at = (j: string) => `x0[${offsetOf(x, [...lead, j])}]`;
  return [
    `const f${s} = ${at('0')};`,
    `let m${s} = 0.0;`,
    `for (let ja${s} = 0; ja${s} < ${C}; ja${s}++) {`,
    `  m${s} = m${s} + (${at(`ja${s}`)} - f${s});`,
    '}',
    `m${s} = m${s} / ${lit(C)};`,
    `let v${s} = 0.0;`,
    `for (let jb${s} = 0; jb${s} < ${C}; jb${s}++) {`,
    `  const d${s} = (${at(`jb${s}`)} - f${s}) - m${s};`,
    `  v${s} = v${s} + d${s} * d${s};`,
    '}',
    `const r${s} = 1.0 / Math.sqrt(v${s} / ${lit(C)} + ${lit(eps)});`,
  ];
}

/** x̂ of element j of the row (after `rowStats` with the same suffix). */
const xhat = (x: View, lead: readonly string[], j: string, s: string): string => `((x0[${offsetOf(x, [...lead, j])}] - f${s}) - m${s}) * r${s}`;

function forwardKernel(n: Tensor, [x, w, b]: readonly View[]): GpuKernel {
  const { eps } = n.attrs as LayerNormAttrs;
  const r = n.rank;
  const idx = names('i', r);
  const lead = idx.slice(0, -1);
  const c = idx[r - 1];
  const body = [
    decompose(n.shape),
    ...rowStats(x, lead, n.shape[r - 1], eps, ''),
    `return ${xhat(x, lead, c, '')} * x1[${offsetOf(w, [c])}] + x2[${offsetOf(b, [c])}];`,
  ];
  return { source: kernelFn(3, body.join('\n  ')), inputs: [x, w, b] };
}

function gradKernel(n: Tensor, [x, w, g]: readonly View[]): GpuKernel {
  const { eps } = n.attrs as LayerNormAttrs;
  const leadShape = x.shape.slice(0, -1);
  const { R, C } = layerNormDims(x.shape);
  const lead = (p: string) => names(p, leadShape.length);
  const gAt = (p: string, j: string) => `x2[${offsetOf(g, [...lead(p), j])}]`;
  const body = [
    decompose(n.shape),
    // rows 0…R−1: dx = r·(a − mean(a) − x̂·mean(a·x̂)), a = g·w
    `if (i0 < ${lit(R - 0.5)}) {`,
    ...splitIndex('i0', leadShape, 'a'),
    ...rowStats(x, lead('a'), C, eps, 'a'),
    '  let sa = 0.0;',
    '  let sx = 0.0;',
    `  for (let jc = 0; jc < ${C}; jc++) {`,
    `    const aj = ${gAt('a', 'jc')} * x1[${offsetOf(w, ['jc'])}];`,
    '    sa = sa + aj;',
    `    sx = sx + aj * ${xhat(x, lead('a'), 'jc', 'a')};`,
    '  }',
    `  const ai = ${gAt('a', 'i1')} * x1[${offsetOf(w, ['i1'])}];`,
    `  return ra * (ai - sa / ${lit(C)} - ${xhat(x, lead('a'), 'i1', 'a')} * sx / ${lit(C)});`,
    '}',
    // row R: dweight = Σ_rows g·x̂ (each row's statistics again)
    `if (i0 < ${lit(R + 0.5)}) {`,
    '  let accw = 0.0;',
    `  for (let rw = 0; rw < ${R}; rw++) {`,
    ...splitIndex('rw', leadShape, 'b'),
    ...rowStats(x, lead('b'), C, eps, 'b'),
    `    accw = accw + ${gAt('b', 'i1')} * ${xhat(x, lead('b'), 'i1', 'b')};`,
    '  }',
    '  return accw;',
    '}',
    // row R + 1: dbias = Σ_rows g
    'let accb = 0.0;',
    `for (let rr = 0; rr < ${R}; rr++) {`,
    ...splitIndex('rr', leadShape, 'e'),
    `  accb = accb + ${gAt('e', 'i1')};`,
    '}',
    'return accb;',
  ];
  return { source: kernelFn(3, body.join('\n  ')), inputs: [x, w, g] };
}

// ---------------------------------------------------------------------------------------------------
// gradients

/** Mean over the last axis of a [R, C] tensor, kept: [R, 1]. */
const rowMean = (t: Tensor): Tensor => mean(t, [1], true);

/** dx, dweight, dbias (views of the packed gradient), shaped as x, [C], [C]. */
function splitGrad(packed: Tensor, shape: Shape): [Tensor, Tensor, Tensor] {
  const { R, C } = layerNormDims(shape);
  return [
    reshape(slice(packed, [0, 0], [R, C]), shape),
    reshape(slice(packed, [R, 0], [R + 1, C]), [C]),
    reshape(slice(packed, [R + 1, 0], [R + 2, C]), [C]),
  ];
}

definePrimitive({
  name: 'layerNorm',
  gpujs: forwardKernel,
  vjp: (g, out, [x, w]) => {
    const { R, C } = layerNormDims(x.shape);
    return splitGrad(node('layerNormGrad', [R + 2, C], 'float32', [x, w, g], out.attrs), x.shape);
  },
});

definePrimitive({
  name: 'layerNormGrad',
  gpujs: gradKernel,
  // second order, per row (N = C), with P(u) = u − mean(u) − x̂·mean(u·x̂) (symmetric) and cotangents
  // U (dx rows), V (dweight), Wb (dbias):
  //   ḡ = Wb + V·x̂ + w·r·P(U);  w̄ = Σ_rows g·r·P(U);
  //   x̂̄ = V·g − r·s·U − (r/N)·⟨U, x̂⟩·a with s = mean(a·x̂);  r̄ = ⟨U, dx⟩/r (explicit r),
  //   then back through x̂ = xc·r, r = (mean(xc²) + eps)^(−1/2), xc = x − mean(x):
  //   ∂/∂xc = r·x̂̄ − (r³·xc/N)·(⟨x̂̄, xc⟩ + r̄), x̄ = ∂/∂xc minus its row mean.
  vjp: (u, n, [x, w, g]) => {
    const { eps } = n.attrs as LayerNormAttrs;
    const { R, C } = layerNormDims(x.shape);
    const [U, V, Wb] = splitGrad(u, [R, C]); // [R, C], [C], [C]
    const X = reshape(x, [R, C]);
    const G = reshape(g, [R, C]);
    const xc = sub(X, rowMean(X)); // [R, C]
    const r = rsqrt(add(rowMean(mul(xc, xc)), eps)); // [R, 1]
    const xh = mul(xc, r); // [R, C]
    const a = mul(G, w); // [R, C]
    const ma = rowMean(a); // [R, 1]
    const s = rowMean(mul(a, xh)); // [R, 1]
    const dx = mul(r, sub(sub(a, ma), mul(xh, s))); // [R, C]
    const pU = sub(sub(U, rowMean(U)), mul(xh, rowMean(mul(U, xh)))); // [R, C]
    const rpU = mul(r, pU); // [R, C]
    const dg = add(add(Wb, mul(V, xh)), mul(w, rpU)); // [R, C]
    const dw = reshape(sum(mul(G, rpU), [0], true), [C]); // [C]
    const ux = sum(mul(U, xh), [1], true); // [R, 1]: ⟨U, x̂⟩
    const xhBar = sub(sub(mul(V, G), mul(mul(r, s), U)), mul(mul(r, mul(ux, 1 / C)), a)); // [R, C]
    const rBar = div(sum(mul(U, dx), [1], true), r); // [R, 1]
    const r3 = mul(mul(r, r), r); // [R, 1]
    const dxc = sub(mul(r, xhBar), mul(mul(r3, xc), mul(add(sum(mul(xhBar, xc), [1], true), rBar), 1 / C))); // [R, C]
    const dX = sub(dxc, rowMean(dxc)); // [R, C]
    return [reshape(dX, x.shape), dw, reshape(dg, x.shape)];
  },
});

/** Checks x (float32, rank ≥ 1, C ≥ 1), eps and each of `others` (name, tensor or absent, its shape given C). */
function checkInputs(op: string, x: Tensor, eps: number, others: readonly [string, Tensor | null | undefined, (C: number) => Shape][]): void {
  if (x.rank < 1 || x.dtype !== 'float32') throw new TensorError(op, `x must be float32 of rank ≥ 1, got ${x.dtype} ${fmtShape(x.shape)}`);
  const C = x.shape[x.rank - 1];
  if (C < 1) throw new TensorError(op, `needs at least one element per row, got x ${fmtShape(x.shape)}`);
  for (const [name, t, shapeOf] of others) {
    if (!t) continue;
    const want = shapeOf(C);
    if (t.dtype !== 'float32' || t.rank !== want.length || t.shape.some((d, k) => d !== want[k])) {
      throw new TensorError(op, `${name} must be float32 ${fmtShape(want)} for x ${fmtShape(x.shape)}, got ${t.dtype} ${fmtShape(t.shape)}`);
    }
  }
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new TensorError(op, `eps must be a finite number ≥ 0, got ${eps}`);
}

/**
 * Fused LayerNorm over the last axis, as `torch.nn.LayerNorm`: `(x − μ)/√(σ² + eps)·weight + bias` per
 * row (σ² the biased variance), for x float32 of rank ≥ 1 and weight, bias `[C]` (bias omitted: no
 * shift). One kernel forward and one backward (dx, dweight and dbias together); on the CPU backends the
 * statistics are folded in float64, so rows with a large common offset keep their precision. Equal to
 * the composite {@link layerNormReference} (tested).
 *
 * @example
 * ```ts
 * import { layerNorm, ones, tensor, zeros } from '@llm-modules/tensor';
 * const y = layerNorm(tensor([[1, 2, 3], [10, 10, 13]]), ones([3]), zeros([3]));
 * console.log(await y.data()); // ≈ [-1.2247, 0, 1.2247, -0.7071, -0.7071, 1.4142]
 * ```
 */
export function layerNorm(x: Tensor, weight: Tensor, bias?: Tensor | null, eps = 1e-5): Tensor {
  checkInputs('layerNorm', x, eps, [
    ['weight', weight, (C) => [C]],
    ['bias', bias, (C) => [C]],
  ]);
  const attrs: LayerNormAttrs = { eps };
  return node('layerNorm', x.shape, 'float32', [x, weight, bias ?? zeros([x.shape[x.rank - 1]])], attrs);
}

/**
 * The gradients of `Σ g·layerNorm(x, weight, bias, eps)` with respect to x, weight and bias, from one
 * fused kernel: `[dx (x's shape), dweight [C], dbias [C]]` (views of its packed output). What the
 * forward's gradient rule builds; exposed for hand-written backward passes.
 *
 * @example
 * ```ts
 * import { layerNormGrad, ones, tensor } from '@llm-modules/tensor';
 * const [dx, dw, db] = layerNormGrad(tensor([[1, 2, 3]]), ones([3]), tensor([[1, 0, 0]]));
 * console.log(await db.data()); // [1, 0, 0]
 * ```
 */
export function layerNormGrad(x: Tensor, weight: Tensor, g: Tensor, eps = 1e-5): [Tensor, Tensor, Tensor] {
  checkInputs('layerNormGrad', x, eps, [
    ['weight', weight, (C) => [C]],
    ['g', g, () => x.shape],
  ]);
  const { R, C } = layerNormDims(x.shape);
  const attrs: LayerNormAttrs = { eps };
  return splitGrad(node('layerNormGrad', [R + 2, C], 'float32', [x, weight, g], attrs), x.shape);
}

/**
 * The same LayerNorm as {@link layerNorm}, written with primitives (sub, mean, mul, rsqrt, add): the
 * composite the fused kernels are tested against, and the unfused baseline of the benchmark.
 */
export function layerNormReference(x: Tensor, weight: Tensor, bias?: Tensor | null, eps = 1e-5): Tensor {
  checkInputs('layerNormReference', x, eps, [
    ['weight', weight, (C) => [C]],
    ['bias', bias, (C) => [C]],
  ]);
  const centered = sub(x, mean(x, -1, true)); // [..., C]
  const variance = mean(mul(centered, centered), -1, true); // [..., 1]
  const y = mul(mul(centered, rsqrt(add(variance, eps))), weight); // [..., C]
  return bias ? add(y, bias) : y;
}
