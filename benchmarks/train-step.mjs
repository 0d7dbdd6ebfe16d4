#!/usr/bin/env node
// One training step of a tiny GPT-Neo (vocab 512, d 64, 2 layers (global + local attention), 4 heads,
// seq 64, batch 8; forward, backward, AdamW) — the library's own model (`@llm-modules/transformer`
// gptNeo, `@llm-modules/trainer` adamw, `@llm-modules/autograd` valueAndGrad) on each CPU backend,
// the same with the hand-tuned paths and fusion off (pure gpu.js kernels), the same model written in
// tfjs (wasm backend, tf.train.adam; embedding lookup as a one-hot matmul), and — when python3-torch is installed — PyTorch
// (benchmarks/pytorch/bench.py, run after this process on the same machine).
//
// Usage: node benchmarks/train-step.mjs [--json] [--quick] [--steps 200] [--warmup 100] [--backends threads,webasm,cpu] [--no-pytorch]
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as T from '@llm-modules/tensor';
import { bench } from 'llm-modules';
import { flag, option, report } from './lib.mjs';
import { registerTfjsGradients } from './tfjs-gradients.mjs';

const quick = flag('quick');
// 200 steps: a window of 50 gave medians from 10.4 to 14.4 ms in six runs in a row (ours, threads), 200 from 9.6 to 10.8
const steps = Number(option('steps', quick ? 3 : 200));
// V8 tiers the step's JavaScript and WebAssembly up over its first ~60 steps (median 47 ms in steps 0–10,
// 17.5 ms in steps 100–200, threads, measured); a training run spends its time in that steady state
const warmup = Number(option('warmup', quick ? 2 : 100));
const backends = option('backends', 'threads,webasm,cpu').split(',');
const M = bench.TINY_MODEL;

async function timeSteps(step, n, warmup = 2) {
  let loss = NaN;
  for (let w = 0; w < warmup; w++) loss = await step();
  const times = [];
  for (let s = 0; s < n; s++) {
    const t0 = performance.now();
    loss = await step();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], best: times[0], loss };
}

/** The same model in tfjs: GPT-Neo block (no 1/√d scaling), gelu_new, tied head, Adam (lr 1e-3). */
function tfjsTrainer(tf) {
  const { vocab, dim, layers, heads, seq, batch } = M;
  const v = (shape, init = 'normal') => tf.variable(init === 'ones' ? tf.ones(shape) : init === 'zeros' ? tf.zeros(shape) : tf.randomNormal(shape, 0, 0.02));
  const p = {
    wte: v([vocab, dim]),
    wpe: v([64, dim]),
    lnfG: v([dim], 'ones'),
    lnfB: v([dim], 'zeros'),
    blocks: Array.from({ length: layers }, () => ({
      ln1G: v([dim], 'ones'), ln1B: v([dim], 'zeros'), q: v([dim, dim]), k: v([dim, dim]), v: v([dim, dim]), o: v([dim, dim]), oB: v([dim], 'zeros'),
      ln2G: v([dim], 'ones'), ln2B: v([dim], 'zeros'), fc: v([dim, 4 * dim]), fcB: v([4 * dim], 'zeros'), proj: v([4 * dim, dim]), projB: v([dim], 'zeros'),
    })),
  };
  const ids = tf.tensor2d(Int32Array.from({ length: batch * seq }, (_, i) => (i * 7919) % vocab), [batch, seq], 'int32');
  const idsOneHot = tf.cast(tf.oneHot(tf.reshape(ids, [-1]), vocab), 'float32');
  const labels = tf.oneHot(tf.reshape(tf.slice(ids, [0, 1], [batch, seq - 1]), [-1]), vocab);
  const mask = tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([seq, seq]), -1, 0)), -1e9);
  const ln = (x, g, b) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), b);
  };
  const lin = (x, w, b) => {
    const y = tf.matMul(tf.reshape(x, [-1, x.shape[x.shape.length - 1]]), w);
    return tf.reshape(b ? tf.add(y, b) : y, [...x.shape.slice(0, -1), w.shape[1]]);
  };
  const splitHeads = (x) => tf.transpose(tf.reshape(x, [batch, seq, heads, dim / heads]), [0, 2, 1, 3]);
  const lossFn = () => {
    // embedding as one-hot · table: tfjs-wasm has no UnsortedSegmentSum kernel for gather's gradient
    let x = tf.add(tf.reshape(tf.matMul(idsOneHot, p.wte), [batch, seq, dim]), tf.slice(p.wpe, [0, 0], [seq, dim]));
    for (const b of p.blocks) {
      const h = ln(x, b.ln1G, b.ln1B);
      const [q, k, vv] = [b.q, b.k, b.v].map((w) => splitHeads(lin(h, w)));
      const att = tf.matMul(tf.softmax(tf.add(tf.matMul(q, k, false, true), mask)), vv);
      x = tf.add(x, lin(tf.reshape(tf.transpose(att, [0, 2, 1, 3]), [batch, seq, dim]), b.o, b.oB));
      const y = lin(ln(x, b.ln2G, b.ln2B), b.fc, b.fcB);
      const g = tf.mul(tf.mul(y, 0.5), tf.add(tf.tanh(tf.mul(tf.add(y, tf.mul(tf.pow(y, 3), 0.044715)), Math.sqrt(2 / Math.PI))), 1));
      x = tf.add(x, lin(g, b.proj, b.projB));
    }
    const logits = tf.matMul(tf.reshape(ln(x, p.lnfG, p.lnfB), [-1, dim]), p.wte, false, true);
    const shifted = tf.reshape(tf.slice(tf.reshape(logits, [batch, seq, vocab]), [0, 0, 0], [batch, seq - 1, vocab]), [-1, vocab]);
    return tf.losses.softmaxCrossEntropy(labels, shifted);
  };
  const opt = tf.train.adam(1e-3);
  return async () => {
    const loss = opt.minimize(lossFn, true);
    const value = (await loss.data())[0];
    loss.dispose();
    return value;
  };
}

