#!/usr/bin/env node
// Matmul GFLOPS per backend next to the baselines, all in this process and measured in turns (each round
// runs every candidate once, so load changes on a shared machine hit them alike):
//   ours        the library on `threads` (WebAssembly SIMD GEMM on every core) and `webasm` (one thread)
//   gpu.js      the library's own naive gpu.js kernel (fast paths off) on `threads`
//   plain JS    an i-k-j triple loop
//   tfjs-wasm   @tensorflow/tfjs-backend-wasm (XNNPACK, SIMD) at its best, twice: on one thread (its default
//               under Node), and its threaded SIMD build on 2 threads in a worker thread of its own (the
//               `bench.loadTfjsWasmThreaded` shim: packages/cli/src/bench/tfjs-threads.ts), timed in that
//               worker; 'tfjs busy threads' is how many threads did that work (per-thread CPU time)
//   GL          the library on `headlessgl` (gpu.js kernels; run under xvfb-run) when available
// plus the measured ceiling of the in-place GEMM microkernel (`T.simdPeakGflops`: mul + add on f32x4 over
// L1-resident panels) and the engine's WebAssembly SIMD peak (simd-peak.mjs: f32x4 mul + add with no
// memory traffic, on 1 and on 2 threads at once); the last columns are the GEMM as a fraction of them.
// --paper adds paper-scale shapes (Qwen2-0.5B-like FFN and the 151,646-token LM head, forward and
// both backward products); those rows skip the slow baselines (naive gpu.js, plain JS, GL, tfjs).
//
// Usage: node benchmarks/matmul.mjs [--json] [--quick] [--paper] [--shapes 64,…,mlp_dw,ffn_up,lm_head] [--reps 5]
//        (after `pnpm build`; under `xvfb-run -a` for the GL row)
import os from 'node:os';
import * as T from '@llm-modules/tensor';
import { bench } from 'llm-modules';
import { flag, option, report } from './lib.mjs';
import { simdPeak } from './simd-peak.mjs';

const SHAPES = {
  64: [64, 64, 64, 'nn'],
  128: [128, 128, 128, 'nn'],
  256: [256, 256, 256, 'nn'],
  512: [512, 512, 512, 'nn'],
  1024: [1024, 1024, 1024, 'nn'],
  mlp: [128, 768, 3072, 'nn'], // GPT-Neo MLP forward: x[128,768] @ W[768,3072]
  mlp_dx: [128, 3072, 768, 'nt'], // its backward: dY[128,3072] @ Wᵀ (W [768,3072] read transposed)
  mlp_dw: [768, 128, 3072, 'tn'], // and Xᵀ[768,128] @ dY[128,3072]
  // paper scale (--paper): FFN up / down projections and the LM head over 512 tokens
  ffn_up: [512, 1536, 8960, 'nn'],
  ffn_down: [512, 8960, 1536, 'nn'],
  lm_head: [512, 768, 151646, 'nn'], // weight 466 MB
  lm_head_dx: [512, 151646, 768, 'nt'],
  lm_head_dw: [768, 512, 151646, 'tn'],
};
const PAPER = ['ffn_up', 'ffn_down', 'lm_head', 'lm_head_dx', 'lm_head_dw'];

/** Plain JS, i-k-j loop order (the best simple order: unit stride in the inner loop). */
function plainMatmul(a, b, M, K, N, layout) {
  const c = new Float32Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < K; k++) {
      const aik = layout === 'tn' ? a[k * M + i] : a[i * K + k];
      const cRow = i * N;
      if (layout === 'nt') for (let j = 0; j < N; j++) c[cRow + j] += aik * b[j * K + k];
      else {
        const bRow = k * N;
        for (let j = 0; j < N; j++) c[cRow + j] += aik * b[bRow + j];
      }
    }
  }
  return c;
}

const quick = flag('quick');
const reps = Number(option('reps', quick ? 2 : 5));
const available = await T.listBackends();
const names = option('shapes', quick ? '128,512,mlp' : Object.keys(SHAPES).filter((n) => !PAPER.includes(n)).join(',')).split(',');
if (flag('paper')) names.push(...PAPER.filter((n) => !names.includes(n)));
const tfjs = await bench.loadTfjsWasm();
const tfjs2 = tfjs ? await bench.loadTfjsWasmThreaded(2) : null;
const gl = available.includes('headlessgl');

const peak1 = await T.simdPeakGflops('webasm');
const peakN = await T.simdPeakGflops('threads');
const simd1 = await simdPeak(1);
const simd2 = await simdPeak(2);

// Warm up first: the worker threads start and V8 tiers the kernels up in the background over the first
// ~100k calls' worth of time, which otherwise lands on the first shape (64³ on threads measured 36 µs a
// call in its first 5,000 calls, 18 µs after).
{
  const w = bench.matmulJob(bench.randomF32(128 * 128, 3), bench.randomF32(128 * 128, 4), 128, 128, 128);
  for (const until = performance.now() + 1500; performance.now() < until; ) {
    await bench.using('threads', w);
    await bench.using('webasm', w);
  }
}

