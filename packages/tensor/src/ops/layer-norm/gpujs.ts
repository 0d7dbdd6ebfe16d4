/**
 * The gpu.js kernels of the LayerNorm primitives (any backend; the fallback of those with their own):
 * O(C) loops per output element, and the dweight / dbias elements loop over all rows, so big inputs are
 * slow on GPUs (which is why the gpu.js backend lowers layerNorm to its composite, see primitive.ts).
 */
import type { View } from '../../backend.js';
import type { Tensor } from '../../tensor.js';
import { decompose, kernelFn, lit, names, offsetOf, splitIndex, type GpuKernel } from '../../kernels/codegen.js';
import { layerNormDims, type LayerNormAttrs } from './attrs.js';

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

export function layerNormKernel(n: Tensor, [x, w, b]: readonly View[]): GpuKernel {
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

export function layerNormGradKernel(n: Tensor, [x, w, g]: readonly View[]): GpuKernel {
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
