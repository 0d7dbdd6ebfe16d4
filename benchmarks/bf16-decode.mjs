#!/usr/bin/env node
// A decoding step's weight reads, bfloat16-resident (`bfloat16Tensor`: bits decoded inside the matmul kernel)
// against the same weights as float32, in this process and in turns (each round runs both, so load changes on
// a shared machine hit them alike):
//   matvec rows   x[1, K] · Wᵀ for the weight shapes of Qwen2-1.5B (one token reads each once per layer; the
//                 tied head once), ms and GB/s of weight read (bytes as stored: 2 per value bf16, 4 float32)
//   token row     the sum over one token of Qwen2-1.5B: 28 × (q, k, v, o, gate, up, down) + head. Each weight
//                 is alone here, so it fits the CPU backend's 512 MiB of heap storage and is read in place
//                 (both dtypes; f32 only up to 32 MB per array); a weight that does not (the head; most of a
//                 whole model's) moves into a weight bank and is read in place there (backends/cpu/banks.ts;
//                 LLM_MODULES_BANKS=0: copied into scratch per product instead, as before banks)
//   --load-only   with --model: only load it bfloat16-resident, in a fresh process: resident weight bytes and
//                 the process's peak RSS against the weight files' size (the load peak)
//   --model DIR   also greedy incremental decoding of a model folder loaded both ways (`loadPretrained`,
//                 `keepBFloat16`), tokens/s after the first token; e.g. the paper-shape Qwen2-1.5B stand-in
//                 (examples/qwen2-gptneo/measure.sh) — 6 + 3 GiB: run it under `flock /tmp/llm-bigmem.lock`
//
// Usage: node benchmarks/bf16-decode.mjs [--json] [--reps 5] [--quick] [--model DIR [--load-only] --tokens 8 --prompt-len 16]
//        (after `pnpm build`; the threads backend unless LLM_MODULES_BACKEND says otherwise)
import * as T from '@llm-modules/tensor';
import { flag, option, report } from './lib.mjs';

const REPS = Number(option('reps', flag('quick') ? 2 : 5));
// Qwen2-1.5B: hidden 1536, 12 heads of 128, 2 key/value heads, MLP 8960, vocabulary 151,936 (tied head)
const SHAPES = {
  q_o: [1536, 1536, 2],
  k_v: [256, 1536, 2],
  gate_up: [8960, 1536, 2],
  down: [1536, 8960, 1],
  head: [151936, 1536, 0],
};
const LAYERS = 28;

function randomWeight(N, K, seed) {
  const r = T.mulberry32(seed);
  const f = new Float32Array(N * K);
  for (let i = 0; i < f.length; i++) f[i] = (r() - 0.5) * 0.1;
  const bits = T.encodeBFloat16(f);
  return { f32: T.tensor(T.decodeBFloat16(bits), [N, K]), bf16: T.bfloat16Tensor(bits, [N, K]) };
}

