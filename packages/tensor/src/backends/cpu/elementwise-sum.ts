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
import { STREAM_CHUNK, chunkedInputs } from './elementwise-stream.js';
import { finishOutput, kernelOutput, outputBuffer } from './buffers.js';
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
    const out = kernel && sumWasm(rt, kernel, views, src);
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
 * The SIMD kernel into a chunk of scratch, then `sum_rows` over it; its inputs as the streamed elementwise kernels
 * take them (elementwise-stream.ts chunkedInputs). Undefined when scratch runs out.
 */
function sumWasm(rt: Runtime, kernel: WasmKernel, views: readonly View[], s: Source): Float32Array | undefined {
  rt.reset();
  const inputs = chunkedInputs(rt, views, s.step);
  const buf = rt.alloc(STREAM_CHUNK);
  const o = kernelOutput(rt, s.rows);
  if (!inputs || !o || buf < 0) return undefined;
  const sumRowsWasm = rt.kernels.fns.sum_rows;
  const args: number[] = [];
  forPieces(s, (j0, len, row0, nRows) => {
    args.length = 0;
    args.push(buf, 1, len);
    inputs.push(args, j0, len);
    kernel.fn(...args);
    sumRowsWasm(buf, o.at + 4 * row0, nRows, s.R);
  });
  return finishOutput(rt, o);
}
