#!/usr/bin/env node
// Causal attention, fused (`fusedAttention`: one kernel per pass; up to T = 384 the small-shape kernels
// work on strips of 4 query rows and, in the backward, on a head's [T, T + 12] P, over which dS is
// written; beyond that at most a [64, T] block of scores and one of dP per head and thread; when
// training, the forward keeps P for the backward) against
// the unfused composite softmax(where(mask, q·kᵀ·s, −∞))·v (the library's primitives, evaluator fusion
// on; fwd+bwd also with it off), forward and forward + backward (gradients of q, k, v), and the GEMM-bound
// floor of the fused fwd+bwd (its six causal products at this run's 1024³ GEMM rate) next to the composite's own
// six products (full squares, timed alone), plus tfjs-wasm running the same
// composite, measured in turns in this process; then the slow baselines, plain JavaScript loops
// (plain-attention.mjs) and the library's gpu.js kernels alone (up to T = 256 unless --slow). With python3-torch
// installed, PyTorch's composite and scaled_dot_product_attention at T = 512 come from
// benchmarks/pytorch/bench.py (run after, same machine).
//
// Usage: node benchmarks/attention.mjs [--json] [--quick] [--slow] [--t 128,256,512] [--heads 12] [--dim 64] [--backends threads,webasm]
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as T from '@llm-modules/tensor';
import { grad } from '@llm-modules/autograd';
import { bench } from 'llm-modules';
import { bestOf, flag, option, report } from './lib.mjs';
import { registerTfjsGradients } from './tfjs-gradients.mjs';
import { plainAttention, plainAttentionGrad } from './plain-attention.mjs';

const quick = flag('quick');
const lengths = option('t', quick ? '128,512' : '128,256,512').split(',').map(Number);
const H = Number(option('heads', 12));
const D = Number(option('dim', 64));
const backends = option('backends', 'threads,webasm').split(',');
const reps = Number(option('reps', quick ? 2 : 4));
const scale = 1 / Math.sqrt(D);
const tfjs = await bench.loadTfjsWasm();
if (tfjs) registerTfjsGradients();

/** The unfused composite, exactly as a user would write it with the library's ops. */
function composite(q, k, v) {
  const t = q.shape[2];
  const s = T.mul(T.matmul(q, T.transpose(k, [0, 1, 3, 2])), scale);
  const i = T.reshape(T.arange(t), [t, 1]);
  const j = T.reshape(T.arange(t), [1, t]);
  return T.matmul(T.softmax(T.where(T.lessEqual(j, i), s, -Infinity), -1), v);
}
const fused = (q, k, v) => T.fusedAttention(q, k, v, { scale });

const fwd = (f, q, k, v) => async () => {
  const o = f(q, k, v);
  await T.evaluate(o);
  o.dispose();
};
const fwdBwd = (f, q, k, v) => async () => {
  const gs = grad((a, b, c) => T.sum(f(a, b, c)), [0, 1, 2])(q, k, v);
  await T.evaluate(...gs);
  gs.forEach((g) => g.dispose());
};

function tfjsJobs(t) {
  const tf = tfjs.tf;
  const [q, k, v] = [1, 2, 3].map(() => tf.randomNormal([1, H, t, D]));
  const mask = tf.linalg.bandPart(tf.ones([t, t]), -1, 0); // lower triangle
  const neg = tf.mul(tf.sub(1, mask), -1e9);
  const f = (a, b, c) => tf.matMul(tf.softmax(tf.add(tf.mul(tf.matMul(a, b, false, true), scale), neg)), c);
  return {
    fwd: async () => {
      const o = f(q, k, v);
      await o.data();
      o.dispose();
    },
    fwdBwd: async () => {
      const g = tf.grads((a, b, c) => tf.sum(f(a, b, c)))([q, k, v]);
      await Promise.all(g.map((x) => x.data()));
      g.forEach((x) => x.dispose());
    },
  };
}

/**
 * Score memory of the fused fast path per thread (fast/attention.ts) in training, P kept apart: the
 * small-shape kernels' strip of 4 rows of S or dP, or the blocked kernels' two [64, T] blocks.
 */
const fusedScoreKiB = (t) => {
  const ldt = Math.ceil((t + 12) / 4) * 4;
  return (4 * t * ldt <= 640 * 1024 ? 4 * ldt * 4 : Math.min(64, t) * t * 4 * 2) / 2 ** 10;
};

