/**
 * Fused LayerNorm over the last axis, as two primitives with their own gradient rules (the pattern of
 * cross-entropy.ts), so that a training step spends two kernels per LayerNorm instead of a dozen:
 *
 * - `layerNorm(x, weight, bias)` → x's shape: `(x − μ)·r·weight + bias` per row of C, r = 1/√(σ² + eps),
 *   σ² the biased variance (torch.nn.LayerNorm).
 * - `layerNormGrad(x, weight, g)` → one packed `[R + 2, C]` (R = x.size / C rows): rows 0…R−1 dx,
 *   row R dweight = Σ_rows g·x̂, row R + 1 dbias = Σ_rows g. The forward's rule slices it (free views).
 *
 * The op's files (docs/DESIGN.md "Fused ops"): attrs.ts (attributes, checks), gpujs.ts (the gpu.js
 * kernels, every backend's fallback), cpu.ts (the CPU backend's kernels: WebAssembly SIMD from wasm.ts
 * on webasm / threads, JavaScript on cpu; statistics in float64), reference.ts (float64 loops). The
 * rule of `layerNormGrad` (second-order gradients) is written in primitives. `layerNorm` asks the
 * active backend's lowering whether to build the fused primitive or the composite.
 */
import type { Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { definePrimitive, node } from '../../primitives/registry.js';
import { rsqrt } from '../../primitives/unary.js';
import { add, div, mul, sub } from '../../primitives/binary.js';
import { sum } from '../../primitives/reduce.js';
import { reshape, slice } from '../../primitives/movement.js';
import { zeros } from '../../creation.js';
import { mean } from '../../composites.js';
import { getBackend } from '../../backends/registry.js';
import { checkInputs, layerNormDims, type LayerNormAttrs } from './attrs.js';
import { layerNormGradKernel, layerNormKernel } from './gpujs.js';

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
  gpujs: layerNormKernel,
  vjp: (g, out, [x, w]) => {
    const { R, C } = layerNormDims(x.shape);
    return splitGrad(node('layerNormGrad', [R + 2, C], 'float32', [x, w, g], out.attrs), x.shape);
  },
});

definePrimitive({
  name: 'layerNormGrad',
  gpujs: layerNormGradKernel,
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

/**
 * Fused LayerNorm over the last axis, as `torch.nn.LayerNorm`: `(x − μ)/√(σ² + eps)·weight + bias` per
 * row (σ² the biased variance), for x float32 of rank ≥ 1 and weight, bias `[C]` (bias omitted: no
 * shift). Where the active backend lowers it fused (CPU and reference backends), one kernel forward and
 * one backward (dx, dweight and dbias together); on the gpu.js backend the composite of
 * {@link layerNormReference}. On the CPU backends the statistics are folded in float64, so rows with a large common offset keep their precision. Equal to
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
  if (getBackend().lowering?.('layerNorm') === 'composite') return composite(x, weight, bias, eps);
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
  return composite(x, weight, bias, eps);
}

/** LayerNorm of sub, mean, mul, rsqrt and add (the lowering of backends without a fast fused kernel). */
function composite(x: Tensor, weight: Tensor, bias: Tensor | null | undefined, eps: number): Tensor {
  const centered = sub(x, mean(x, -1, true)); // [..., C]
  const variance = mean(mul(centered, centered), -1, true); // [..., 1]
  const y = mul(mul(centered, rsqrt(add(variance, eps))), weight); // [..., C]
  return bias ? add(y, bias) : y;
}
