/**
 * Elementwise programs (single ops and fused groups) on the CPU backends: the output is walked as
 * [lead…, outer, inner] after merging dims that every input walks contiguously; each [outer, inner]
 * slab runs either as a compiled JavaScript loop (short arrays, cpu backend, ops without a SIMD form)
 * or as a WebAssembly SIMD kernel over copies of the inputs in scratch memory.
 */
import type { View } from '../../backend.js';
import { broadcastView } from '../../kernels/codegen.js';
import type { Shape } from '../../shape.js';
import { printStatements } from '../../fusion/expr.js';
import type { Program } from '../../fusion/program.js';
import { elementwiseModule, type InnerClass } from './wasm/elementwise.js';
import { JobList, splitRanges, type Runtime } from './runtime.js';
import type { FastContext } from './context.js';
import { copyIn, span } from './matmul.js';
import { gatherStrided } from './strided.js';
import { runStreamed } from './elementwise-stream.js';
import { finishOutput, kernelOutput, outputBuffer, recycle, scratchChunk, wasmAddress } from './buffers.js';

/** A loop nest: dims (outermost first) and, per input, its element stride along each dim and offset. */
interface Nest {
  dims: number[];
  strides: number[][];
  offsets: number[];
}

/** Merge dims that every input walks contiguously; drop size-1 dims. */
export function collapse(shape: Shape, views: readonly View[]): Nest {
  const dims: number[] = [];
  const strides: number[][] = views.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d];
    if (n === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && views.every((v, k) => strides[k][last] === v.strides[d] * n)) {
      dims[last] *= n;
      views.forEach((v, k) => (strides[k][last] = v.strides[d]));
    } else {
      dims.push(n);
      views.forEach((v, k) => strides[k].push(v.strides[d]));
    }
  }
  while (dims.length < 2) {
    dims.unshift(1);
    strides.forEach((s) => s.unshift(0));
  }
  return { dims, strides, offsets: views.map((v) => v.offset) };
}

type JsKernel = (out: Float32Array, osz: number, ot: number, n0: number, n1: number, ...args: unknown[]) => void;

/** The statements writing every output of a program at element t (output q at t + q·osz). */
function jsStores(p: Program): string {
  if (p.outputs.length === 1) return printStatements(p.root, (i) => `v${i}`, (v) => `out[t] = ${v};`);
  // one block per output (a short-array path: recomputing what outputs share costs little)
  return p.outputs.map((r, q) => `{ ${printStatements(r, (i) => `v${i}`, (v) => `out[t + ${q} * osz] = ${v};`)} }`).join('\n    ');
}

export function jsKernel(p: Program): JsKernel {
  let fn = p.compiled.get('js') as JsKernel | undefined;
  if (!fn) {
    const ks = Array.from({ length: p.nInputs }, (_, k) => k);
    const params = ['out', 'osz', 'ot', 'n0', 'n1', ...ks.flatMap((k) => [`x${k}`, `o${k}`, `a${k}`, `b${k}`])];
    // small-integer hints (|0) keep V8 on int32 index arithmetic
    const body = [
      'osz |= 0; ot |= 0; n0 |= 0; n1 |= 0;',
      ...ks.map((k) => `o${k} |= 0; a${k} |= 0; b${k} |= 0;`),
      'let t = ot;',
      'for (let i = 0; i < n0; i++) {',
      ...ks.map((k) => `  let p${k} = (o${k} + i * a${k}) | 0;`),
      '  for (let j = 0; j < n1; j++) {',
      ...ks.map((k) => `    const v${k} = x${k}[p${k}]; p${k} = (p${k} + b${k}) | 0;`),
      `    ${jsStores(p)}`,
      '    t = (t + 1) | 0;',
      '  }',
      '}',
    ].join('\n');
    fn = new Function(...params, body) as JsKernel;
    p.compiled.set('js', fn);
  }
  return fn;
}

export type WasmKernel = { fn: (...args: number[]) => void; id: number };

export function wasmKernel(rt: Runtime, p: Program, classes: readonly InnerClass[]): WasmKernel {
  const key = `wasm:${classes.join('')}`;
  let k = p.compiled.get(key) as WasmKernel | undefined;
  if (!k) {
    // registered with the runtime so that worker threads can run it too
    k = rt.extra.add(new WebAssembly.Module(elementwiseModule(p.outputs, classes)), 'ew');
    p.compiled.set(key, k);
  }
  return k;
}

/** Outputs per thread below which an elementwise kernel is not split over threads. */
const THREAD_MIN_ELEMENTS = 1 << 15;

/** Iterate the lead dims (all but the last two) of a nest: fn(outOffset, inputOffsets). */
function forLead(nest: Nest, fn: (ot: number, offs: number[]) => void): void {
  const lead = nest.dims.length - 2;
  const slab = nest.dims[lead] * nest.dims[lead + 1];
  const idx = new Array<number>(lead).fill(0);
  const offs = nest.offsets.slice();
  const total = nest.dims.slice(0, lead).reduce((a, b) => a * b, 1);
  for (let s = 0; s < total; s++) {
    fn(s * slab, offs);
    for (let d = lead - 1; d >= 0; d--) {
      idx[d]++;
      nest.strides.forEach((st, k) => (offs[k] += st[d]));
      if (idx[d] < nest.dims[d]) break;
      nest.strides.forEach((st, k) => (offs[k] -= st[d] * nest.dims[d]));
      idx[d] = 0;
    }
  }
}

