#!/usr/bin/env node
// The tiny training step (train-step.mjs's model: vocab 512, d 64, 2 layers, 4 heads, seq 64, batch 8,
// forward + backward + AdamW), ours against PyTorch, PAIRED: PyTorch runs in a companion process
// (benchmarks/pytorch/bench.py --serve) that stays alive, and the two take turns in rounds — ours on threads,
// PyTorch on 1 thread, PyTorch on 2 threads, in a rotating order — so the slow drifts of this shared machine
// (±20–40 % between runs minutes apart) hit all three alike. Each round gives each candidate's median step;
// the result is the median and quartiles over rounds of PyTorch's faster setting's median / ours (> 1: ours
// faster). train-step.mjs measures the same step once each, PyTorch after ours.
//
// Usage: node benchmarks/paired-step.mjs [--rounds 15] [--steps 20] [--warmup 100] [--backend threads] [--json]
// Needs /usr/bin/python3 with torch (Debian: apt-get install python3-torch libopenblas0-pthread).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import * as T from '@llm-modules/tensor';
import { bench } from 'llm-modules';
import { flag, option, report } from './lib.mjs';

const rounds = Number(option('rounds', 15));
const steps = Number(option('steps', 20));
const warmup = Number(option('warmup', 100));
const backend = option('backend', 'threads');

const py = spawn('/usr/bin/python3', [fileURLToPath(new URL('./pytorch/bench.py', import.meta.url)), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
py.on('error', (e) => {
  console.error(`paired-step: cannot start python3 (${e.message}); PyTorch is needed for this benchmark`);
  process.exit(2);
});
const lines = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
async function nextLine() {
  const { value, done } = await lines.next();
  if (done) {
    console.error('paired-step: the PyTorch process ended early (is torch installed for /usr/bin/python3?)');
    process.exit(2);
  }
  return JSON.parse(value);
}
const torchInfo = await nextLine();
/** PyTorch's step times (ms) for `n` steps on `threads` threads. */
async function torchSteps(n, threads) {
  py.stdin.write(`${n} ${threads}\n`);
  return nextLine();
}

T.setBackend(backend);
const { step } = bench.tinyTrainer();
async function oursSteps(n) {
  const times = [];
  for (let s = 0; s < n; s++) {
    const t0 = performance.now();
    await step();
    times.push(performance.now() - t0);
  }
  return times;
}

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const quantile = (v, q) => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(q * v.length))];
// a pause between turns, so that neither side's idle threads (our workers' short poll, OpenMP's spin-wait)
// still hold a core when the other starts
const pause = () => new Promise((r) => setTimeout(r, 50));

await oursSteps(warmup);
await torchSteps(Math.min(warmup, 50), 1);
await torchSteps(Math.min(warmup, 50), 2);
const candidates = { ours: () => oursSteps(steps), torch1: () => torchSteps(steps, 1), torch2: () => torchSteps(steps, 2) };
const order = Object.keys(candidates);
const perRound = [];
for (let r = 0; r < rounds; r++) {
  const row = {};
  for (let k = 0; k < order.length; k++) {
    const name = order[(r + k) % order.length]; // rotate who goes first
    await pause();
    row[name] = median(await candidates[name]());
  }
  perRound.push(row);
}
py.stdin.end('\n');
T.shutdownThreads();

const ratios = perRound.map((x) => Math.min(x.torch1, x.torch2) / x.ours);
const col = (name) => perRound.map((x) => x[name]);
const rows = [
  { candidate: `ours (${backend})`, 'median of round medians ms': median(col('ours')).toFixed(2), 'best round ms': Math.min(...col('ours')).toFixed(2) },
  { candidate: `PyTorch ${torchInfo.torch}, 1 thread (BLAS ${torchInfo.blas})`, 'median of round medians ms': median(col('torch1')).toFixed(2), 'best round ms': Math.min(...col('torch1')).toFixed(2) },
  { candidate: `PyTorch ${torchInfo.torch}, 2 threads`, 'median of round medians ms': median(col('torch2')).toFixed(2), 'best round ms': Math.min(...col('torch2')).toFixed(2) },
];
const extra = {
  rounds: `${rounds} × ${steps} steps per candidate (after ${warmup} warm-up steps)`,
  node: process.version,
  cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}`,
  'load average': os.loadavg().map((x) => x.toFixed(1)).join(' '),
  'PyTorch (faster setting of the round) / ours, median over rounds': `${median(ratios).toFixed(3)} (> 1: ours faster)`,
  'quartiles over rounds': `${quantile(ratios, 0.25).toFixed(3)} – ${quantile(ratios, 0.75).toFixed(3)}`,
  'rounds ours faster': `${ratios.filter((x) => x > 1).length} of ${rounds}`,
};
if (flag('json')) Object.assign(extra, { ratio_median: median(ratios), ratios, perRound });
report('tiny GPT-Neo training step, ours vs PyTorch in alternating rounds', rows, extra);
process.exit(0);