const rows = [];
const json = {};
for (const b of backends) {
  if (!(await T.isBackendAvailable(b))) continue;
  const r = await bench.using(b, () => timeSteps(bench.tinyTrainer().step, b === 'cpu' ? Math.min(steps, 10) : steps, b === 'cpu' ? Math.min(warmup, 3) : warmup));
  json[b] = r;
  rows.push({ implementation: `ours, ${b}`, 'median ms': r.median.toFixed(1), 'best ms': r.best.toFixed(1), 'loss after': r.loss.toFixed(4) });
}
if (!quick && !flag('no-naive')) {
  const r = await bench.using('threads', () => timeSteps(bench.tinyTrainer().step, 2, 1), { fast: false, fusion: false });
  json.gpujs = r;
  rows.push({ implementation: 'ours, gpu.js kernels only (threads, no fast paths, no fusion)', 'median ms': r.median.toFixed(1), 'best ms': r.best.toFixed(1), 'loss after': r.loss.toFixed(4) });
}
// tfjs-wasm is loaded only now: with it in the process, our threads step measured ~7 % slower (median of step
// medians 10.49 ms against 9.70 without, five alternate pairs of runs, slower in all five), which no user of ours pays
const tfjs = await bench.loadTfjsWasm();
if (tfjs) registerTfjsGradients();
if (tfjs) {
  const r = await timeSteps(tfjsTrainer(tfjs.tf), Math.min(steps, 10), Math.min(warmup, 5)); // ~0.3 s a step
  json.tfjs = r;
  rows.push({ implementation: `tfjs-wasm (${tfjs.threads} thread)`, 'median ms': r.median.toFixed(1), 'best ms': r.best.toFixed(1), 'loss after': r.loss.toFixed(4) });
}
let pytorch = null;
if (!flag('no-pytorch')) {
  const py = spawnSync('/usr/bin/python3', [fileURLToPath(new URL('./pytorch/bench.py', import.meta.url)), '--json', '--only', 'train', '--steps', String(steps), '--warmup', String(warmup), ...(quick ? ['--quick'] : [])], { encoding: 'utf8', timeout: 600000 });
  if (py.status === 0) {
    pytorch = JSON.parse(py.stdout.trim().split('\n').pop());
    for (const th of [1, 2]) {
      if (pytorch[`train_step_ms_${th}thread`] === undefined) continue;
      rows.push({ implementation: `PyTorch ${pytorch.torch} (${th} thread${th > 1 ? 's' : ''}, BLAS ${pytorch.blas}; run after)`, 'median ms': pytorch[`train_step_ms_${th}thread`].toFixed(1), 'best ms': pytorch[`train_step_best_ms_${th}thread`].toFixed(1), 'loss after': '-' });
    }
  }
}
const ours = json.threads ?? json.webasm;
const torchBest = pytorch ? Math.min(...[1, 2].map((th) => pytorch[`train_step_ms_${th}thread`] ?? Infinity)) : null;
const extra = {
  model: `gpt_neo vocab ${M.vocab}, d ${M.dim}, ${M.layers} layers, ${M.heads} heads, seq ${M.seq}, batch ${M.batch}; forward + backward + AdamW (tfjs: Adam)`,
  node: process.version,
  cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}`,
  'load average': os.loadavg().map((x) => x.toFixed(1)).join(' '),
  'ours (threads) vs PyTorch (its faster thread setting), median': torchBest && ours ? `${(torchBest / ours.median).toFixed(2)}x (>1 = ours faster)` : 'n/a',
  'ours vs tfjs-wasm, median': json.tfjs && ours ? `${(json.tfjs.median / ours.median).toFixed(2)}x` : 'n/a',
};
if (flag('json')) Object.assign(extra, { results: json, pytorch });
report('tiny GPT-Neo training step (median and best of steps after warm-up)', rows, extra);
T.shutdownThreads();
process.exit(0);