/** Float32 values of a storage (host scalars are float64: round them as a float32 kernel would). */
export function f32Data(v: View): Float32Array | undefined {
  const d = v.storage.data;
  if (!d) return undefined;
  return d instanceof Float32Array ? d : Float32Array.from(d);
}

/**
 * Run an elementwise program over views (already in the program's input order). A program with several
 * outputs writes them one after another into one array (shape's size each, the root's first): `into`
 * when given (a donated array; every kernel reads an element's inputs before writing its outputs).
 */
export function runProgram(ctx: FastContext, p: Program, shape: Shape, inputs: readonly View[], into?: Float32Array): Float32Array | undefined {
  const size = shape.reduce((a, b) => a * b, 1);
  const views = inputs.map((v) => broadcastView(v, shape));
  const nest = collapse(shape, views);
  const r = nest.dims.length;
  const rt = ctx.rt;
  const useWasm = rt && p.simd && size >= (p.transcendental ? 64 : 4096);
  if (useWasm) {
    const out = runWasm(ctx, rt, p, nest, views, size, into);
    if (out) return out;
  }
  const datas = views.map(f32Data);
  if (datas.some((d) => !d)) return undefined;
  const out = into ?? outputBuffer(size * p.outputs.length);
  const fn = jsKernel(p);
  const args: unknown[] = [];
  forLead(nest, (ot, offs) => {
    args.length = 0;
    datas.forEach((d, k) => args.push(d, offs[k], nest.strides[k][r - 2], nest.strides[k][r - 1]));
    fn(out, size, ot, nest.dims[r - 2], nest.dims[r - 1], ...args);
  });
  return out;
}

/**
 * A large op over operands outside wasm memory runs in chunks: contiguous ones streamed (elementwise-stream.ts),
 * any other layout in pieces of `scratchChunk.bytes` of scratch, cut along its outer dims.
 */
function runWasm(ctx: FastContext, rt: Runtime, p: Program, nest: Nest, views: readonly View[], size: number, into?: Float32Array): Float32Array | undefined {
  const r = nest.dims.length;
  const nOut = p.outputs.length;
  const classes: InnerClass[] = nest.strides.map((s) => (s[r - 1] === 0 ? 0 : s[r - 1] === 1 ? 1 : 'g'));
  let kernel: WasmKernel;
  try {
    kernel = wasmKernel(rt, p, classes);
  } catch {
    (p as { simd: boolean }).simd = false; // the engine refused the module (e.g. a synchronous compile limit): JS from now on
    return undefined;
  }
  // contiguous arrays outside wasm memory, too large to copy in whole: chunk by chunk (elementwise-stream.ts)
  rt.reset();
  const streamed = runStreamed(rt, kernel.fn, nOut, nest.dims, views, nest.strides, into);
  if (streamed) return streamed;
  // other layouts: floats copied into scratch per output element: the operands outside wasm memory (not broadcast), and the outputs
  const outside = views.filter((v, k) => v.storage.data && wasmAddress(v.storage.data) === undefined && nest.strides[k].some((st) => st !== 0)).length;
  const out = into ?? (size * nOut * 4 > scratchChunk.bytes ? outputBuffer(size * nOut) : undefined);
  const outAt = out && wasmAddress(out);
  const perElement = outside + (outAt === undefined ? nOut : 0);
  if (!out || size * perElement * 4 <= scratchChunk.bytes) {
    const whole = runWhole(ctx, rt, p, kernel, nest, views, size, out);
    if (!whole && out && out !== into) recycle(out);
    return whole;
  }
  let ok = true;
  forChunks(nest, Math.max(1, Math.floor(scratchChunk.bytes / 4 / Math.max(1, perElement))), 0, (sub, base) => {
    if (!ok) return;
    rt.reset();
    const n = sub.dims.reduce((a, b) => a * b, 1);
    const bases: number[] = [];
    const piece: Nest = { dims: sub.dims, strides: sub.strides.map((st) => st.slice()), offsets: sub.offsets.slice() };
    for (let k = 0; k < views.length && ok; k++) {
      const v: View = { storage: views[k].storage, shape: sub.dims, strides: sub.strides[k], offset: sub.offsets[k] };
      const [lo, hi] = span(v);
      const d = v.storage.data;
      if (!d || wasmAddress(d) !== undefined || hi - lo < 2 * n) {
        const c = copyIn(rt, v);
        if (c) bases.push(c.addr - 4 * c.lo);
        else ok = false;
        continue;
      }
      // a piece scattered over its array (a transposed view): gathered densely, broadcast dims kept at stride 0
      const kept = sub.dims.map((x, j) => (sub.strides[k][j] === 0 ? 1 : x));
      const m = kept.reduce((a, b) => a * b, 1);
      const dst = rt.alloc(m);
      if (dst < 0) ok = false;
      else {
        gatherStrided(d, kept, sub.strides[k], sub.offsets[k], rt.f32.subarray(dst >> 2, (dst >> 2) + m));
        for (let j = kept.length - 1, e = 1; j >= 0; e *= kept[j], j--) piece.strides[k][j] = sub.strides[k][j] === 0 ? 0 : e;
        piece.offsets[k] = 0;
        bases.push(dst);
      }
    }
    const at = outAt !== undefined ? outAt + 4 * base : rt.alloc(n * nOut);
    if (!ok || at < 0) return void (ok = false);
    launch(ctx, rt, kernel, nest.dims.length, classes, piece, bases, at, outAt !== undefined ? 4 * size : 4 * n, nOut);
    if (outAt === undefined) for (let q = 0; q < nOut; q++) out.set(rt.f32.subarray((at >> 2) + q * n, (at >> 2) + (q + 1) * n), q * size + base);
  });
  if (!ok && out !== into) recycle(out);
  return ok ? out : undefined;
}

