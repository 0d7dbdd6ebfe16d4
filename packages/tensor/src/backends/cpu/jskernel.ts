/**
 * Any primitive's gpu.js kernel source run as a plain JavaScript loop (what gpu.js's `cpu` mode does,
 * without its per-call machinery and, on `threads`, without a round trip to gpu.js's worker pool):
 * the fast path of every kernel primitive that has no hand-written one (reductions, gather,
 * scatter-add, pad, concat, …). Same source, same float64-then-float32 arithmetic as gpu.js `cpu`.
 */
import type { View } from '../../backend.js';
import type { GpuKernel } from '../../kernels/codegen.js';
import { outputBuffer } from './buffers.js';

type Loop = (args: (Float32Array | Float64Array)[], n: number, out: Float32Array) => Float32Array;

const cache = new Map<string, Loop>();
const EMPTY = new Float32Array(1);

function compile(source: string): Loop | undefined {
  const m = /^function\(([^)]*)\)\s*\{([\s\S]*)\}\s*$/.exec(source.trim());
  if (!m) return undefined;
  const params = m[1].trim();
  const body = m[2].replace(/this\.thread\.x/g, 'tx');
  const ps = params ? `${params}, ` : '';
  const args = params
    .split(',')
    .map((p, k) => (p.trim() ? `a[${k}]` : ''))
    .filter(Boolean);
  const src = `
    const k = function(${ps}tx) {${body}};
    return function(a, n, o) {
      ${args.map((x, k) => `const v${k} = ${x};`).join('\n')}
      const out = o;
      for (let t = 0; t < n; t++) out[t] = k(${args.map((_, k) => `v${k}, `).join('')}t);
      return out;
    };`;
  try {
    return new Function(src)() as Loop;
  } catch {
    return undefined;
  }
}

/** Run a gpu.js kernel as a JS loop over `size` outputs; undefined if the source is not plain JS here. */
export function runJsKernel(kernel: GpuKernel, size: number): Float32Array | undefined {
  let fn = cache.get(kernel.source);
  if (fn === undefined) {
    fn = compile(kernel.source);
    if (!fn) return undefined;
    cache.set(kernel.source, fn);
  }
  const args = kernel.inputs.map((v: View) => (v.storage.size === 0 ? EMPTY : v.storage.data));
  if (args.some((a) => !a)) return undefined;
  return fn(args as Float32Array[], size, outputBuffer(size));
}