async function time(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function matvecRows() {
  const rows = [];
  let tokenF32 = 0;
  let tokenBF16 = 0;
  for (const [name, [N, K, perLayer]] of Object.entries(SHAPES)) {
    if (flag('quick') && name === 'head') continue;
    const w = randomWeight(N, K, N + K);
    const x = T.tensor(Float32Array.from({ length: K }, (_, i) => Math.sin(i)), [1, K]);
    const run = (weight) => () => T.matmul(x, T.transpose(weight)).data();
    const a = await run(w.f32)();
    const b = await run(w.bf16)();
    let maxDiff = 0;
    for (let i = 0; i < N; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    let f32 = Infinity;
    let bf16 = Infinity;
    for (let r = 0; r < REPS; r++) {
      f32 = Math.min(f32, await time(run(w.f32)));
      bf16 = Math.min(bf16, await time(run(w.bf16)));
    }
    const per = perLayer === 0 ? 1 : perLayer * LAYERS;
    tokenF32 += per * f32;
    tokenBF16 += per * bf16;
    rows.push({
      weight: `${name} [${N}, ${K}]`,
      'f32 ms': f32.toFixed(2),
      'f32 GB/s': ((4 * N * K) / f32 / 1e6).toFixed(1),
      'bf16 ms': bf16.toFixed(2),
      'bf16 GB/s': ((2 * N * K) / bf16 / 1e6).toFixed(1),
      'f32/bf16 time': (f32 / bf16).toFixed(2),
      'max |diff|': maxDiff.toExponential(1),
    });
    w.f32.dispose();
    w.bf16.dispose();
  }
  rows.push({ weight: flag('quick') ? 'one token (no head)' : 'one token of Qwen2-1.5B', 'f32 ms': tokenF32.toFixed(0), 'f32 GB/s': '', 'bf16 ms': tokenBF16.toFixed(0), 'bf16 GB/s': '', 'f32/bf16 time': (tokenF32 / tokenBF16).toFixed(2), 'max |diff|': '' });
  return rows;
}

async function decodeRows(dir) {
  const { loadPretrained, generate } = await import('@llm-modules/transformer');
  const tokens = Number(option('tokens', 8));
  const promptLen = Number(option('prompt-len', 16));
  const prompt = Array.from({ length: promptLen }, (_, i) => 100 + 37 * i);
  const rows = [];
  for (const keepBFloat16 of [false, true]) {
    const t0 = performance.now();
    const m = await loadPretrained(dir, { tokenizer: false, keepBFloat16 });
    const loadS = (performance.now() - t0) / 1000;
    const bytes = Object.values(m.params).reduce((n, t) => n + T.storageBytes(t), 0);
    const stamps = [];
    const r = await generate(m.model, m.params, prompt, { maxNewTokens: tokens, stopTokens: [], useCache: true, onToken: () => stamps.push(performance.now()) });
    const steady = stamps.length > 1 ? (stamps.length - 1) / ((stamps.at(-1) - stamps[0]) / 1000) : NaN;
    rows.push({ weights: keepBFloat16 ? 'bfloat16-resident' : 'float32', 'load s': loadS.toFixed(1), 'weights GiB': (bytes / 2 ** 30).toFixed(2), 'tokens/s after the first': steady.toFixed(2), tokens: r.sequences[0].slice(promptLen).join(',') });
    for (const t of Object.values(m.params)) t.dispose();
  }
  return rows;
}

async function loadRow(dir) {
  const { loadPretrained } = await import('@llm-modules/transformer');
  const { readdirSync, statSync } = await import('node:fs');
  const { join } = await import('node:path');
  const fileBytes = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  const t0 = performance.now();
  const m = await loadPretrained(dir, { tokenizer: false, keepBFloat16: true });
  const seconds = (performance.now() - t0) / 1000;
  const params = Object.values(m.params);
  const bytes = params.reduce((n, t) => n + T.storageBytes(t), 0);
  const peak = process.resourceUsage().maxRSS * 1024;
  const rss = process.memoryUsage().rss;
  return [{ 'load s': seconds.toFixed(1), 'file GB': (fileBytes / 1e9).toFixed(3), 'resident GiB': (bytes / 2 ** 30).toFixed(3), 'bf16 tensors': `${params.filter((t) => T.isBFloat16Resident(t)).length} of ${params.length}`, 'RSS after GiB': (rss / 2 ** 30).toFixed(2), 'peak RSS GiB': (peak / 2 ** 30).toFixed(2), 'peak / file': (peak / fileBytes).toFixed(3) }];
}

const backend = process.env.LLM_MODULES_BACKEND ?? 'threads';
T.setBackend(backend);
const extra = { backend, reps: REPS, load: (await import('node:os')).loadavg()[0].toFixed(2) };
if (flag('load-only')) {
  report(`load ${option('model')} bfloat16-resident`, await loadRow(option('model')), extra);
  process.exit(0);
}
report('bf16 decode: x · Wᵀ with W bfloat16-resident vs float32 (best of reps, interleaved)', await matvecRows(), extra);
const model = option('model');
if (model) report(`greedy incremental decoding of ${model}`, await decodeRows(model), extra);
T.shutdownThreads?.();