/**
 * Cut a nest into pieces of at most `limit` outputs along its outermost dims (the dims before the cut are
 * all 1, so a piece's outputs are contiguous): fn(piece, its first output's offset).
 */
function forChunks(nest: Nest, limit: number, base: number, fn: (sub: Nest, base: number) => void): void {
  const size = nest.dims.reduce((a, b) => a * b, 1);
  const d = nest.dims.findIndex((n) => n > 1);
  if (size <= limit || d < 0) return fn(nest, base);
  const inner = size / nest.dims[d];
  const rows = Math.max(1, Math.floor(limit / inner));
  for (let i = 0; i < nest.dims[d]; i += rows) {
    const n = Math.min(rows, nest.dims[d] - i);
    const sub = { dims: nest.dims.map((x, k) => (k === d ? n : x)), strides: nest.strides, offsets: nest.offsets.map((o, k) => o + i * nest.strides[k][d]) };
    if (n * inner <= limit) fn(sub, base + i * inner);
    else forChunks(sub, limit, base + i * inner, fn); // one row is still too big: cut the next dim
  }
}

function runWhole(ctx: FastContext, rt: Runtime, p: Program, kernel: WasmKernel, nest: Nest, views: readonly View[], size: number, into?: Float32Array): Float32Array | undefined {
  rt.reset();
  const bases: number[] = [];
  for (const v of views) {
    const c = copyIn(rt, v);
    if (!c) return undefined;
    bases.push(c.addr - 4 * c.lo);
  }
  const o = kernelOutput(rt, size * p.outputs.length, into);
  if (!o) return undefined;
  const r = nest.dims.length;
  const classes: InnerClass[] = nest.strides.map((s) => (s[r - 1] === 0 ? 0 : s[r - 1] === 1 ? 1 : 'g'));
  launch(ctx, rt, kernel, r, classes, nest, bases, o.at, 4 * size, p.outputs.length);
  return finishOutput(rt, o);
}

/** Run the kernel over a nest whose inputs sit at `bases`, output q at `out + q·outStride` (bytes). */
function launch(ctx: FastContext, rt: Runtime, kernel: WasmKernel, r: number, classes: readonly InnerClass[], nest: Nest, bases: readonly number[], out: number, outStride: number, nOut: number): void {
  const size = nest.dims.reduce((a, b) => a * b, 1);
  const [n0, n1] = [nest.dims[r - 2], nest.dims[r - 1]];
  const threads = ctx.pool && ctx.threads > 1 && size >= THREAD_MIN_ELEMENTS * 2 ? ctx.threads : 1;
  const list = threads > 1 ? new JobList() : undefined;
  /** one call over rows [i0, i0 + rows) and columns [j0, j0 + cols) of a slab */
  const call = (ot: number, offs: readonly number[], i0: number, rows: number, j0: number, cols: number) => {
    const args = [out + 4 * (ot + i0 * n1 + j0), rows, cols];
    if (nOut > 1) args.push(outStride);
    bases.forEach((b, k) => {
      args.push(b + 4 * (offs[k] + i0 * nest.strides[k][r - 2] + j0 * nest.strides[k][r - 1]), 4 * nest.strides[k][r - 2]);
      if (classes[k] === 'g') args.push(4 * nest.strides[k][r - 1]);
    });
    if (list) list.addExtra(rt, kernel.id, args);
    else kernel.fn(...args);
  };
  forLead(nest, (ot, offs) => {
    if (!list) return call(ot, offs, 0, n0, 0, n1);
    // cut the slab into ~4 pieces per thread: by rows, or by columns when there is one row
    const pieces = threads * 4;
    if (n0 >= pieces) for (const [s, e] of splitRanges(n0, pieces)) call(ot, offs, s, e - s, 0, n1);
    else for (let i = 0; i < n0; i++) for (const [s, e] of splitRanges(n1, Math.ceil(pieces / n0))) if (e > s) call(ot, offs, i, 1, s, e - s);
  });
  if (list) ctx.pool!.run(list);
}
