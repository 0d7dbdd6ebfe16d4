/**
 * Helpers that write gpu.js kernel sources. One source serves every gpu.js mode (cpu, webasm, threads,
 * headlessgl, webgl/2, webgpu), so the code sticks to the subset they all transpile: `let`/`const`,
 * arithmetic, `Math.*`, `for` loops with literal bounds, `if`, ternaries.
 *
 * Shapes, strides and offsets are written into the source as literals: one compiled kernel per
 * (op, shapes, layout), reused through the kernel cache. Index arithmetic is float-exact below 2^23
 * elements (see `F32_INDEX_LIMIT`); backends route bigger kernels to the exact `cpu` mode.
 */
import type { Shape } from '../shape.js';
import type { View } from '../backend.js';

export const F32_INDEX_LIMIT = 2 ** 23;

/** A gpu.js kernel ready to compile: its source (also the cache key) and its argument views in order. */
export interface GpuKernel {
  readonly source: string;
  readonly inputs: readonly View[];
}

/**
 * ±∞ and NaN as kernel text. WGSL evaluates `1.0 / 0.0` as a constant expression and rejects the
 * non-finite result (gpu.js's webgpu mode turns `Infinity` into the largest finite float), so the
 * division is by `this.thread.z`: 0 in every kernel here (their outputs are 1-D), so every mode divides at
 * run time and gets the IEEE value.
 */
export const nonFiniteLit = (n: number): string => `(${Number.isNaN(n) ? '0.0' : n > 0 ? '1.0' : '-1.0'} / this.thread.z)`;

export const lit = (n: number): string => {
  if (!Number.isFinite(n)) return nonFiniteLit(n);
  const s = String(n);
  return s.includes('.') || s.includes('e') ? s : `${s}.0`;
};

/**
 * Statements that split the flat output index `this.thread.x` into `prefix0 … prefix{r-1}` over `shape`.
 * `floor((r + 0.5) / d)` keeps float32 division exact for indices below 2^23.
 */
export function decompose(shape: Shape, prefix = 'i'): string {
  const r = shape.length;
  if (r === 0) return '';
  const lines = ['let rest = this.thread.x;'];
  for (let k = r - 1; k >= 1; k--) {
    const d = shape[k];
    if (d === 1) {
      lines.push(`const ${prefix}${k} = 0.0;`);
      continue;
    }
    lines.push(`const q${k} = Math.floor((rest + 0.5) / ${lit(d)});`);
    lines.push(`const ${prefix}${k} = rest - q${k} * ${lit(d)};`);
    lines.push(`rest = q${k};`);
  }
  lines.push(`const ${prefix}0 = rest;`);
  return lines.join('\n  ');
}

/**
 * Statements that split the float index expression `src` into `prefix0 … prefix{r-1}` over `shape`, with
 * temporaries named after the prefix (several splits in one kernel); exact below 2^23, as decompose.
 */
export function splitIndex(src: string, shape: Shape, prefix: string): string[] {
  const lines = [`let ${prefix}rest = ${src};`];
  for (let k = shape.length - 1; k >= 1; k--) {
    lines.push(`const ${prefix}q${k} = Math.floor((${prefix}rest + 0.5) / ${lit(shape[k])});`);
    lines.push(`const ${prefix}${k} = ${prefix}rest - ${prefix}q${k} * ${lit(shape[k])};`);
    lines.push(`${prefix}rest = ${prefix}q${k};`);
  }
  if (shape.length) lines.push(`const ${prefix}0 = ${prefix}rest;`);
  return lines;
}

/** `offset + Σ idx_k * stride_k`, skipping zero strides and unit dims. */
export function offsetOf(view: View, idx: readonly string[]): string {
  const terms: string[] = view.offset ? [lit(view.offset)] : [];
  for (let k = 0; k < view.shape.length; k++) {
    const s = view.strides[k];
    if (s === 0 || view.shape[k] === 1) continue;
    terms.push(s === 1 ? idx[k] : `${idx[k]} * ${lit(s)}`);
  }
  return terms.length ? terms.join(' + ') : '0.0';
}

/** Is `view` laid out exactly like a contiguous array of `shape` (so element i sits at i)? */
export function isPlain(view: View, shape: Shape): boolean {
  if (view.offset !== 0 || view.shape.length !== shape.length) return false;
  let expected = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    if (view.shape[k] !== shape[k]) return false;
    if (shape[k] !== 1 && view.strides[k] !== expected) return false;
    expected *= shape[k];
  }
  return true;
}

/** Broadcast a view to `shape` (leading dims added, size-1 dims stretched with stride 0). */
export function broadcastView(view: View, shape: Shape): View {
  const pad = shape.length - view.shape.length;
  const strides = shape.map((d, k) => {
    if (k < pad) return 0;
    const src = view.shape[k - pad];
    return src === 1 && d !== 1 ? 0 : view.strides[k - pad];
  });
  return { storage: view.storage, shape, strides, offset: view.offset };
}

export const names = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, k) => `${prefix}${k}`);

/** Wrap a body into a kernel function with arguments x0 … x{n-1}. */
export const kernelFn = (nInputs: number, body: string): string =>
  `function(${names('x', nInputs).join(', ')}) {\n  ${body}\n}`;