const rows = [];
const json = {};
for (const name of names) {
  const [M, K, N, layout] = SHAPES[name];
  const flops = 2 * M * K * N;
  const gf = (ms) => (ms ? flops / ms / 1e6 : NaN);
  const a = bench.randomF32(M * K, 1);
  const b = bench.randomF32(K * N, 2);
  const big = PAPER.includes(name);
  const job = bench.matmulJob(a, b, M, K, N, layout); // operands made once, as tfjs's are
  // Small products are timed in bursts of back-to-back calls (per call = burst / calls), as a model runs
  // them: a single call after the other candidates' turns pays the idle machine's wake-up instead (the
  // worker thread asleep, cold caches: a lone 128³ call after a 5 ms pause took 2–2.5× its back-to-back
  // time on one thread and on two alike).
  const calls = Math.max(1, Math.round(2 ** 27 / flops));
  const burst = (fn) => async () => {
    for (let i = 0; i < calls; i++) await fn();
  };
  const cands = {
    threads: burst(() => bench.using('threads', job)),
    webasm: burst(() => bench.using('webasm', job)),
  };
  if (tfjs && !big) cands.tfjs = burst(bench.tfjsMatmulJob(tfjs.tf, a, b, M, K, N, layout));
  let job2 = null;
  if (tfjs2 && !big) {
    job2 = await tfjs2.matmulJob(a, b, M, K, N, layout);
    cands.tfjs2 = bench.selfTimed(() => job2(calls)); // the burst runs (and is timed) in tfjs's worker
  }
  const ms = await bench.interleaved(cands, { reps: big ? Math.min(reps, 2) : reps, budgetMs: big ? 120000 : 20000 });
  for (const k of Object.keys(ms)) ms[k] /= calls;
  // the slow baselines: fewer runs (a 1024³ naive product takes seconds), none at paper scale
  const slowReps = M * K * N > 2 ** 26 ? 1 : Math.min(reps, 3);
  if (!big) {
    const naiveJob = bench.matmulJob(a, b, M, K, N, layout);
    ms.gpujs = await bench.bestOf(() => bench.using('threads', naiveJob, { fast: false, fusion: false }), { reps: slowReps, warmup: 1 });
    ms.js = await bench.bestOf(() => plainMatmul(a, b, M, K, N, layout), { reps: slowReps, warmup: 1 });
    if (gl) {
      const glJob = bench.matmulJob(a, b, M, K, N, layout);
      ms.gl = await bench.bestOf(() => bench.using('headlessgl', glJob), { reps: slowReps, warmup: 1 });
    }
  }
  // the threads at work in tfjs's pool over a second of this shape's products
  const check = job2 ? await tfjs2.checkThreads(job2, 1000) : null;
  const tfjsBest = Math.min(ms.tfjs ?? Infinity, ms.tfjs2 ?? Infinity);
  if (tfjsBest !== Infinity) ms.tfjs_best = tfjsBest;
  const row = {
    shape: `${M}x${K} @ ${K}x${N}${layout === 'nn' ? '' : ` (${layout === 'nt' ? 'B' : 'A'}ᵀ)`}`,
    'calls per timing': calls,
    'ours threads': gf(ms.threads).toFixed(1),
    'ours 1 thread': gf(ms.webasm).toFixed(1),
    'tfjs 1 thread': ms.tfjs ? gf(ms.tfjs).toFixed(1) : '-',
    'tfjs 2 threads': ms.tfjs2 ? gf(ms.tfjs2).toFixed(1) : '-',
    'tfjs busy threads (cpu/wall; top thread ticks)': check ? `${check.busyThreads ?? '?'} (${check.cpuPerWall.toFixed(2)}; ${check.threadTicks?.join(' ') ?? '?'})` : '-',
    'ours / best tfjs': tfjsBest ? (tfjsBest / ms.threads).toFixed(2) : '-',
    '1 thread / tfjs 1 thread': ms.tfjs ? (ms.tfjs / ms.webasm).toFixed(2) : '-',
    'threads / 1': (ms.webasm / ms.threads).toFixed(2),
    'gpu.js naive': ms.gpujs ? gf(ms.gpujs).toFixed(2) : '-',
    'plain JS': ms.js ? gf(ms.js).toFixed(2) : '-',
    ...(gl ? { 'GL (headlessgl)': ms.gl ? gf(ms.gl).toFixed(2) : '-' } : {}),
    '1 thread % of ceiling': ((100 * gf(ms.webasm)) / peak1).toFixed(0),
    '1 thread % of SIMD peak': ((100 * gf(ms.webasm)) / simd1).toFixed(0),
    'threads % of 2-thread SIMD peak': ((100 * gf(ms.threads)) / simd2).toFixed(0),
  };
  rows.push(row);
  json[name] = Object.fromEntries(Object.entries(ms).map(([k, v]) => [`${k}_gflops`, Number(gf(v).toFixed(2))]));
  if (check) Object.assign(json[name], { tfjs2_busy_threads: check.busyThreads, tfjs2_cpu_per_wall: check.cpuPerWall, tfjs2_thread_ticks: check.threadTicks });
}
const extra = {
  node: process.version,
  cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}`,
  'load average': os.loadavg().map((x) => x.toFixed(1)).join(' '),
  'GEMM microkernel ceiling (GFLOPS)': `${peak1.toFixed(1)} on 1 thread, ${peakN.toFixed(1)} on the threads backend`,
  'WASM SIMD peak (GFLOPS)': `${simd1.toFixed(1)} on 1 thread, ${simd2.toFixed(1)} on 2 threads`,
  'tfjs-wasm': tfjs ? `tfjs ${tfjs.version}, ${tfjs.threads} thread(s)${tfjs2 ? `; threaded SIMD build, ${tfjs2.threads} threads (XNNPACK pool)` : '; threaded build did not start'}` : 'not installed',
};
if (flag('json')) Object.assign(extra, { peak_1thread_gflops: peak1, peak_threads_gflops: peakN, simd_peak_1thread_gflops: simd1, simd_peak_2threads_gflops: simd2, results: json });
report('matmul f32 GFLOPS (best of runs after warm-up, small shapes in bursts of back-to-back calls; ratios are speed ratios from the same run)', rows, extra);
await tfjs2?.close();
T.shutdownThreads();
process.exit(0);
