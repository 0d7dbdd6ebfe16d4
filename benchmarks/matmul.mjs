#!/usr/bin/env node
// Matmul GFLOPS per backend next to the baselines, all in this process and measured in turns (each round
// runs every candidate once, so load changes on a shared machine hit them alike):
//   ours        the library on `threads` (WebAssembly SIMD GEMM on every core) and `webasm` (one thread)
//   gpu.js      the library's own naive gpu.js kernel (fast paths off) on `threads`
//   plain JS    an i-k-j triple loop
//   tfjs-wasm   @tensorflow/tfjs-backend-wasm (XNNPACK, SIMD; one thread: tfjs disables threads in Node)
//   GL          the library on `headlessgl` (gpu.js kernels; run under xvfb-run) when available
// plus the measured ceiling of the GEMM microkernel (mul + add on f32x4 over L1-resident panels); the
// last column is the one-thread GEMM as a fraction of the one-thread ceiling.
//
// Usage: node benchmarks/matmul.mjs [--json] [--quick] [--shapes 64,128,256,512,1024,mlp,mlp_dx,mlp_dw] [--reps 5]
//        (after `pnpm build`; under `xvfb-run -a` for the GL row)
import os from 'node:os';
import * as T from '@llm-modules/tensor';
import { bench } from 'llm-modules';
import { flag, option, report } from './lib.mjs';

const SHAPES = {
  64: [64, 64, 64, 'nn'],
  128: [128, 128, 128, 'nn'],
  256: [256, 256, 256, 'nn'],
  512: [512, 512, 512, 'nn'],
  1024: [1024, 1024, 1024, 'nn'],
  mlp: [128, 768, 3072, 'nn'], // GPT-Neo MLP forward: x[128,768] @ W[768,3072]
  mlp_dx: [128, 3072, 768, 'nt'], // its backward: dY[128,3072] @ Wᵀ (W [768,3072] read transposed)
  mlp_dw: [768, 128, 3072, 'tn'], // and Xᵀ[768,128] @ dY[128,3072]
};

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
const names = option('shapes', quick ? '128,512,mlp' : Object.keys(SHAPES).join(',')).split(',');
const tfjs = await bench.loadTfjsWasm();
const gl = available.includes('headlessgl');

const peak1 = await T.simdPeakGflops('webasm');
const peakN = await T.simdPeakGflops('threads');

const rows = [];
const json = {};
for (const name of names) {
  const [M, K, N, layout] = SHAPES[name];
  const flops = 2 * M * K * N;
  const gf = (ms) => (ms ? flops / ms / 1e6 : NaN);
  const a = bench.randomF32(M * K, 1);
  const b = bench.randomF32(K * N, 2);
  const cands = {
    threads: () => bench.using('threads', bench.matmulJob(a, b, M, K, N, layout)),
    webasm: () => bench.using('webasm', bench.matmulJob(a, b, M, K, N, layout)),
  };
  if (tfjs) cands.tfjs = bench.tfjsMatmulJob(tfjs.tf, a, b, M, K, N, layout);
  const ms = await bench.interleaved(cands, { reps });
  // the slow baselines: fewer runs (a 1024³ naive product takes seconds)
  const slowReps = M * K * N > 2 ** 26 ? 1 : Math.min(reps, 3);
  ms.gpujs = await bench.bestOf(() => bench.using('threads', bench.matmulJob(a, b, M, K, N, layout), { fast: false, fusion: false }), { reps: slowReps, warmup: 1 });
  ms.js = await bench.bestOf(() => plainMatmul(a, b, M, K, N, layout), { reps: slowReps, warmup: 1 });
  if (gl) ms.gl = await bench.bestOf(() => bench.using('headlessgl', bench.matmulJob(a, b, M, K, N, layout)), { reps: slowReps, warmup: 1 });
  const row = {
    shape: `${M}x${K} @ ${K}x${N}${layout === 'nn' ? '' : ` (${layout === 'nt' ? 'B' : 'A'}ᵀ)`}`,
    'ours threads': gf(ms.threads).toFixed(1),
    'ours 1 thread': gf(ms.webasm).toFixed(1),
    'tfjs-wasm': tfjs ? gf(ms.tfjs).toFixed(1) : '-',
    'ours / tfjs': tfjs ? (ms.tfjs / ms.threads).toFixed(2) : '-',
    '1 thread / tfjs': tfjs ? (ms.tfjs / ms.webasm).toFixed(2) : '-',
    'threads / 1': (ms.webasm / ms.threads).toFixed(2),
    'gpu.js naive': gf(ms.gpujs).toFixed(2),
    'plain JS': gf(ms.js).toFixed(2),
    ...(gl ? { 'GL (headlessgl)': gf(ms.gl).toFixed(2) } : {}),
    '1 thread % of ceiling': ((100 * gf(ms.webasm)) / peak1).toFixed(0),
  };
  rows.push(row);
  json[name] = Object.fromEntries(Object.entries(ms).map(([k, v]) => [`${k}_gflops`, Number(gf(v).toFixed(2))]));
}
const extra = {
  node: process.version,
  cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}`,
  'load average': os.loadavg().map((x) => x.toFixed(1)).join(' '),
  'GEMM microkernel ceiling (GFLOPS)': `${peak1.toFixed(1)} on 1 thread, ${peakN.toFixed(1)} on the threads backend`,
  'tfjs-wasm': tfjs ? `tfjs ${tfjs.version}, ${tfjs.threads} thread(s)` : 'not installed',
};
if (flag('json')) Object.assign(extra, { peak_1thread_gflops: peak1, peak_threads_gflops: peakN, results: json });
report('matmul f32 GFLOPS (best of runs after warm-up; ratios are speed ratios from the same run)', rows, extra);
T.shutdownThreads();
process.exit(0);