/**
 * The bound on the fused fwd+bwd: its six products (S = q·kᵀ, O = P·v; dP = dO·vᵀ, dv = Pᵀ·dO,
 * dq = dS·k, dk = dSᵀ·q; P kept from the forward) over the causal triangle, T(T + 1)/2 of the T² (query,
 * key) pairs, each 2·D flops a head, at the rate this backend's GEMM reaches on 1024³ in this run. The
 * softmax, dS and packing passes come on top, so no fused kernel on this engine beats this time.
 */
const G = 1024;
const [ga, gb] = [bench.randomF32(G * G, 1), bench.randomF32(G * G, 2)];
const gemm = bench.matmulJob(ga, gb, G, G, G);
const gflops = (ms) => (2 * G ** 3) / (ms * 1e6);
const floorMs = (t, gemmMs) => (6 * H * ((t * (t + 1)) / 2) * 2 * D) / (gflops(gemmMs) * 1e6);

/**
 * P kept from the forward for the backward while training (fast/attention-cache.ts), all heads: the
 * small path's [T, ldt] per head, or the blocked path's causal blocks (wasm/attention.ts keptFloats).
 */
const keptMiB = (t) => {
  const ldt = Math.ceil((t + 12) / 4) * 4;
  if (4 * t * ldt <= 640 * 1024) return (H * t * ldt * 4) / 2 ** 20;
  const blockLd = (n) => ((n + 15) & -16) | 16;
  let n = 0;
  for (let i0 = 0; i0 < t; i0 += 64) n += Math.min(64, t - i0) * blockLd(Math.min(t, i0 + 64));
  return (H * n * 4) / 2 ** 20;
};

const checks = [];
/**
 * The slow baselines, a run or two each: plain JavaScript (checked against the fused kernel: max |Δ| of
 * o and of the gradients, into `checks`) and the library's own gpu.js kernels (fast paths and fusion
 * off; ~12 s for fwd+bwd at T = 256, so past T = 256 only with --slow).
 */
async function slowBaselines(t, q, k, v) {
  const [qa, ka, va] = await Promise.all([q, k, v].map((x) => x.data()));
  const ones = new Float32Array(H * t * D).fill(1);
  const slowReps = t > 256 ? 1 : 2;
  const ms = {};
  ms['plain fwd'] = await bestOf(() => plainAttention(qa, ka, va, H, t, D, scale), { reps: slowReps });
  ms['plain fwd+bwd'] = await bestOf(() => {
    const { P } = plainAttention(qa, ka, va, H, t, D, scale, true);
    return plainAttentionGrad(qa, ka, va, P, ones, H, t, D, scale);
  }, { reps: slowReps });
  const { o, P } = plainAttention(qa, ka, va, H, t, D, scale, true);
  const g = plainAttentionGrad(qa, ka, va, P, ones, H, t, D, scale);
  const ours = await Promise.all([fused(q, k, v), ...grad((a, b, c) => T.sum(fused(a, b, c)), [0, 1, 2])(q, k, v)].map((x) => x.data()));
  const maxDiff = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
  checks.push(`T=${t}: o ${maxDiff(o, ours[0]).toExponential(1)}, dq ${maxDiff(g.dq, ours[1]).toExponential(1)}, dk ${maxDiff(g.dk, ours[2]).toExponential(1)}, dv ${maxDiff(g.dv, ours[3]).toExponential(1)}`);
  if (t <= 256 || flag('slow')) {
    const naive = { fast: false, fusion: false };
    ms['gpujs fwd'] = await bestOf(() => bench.using('threads', fwd(fused, q, k, v), naive), { reps: 1 });
    ms['gpujs fwd+bwd'] = await bestOf(() => bench.using('threads', fwdBwd(fused, q, k, v), naive), { reps: 1 });
  }
  return ms;
}

