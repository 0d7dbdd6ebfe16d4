/**
 * Row sums of an elementwise program's values, which are never stored: fusion/plan.ts's sum groups (a global
 * gradient norm's Σ g², whose squares of a paper-scale head alone were a fresh 466 MB array). The program runs
 * a chunk at a time into a small buffer; rows that fit a chunk are summed by the sum kernel itself (several
 * per chunk), longer rows chunk by chunk with sumRows' four float64 partial sums carried over (chunks of a
 * multiple of 4 values). Either way each row gets the bits the sum kernel (reduce.ts) gives the stored values.
 */
import type { View } from '../../backend.js';
import { broadcastView } from '../../kernels/codegen.js';
import type { Program } from '../../fusion/program.js';
import { sizeOf, type Shape } from '../../shape.js';
import type { FastContext } from './context.js';
import type { Runtime } from './runtime.js';
import { collapse, f32Data, jsKernel, wasmKernel, type WasmKernel } from './elementwise.js';
import { STREAM_CHUNK } from './elementwise-stream.js';
import { finishOutput, kernelOutput, outputBuffer, wasmAddress } from './buffers.js';
import { sumRows } from './reduce.js';

let chunk = new Float32Array(0);

/**
 * The sums of `rows` rows of consecutive values of a one-output program over `shape` (row-major), or
 * undefined where its inputs are not each one contiguous run or a broadcast scalar, or a row is longer than a
 * chunk (the caller then stores the values and sums them).
 */
export function runProgramSum(ctx: FastContext, p: Program, shape: Shape, rows: number, inputs: readonly View[]): Float32Array | undefined {
  const size = sizeOf(shape);
  if (p.outputs.length !== 1 || rows < 1 || size % rows !== 0 || size / rows > STREAM_CHUNK) return undefined;
  const views = inputs.map((v) => broadcastView(v, shape));
  const nest = collapse(shape, views);
  const step = nest.strides.map((s) => s[1]);
  if (nest.dims.length !== 2 || nest.dims[0] !== 1 || step.some((s) => s !== 0 && s !== 1)) return undefined;
  const datas = views.map(f32Data) as Float32Array[];
  if (datas.some((d) => !d)) return undefined;
  const src: Source = { datas, offsets: nest.offsets, step, size, R: size / rows, rows };
  const rt = ctx.rt;
  // the SIMD kernel from runProgram's threshold on (below it both run the JavaScript loop: the same values)
  if (rt && p.simd && size >= (p.transcendental ? 64 : 4096)) {
    let kernel: WasmKernel | undefined;
    try {
      kernel = wasmKernel(rt, p, step.map((s) => (s === 0 ? 0 : 1)));
    } catch {
      kernel = undefined; // the engine refused the module: the JavaScript loop
    }
    const out = kernel && sumWasm(rt, kernel, src);
    if (out) return out;
  }
  return sumJs(p, src);
}

interface Source {
  readonly datas: readonly Float32Array[];
  readonly offsets: readonly number[];
  /** per input: 1 (contiguous) or 0 (a broadcast scalar) */
  readonly step: readonly number[];
  readonly size: number;
  /** values per row */
  readonly R: number;
  readonly rows: number;
}

/** The pieces the program runs over, in order: `fn(j0, len, row0, nRows)`, nRows whole rows from row0 (one chunk at most). */
function forPieces(s: Source, fn: (j0: number, len: number, row0: number, nRows: number) => void): void {
  const per = Math.floor(STREAM_CHUNK / s.R);
  for (let r0 = 0; r0 < s.rows; r0 += per) {
    const k = Math.min(per, s.rows - r0);
    fn(r0 * s.R, k * s.R, r0, k);
  }
}

/** The JavaScript loop of the program into a chunk buffer, piece by piece. */
function sumJs(p: Program, s: Source): Float32Array {
  const fn = jsKernel(p);
  const n = Math.min(s.size, STREAM_CHUNK);
  if (chunk.length < n) chunk = new Float32Array(n);
  const out = outputBuffer(s.rows);
  const args: unknown[] = [];
  forPieces(s, (j0, len, row0, nRows) => {
    args.length = 0;
    s.datas.forEach((d, k) => args.push(d, s.offsets[k] + s.step[k] * j0, 0, s.step[k]));
    fn(chunk, len, 0, 1, len, ...args);
    sumRows(chunk, nRows === s.rows ? out : out.subarray(row0, row0 + nRows), nRows, s.R);
  });
  return out;
}

/**
 * The SIMD kernel into a chunk of scratch, then `sum_rows` over it. Inputs in wasm memory are read in place, the others copied in a chunk at a time (a broadcast
 * scalar once). Undefined when scratch runs out.
 */
function sumWasm(rt: Runtime, kernel: WasmKernel, s: Source): Float32Array | undefined {
  rt.reset();
  const at = s.datas.map((d) => wasmAddress(d));
  const copied = s.datas.map((_, k) => (at[k] === undefined ? rt.alloc(s.step[k] === 0 ? 1 : STREAM_CHUNK) : -1));
  const buf = rt.alloc(STREAM_CHUNK);
  const o = kernelOutput(rt, s.rows);
  if (!o || buf < 0 || copied.some((c, k) => at[k] === undefined && c < 0)) return undefined;
  const f32 = rt.f32;
  s.datas.forEach((d, k) => {
    if (at[k] === undefined && s.step[k] === 0) f32[copied[k] >> 2] = d[s.offsets[k]];
  });
  const sumRowsWasm = rt.kernels.fns.sum_rows;
  const args: number[] = [];
  forPieces(s, (j0, len, row0, nRows) => {
    args.length = 0;
    args.push(buf, 1, len);
    s.datas.forEach((d, k) => {
      const from = s.offsets[k] + s.step[k] * j0;
      if (at[k] !== undefined) args.push(at[k]! + 4 * from, 0);
      else if (s.step[k] === 0) args.push(copied[k], 0);
      else {
        f32.set(d.subarray(from, from + len), copied[k] >> 2);
        args.push(copied[k], 0);
      }
    });
    kernel.fn(...args);
    sumRowsWasm(buf, o.at + 4 * row0, nRows, s.R);
  });
  return finishOutput(rt, o);
}
