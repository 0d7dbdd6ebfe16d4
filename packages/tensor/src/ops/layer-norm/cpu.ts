/**
 * Fast paths of the fused LayerNorm primitives on the CPU backends. On webasm / threads the WebAssembly
 * SIMD kernels `ln_fwd` / `ln_bwd` of wasm.ts run over the inputs in wasm memory (in place
 * when dense there, else copied dense into scratch: transposed or broadcast views too), split by rows
 * over the threads from 2^15 elements on (the backward's dweight / dbias are then one partial sum per
 * share of rows, added here in float64). On `cpu`, or when the runtime is missing or out of scratch, the
 * JavaScript loops here: float64 throughout, rounded once per output.
 */
import type { View } from '../../backend.js';
import type { Tensor } from '../../tensor.js';
import { layerNormDims, type LayerNormAttrs } from './attrs.js';
import { JobList, f32Bits, splitRanges, type Runtime } from '../../backends/cpu/runtime.js';
import { tryWasm, type FastContext } from '../../backends/cpu/context.js';
import { finishOutput, kernelOutput, outputBuffer } from '../../backends/cpu/buffers.js';
import { denseAddress } from '../../backends/cpu/copy.js';
import { dense } from '../../backends/cpu/strided.js';


/**
 * Below this many elements the kernels run on the calling thread only. A GPT-Neo step's [512, 64] is
 * 2^15: split over the threads, the tiny training step measured 0.966–0.969 (in-process alternation
 * against the former 2^16, median of 200 pairs); a LayerNorm mostly follows a product, while the
 * worker is still polling.
 */
const THREAD_MIN = 1 << 15;

/** Row ranges, one per job: a single one unless the threads backend has a pool and the input is big. */
function shares(ctx: FastContext, R: number, C: number): [number, number][] {
  const threads = ctx.pool && ctx.threads > 1 && R * C >= THREAD_MIN ? Math.min(ctx.threads, R) : 1;
  return threads === 1 ? [[0, R]] : splitRanges(R, 2 * threads).filter(([s, e]) => e > s);
}

/** Run the jobs (kernel name, arguments) inline or on the pool. */
function runJobs(ctx: FastContext, rt: Runtime, name: string, jobs: number[][]): void {
  if (jobs.length === 1) return void rt.kernels.fns[name](...jobs[0]);
  const list = new JobList();
  for (const args of jobs) list.add(name, rt, args);
  ctx.pool!.run(list);
}

/** Byte addresses of the views' values in C order in wasm memory (after `rt.reset()`), or undefined. */
function addresses(rt: Runtime, views: readonly View[]): number[] | undefined {
  const out: number[] = [];
  for (const v of views) {
    const at = denseAddress(rt, v);
    if (at === undefined) return undefined;
    out.push(at);
  }
  return out;
}

/** Mean and 1/√(σ² + eps) of the row of C values at `b` (two passes in float64). */
function rowStats(xs: Float32Array, b: number, C: number, eps: number): [number, number] {
  let m = 0;
  for (let c = 0; c < C; c++) m += xs[b + c];
  m /= C;
  let v = 0;
  for (let c = 0; c < C; c++) {
    const d = xs[b + c] - m;
    v += d * d;
  }
  return [m, 1 / Math.sqrt(v / C + eps)];
}

export function layerNormFast(ctx: FastContext, node: Tensor, [x, w, b]: readonly View[]): Float32Array | undefined {
  const { eps } = node.attrs as LayerNormAttrs;
  const { R, C } = layerNormDims(x.shape);
  const viaWasm = tryWasm(ctx, (rt) => {
    rt.reset();
    const at = addresses(rt, [x, w, b]);
    const o = at && kernelOutput(rt, R * C);
    if (!at || !o) return undefined;
    const row = 4 * C; // bytes
    runJobs(ctx, rt, 'ln_fwd', shares(ctx, R, C).map(([s, e]) => [at[0] + s * row, at[1], at[2], o.at + s * row, e - s, C, f32Bits(eps)]));
    return finishOutput(rt, o);
  });
  if (viaWasm) return viaWasm;
  const [xs, ws, bs] = [dense(x), dense(w), dense(b)];
  if (!xs || !ws || !bs) return undefined;
  const out = outputBuffer(R * C);
  for (let n = 0, o = 0; n < R; n++, o += C) {
    const [m, r] = rowStats(xs, o, C, eps);
    for (let c = 0; c < C; c++) out[o + c] = (xs[o + c] - m) * r * ws[c] + bs[c];
  }
  return out;
}

export function layerNormGradFast(ctx: FastContext, node: Tensor, [x, w, g]: readonly View[]): Float32Array | undefined {
  const { eps } = node.attrs as LayerNormAttrs;
  const { R, C } = layerNormDims(x.shape);
  const viaWasm = tryWasm(ctx, (rt) => {
    rt.reset();
    const at = addresses(rt, [x, w, g]);
    const parts = shares(ctx, R, C);
    // per share: 2C float64 of accumulators, and (with several shares) 2C floats of partial sums
    const acc = parts.map(() => rt.alloc(4 * C));
    const sums = parts.length > 1 ? parts.map(() => rt.alloc(2 * C)) : [];
    const o = at && [...acc, ...sums].every((a) => a >= 0) ? kernelOutput(rt, (R + 2) * C) : undefined;
    if (!at || !o) return undefined;
    const row = 4 * C; // bytes
    const wb = (k: number) => (parts.length > 1 ? sums[k] : o.at + R * row);
    runJobs(ctx, rt, 'ln_bwd', parts.map(([s, e], k) => [at[0] + s * row, at[1], at[2] + s * row, o.at + s * row, acc[k], e - s, C, f32Bits(eps), wb(k)]));
    if (parts.length > 1) {
      const f = rt.f32;
      for (let c = 0; c < 2 * C; c++) {
        let t = 0;
        for (const p of sums) t += f[(p >> 2) + c];
        f[(o.at >> 2) + R * C + c] = t;
      }
    }
    return finishOutput(rt, o);
  });
  if (viaWasm) return viaWasm;
  const [xs, ws, gs] = [dense(x), dense(w), dense(g)];
  if (!xs || !ws || !gs) return undefined;
  const out = outputBuffer((R + 2) * C);
  const acc = new Float64Array(2 * C); // dweight | dbias
  const xh = new Float64Array(C);
  for (let n = 0, o = 0; n < R; n++, o += C) {
    const [m, r] = rowStats(xs, o, C, eps);
    let sa = 0;
    let sx = 0;
    for (let c = 0; c < C; c++) {
      xh[c] = (xs[o + c] - m) * r;
      const a = gs[o + c] * ws[c];
      sa += a;
      sx += a * xh[c];
      acc[c] += gs[o + c] * xh[c];
      acc[C + c] += gs[o + c];
    }
    sa /= C;
    sx /= C;
    for (let c = 0; c < C; c++) out[o + c] = r * (gs[o + c] * ws[c] - sa - xh[c] * sx);
  }
  for (let c = 0; c < 2 * C; c++) out[R * C + c] = acc[c];
  return out;
}