const rows = [];
const json = {};
for (const t of lengths) {
  const [q, k, v] = [1, 2, 3].map((s) => T.randomNormal(T.prngKey(s), [1, H, t, D]));
  await T.evaluate(q, k, v);
  const [P, dO] = [T.randomNormal(T.prngKey(5), [1, H, t, t]), T.randomNormal(T.prngKey(6), [1, H, t, D])];
  await T.evaluate(P, dO);
  const tr = (x) => T.transpose(x, [0, 1, 3, 2]);
  const products = async () => {
    for (const f of [() => T.matmul(q, tr(k)), () => T.matmul(P, v), () => T.matmul(dO, tr(v)), () => T.matmul(tr(P), dO), () => T.matmul(P, k), () => T.matmul(tr(P), q)]) {
      const y = f();
      await T.evaluate(y);
      y.dispose();
    }
  };
  const cands = {};
  for (const b of backends) {
    cands[`${b} fused fwd`] = () => bench.using(b, fwd(fused, q, k, v));
    cands[`${b} composite fwd`] = () => bench.using(b, fwd(composite, q, k, v));
    cands[`${b} fused fwd+bwd`] = () => bench.using(b, fwdBwd(fused, q, k, v));
    cands[`${b} composite fwd+bwd`] = () => bench.using(b, fwdBwd(composite, q, k, v));
    // the literal "unfused" composite: every op its own kernel (evaluator fusion off), for reference
    cands[`${b} composite fwd+bwd, fusion off`] = () => bench.using(b, fwdBwd(composite, q, k, v), { fusion: false });
    // the GEMM rate of this backend in this run: the floor of any kernel whose time is its products
    cands[`${b} gemm`] = () => bench.using(b, gemm);
    // the composite's six products alone (full squares), P and dS standing in as random [H, T, T]
    cands[`${b} products`] = () => bench.using(b, products);
  }
  if (tfjs) {
    const j = tfjsJobs(t);
    cands['tfjs fwd'] = j.fwd;
    cands['tfjs fwd+bwd'] = j.fwdBwd;
  }
  const ms = await bench.interleaved(cands, { reps, budgetMs: 60000 });
  Object.assign(ms, await slowBaselines(t, q, k, v));
  json[t] = ms;
  for (const b of backends) {
    rows.push({
      T: t,
      backend: b,
      'fused fwd ms': ms[`${b} fused fwd`].toFixed(1),
      'composite fwd ms': ms[`${b} composite fwd`].toFixed(1),
      'fwd speedup': (ms[`${b} composite fwd`] / ms[`${b} fused fwd`]).toFixed(2),
      'fused fwd+bwd ms': ms[`${b} fused fwd+bwd`].toFixed(1),
      'composite fwd+bwd ms': ms[`${b} composite fwd+bwd`].toFixed(1),
      'fwd+bwd speedup': (ms[`${b} composite fwd+bwd`] / ms[`${b} fused fwd+bwd`]).toFixed(2),
      'vs fusion off': (ms[`${b} composite fwd+bwd, fusion off`] / ms[`${b} fused fwd+bwd`]).toFixed(2),
      "composite's 6 products ms": ms[`${b} products`].toFixed(1),
      'GEMM GFLOPS': gflops(ms[`${b} gemm`]).toFixed(1),
      'fwd+bwd GEMM floor ms': floorMs(t, ms[`${b} gemm`]).toFixed(1),
      'speedup at floor': (ms[`${b} composite fwd+bwd`] / floorMs(t, ms[`${b} gemm`])).toFixed(2),
      'tfjs-wasm fwd / fwd+bwd ms': tfjs ? `${ms['tfjs fwd'].toFixed(1)} / ${ms['tfjs fwd+bwd'].toFixed(1)}` : '-',
      'plain JS fwd / fwd+bwd ms': `${ms['plain fwd'].toFixed(0)} / ${ms['plain fwd+bwd'].toFixed(0)}`,
      'gpu.js naive fwd / fwd+bwd ms': ms['gpujs fwd'] ? `${ms['gpujs fwd'].toFixed(0)} / ${ms['gpujs fwd+bwd'].toFixed(0)}` : '-',
      'score bytes (composite, each [H, T, T] / fused, per thread + P kept in training)': `${((H * t * t * 4) / 2 ** 20).toFixed(1)} MiB / ${fusedScoreKiB(t).toFixed(0)} KiB + ${keptMiB(t).toFixed(1)} MiB`,
    });
  }
}

let pytorch = null;
if (!flag('no-pytorch')) {
  const py = spawnSync('/usr/bin/python3', [fileURLToPath(new URL('./pytorch/bench.py', import.meta.url)), '--json', '--only', 'attention'], { encoding: 'utf8', timeout: 600000 });
  if (py.status === 0) pytorch = JSON.parse(py.stdout.trim().split('\n').pop());
}
const extra = {
  shapes: `q, k, v [1, ${H}, T, ${D}], causal, scale 1/√${D}`,
  node: process.version,
  cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}`,
  'load average': os.loadavg().map((x) => x.toFixed(1)).join(' '),
  'plain JS vs fused, max |Δ|': checks.join('; '),
  'PyTorch T=512 (ms)': pytorch?.attention_t512 ? Object.entries(pytorch.attention_t512).map(([k, v]) => `${k} ${v}`).join(', ') : flag('no-pytorch') ? 'not run (--no-pytorch)' : 'not run (python3-torch missing)',
};
if (flag('json')) Object.assign(extra, { results: json, pytorch });
report('causal attention: fused vs unfused composite (best of runs; speedup = composite time / fused time, same run)', rows, extra);
T.shutdownThreads();
process.exit(0);
