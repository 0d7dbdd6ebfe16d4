#!/usr/bin/env node
// Evaluator fusion of elementwise chains: kernel launches and time with fusion off and on, for the
// chains the issue names (gelu_new on a GPT-Neo MLP activation, the AdamW update of a 768x3072 weight,
// LayerNorm's normalisation), plus the end-to-end cost of one small elementwise op (graph build,
// schedule, kernel, read back). Measured in turns in this process.
//
// Usage: node benchmarks/fusion.mjs [--json] [--backends threads,webasm,cpu] [--reps 8]
import os from 'node:os';
import * as T from '@llm-modules/tensor';
import { bench } from 'llm-modules';
import { flag, option, report } from './lib.mjs';

const backends = option('backends', 'threads,webasm,cpu').split(',');
const reps = Number(option('reps', 8));
const { add, mul, sub, div, sqrt, tanh, mean, rsqrt } = T;

const geluNew = (x) => mul(mul(x, 0.5), add(tanh(mul(add(x, mul(mul(mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI))), 1));
/** The AdamW step exactly as @llm-modules/trainer writes it (step 3, weight decay 0.01). */
function adamw(p, g, m, v, t = 3, lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01) {
  const m2 = add(mul(m, b1), mul(g, 1 - b1));
  const v2 = add(mul(v, b2), mul(mul(g, g), 1 - b2));
  const denom = add(div(sqrt(v2), Math.sqrt(1 - b2 ** t)), eps);
  return [sub(mul(p, 1 - lr * wd), mul(div(m2, denom), lr / (1 - b1 ** t))), m2, v2];
}
function layerNorm(x, g, b) {
  const mu = mean(x, -1, true);
  const xc = sub(x, mu);
  return add(mul(mul(xc, rsqrt(add(mean(mul(xc, xc), -1, true), 1e-5))), g), b);
}

const x = T.randomNormal(T.prngKey(1), [128, 3072]);
const P = T.randomNormal(T.prngKey(2), [768, 3072]);
const G = T.randomNormal(T.prngKey(3), [768, 3072]);
const Mo = T.randomNormal(T.prngKey(4), [768, 3072]);
const Vo = T.abs(T.randomNormal(T.prngKey(5), [768, 3072]));
const h = T.randomNormal(T.prngKey(6), [128, 768]);
const gamma = T.randomNormal(T.prngKey(7), [768]);
const beta = T.randomNormal(T.prngKey(8), [768]);
await T.evaluate(x, P, G, Mo, Vo, h, gamma, beta);
const CASES = {
  'gelu_new [128, 3072]': () => [geluNew(x)],
  'AdamW update [768, 3072] (p, m, v)': () => adamw(P, G, Mo, Vo),
  'LayerNorm [128, 768]': () => [layerNorm(h, gamma, beta)],
};

const run = (f) => async () => {
  const outs = f();
  await T.evaluate(...outs);
  outs.forEach((t) => t.dispose());
};
async function launches(f) {
  const k0 = T.kernelStats.launches;
  await run(f)();
  return T.kernelStats.launches - k0;
}

const rows = [];
const json = {};
for (const b of backends) {
  if (!(await T.isBackendAvailable(b))) continue;
  for (const [name, f] of Object.entries(CASES)) {
    const kOff = await bench.using(b, () => launches(f), { fusion: false });
    const kOn = await bench.using(b, () => launches(f), { fusion: true });
    const ms = await bench.interleaved(
      {
        off: () => bench.using(b, run(f), { fusion: false }),
        on: () => bench.using(b, run(f), { fusion: true }),
      },
      { reps },
    );
    rows.push({ backend: b, chain: name, 'kernels unfused': kOff, 'kernels fused': kOn, 'ms unfused': ms.off.toFixed(2), 'ms fused': ms.on.toFixed(2), speedup: (ms.off / ms.on).toFixed(2) });
    json[`${b} ${name}`] = { kernelsUnfused: kOff, kernelsFused: kOn, msUnfused: ms.off, msFused: ms.on };
  }
  const us = await bench.using(b, () => bench.elementwiseOverheadUs(1000, 2000));
  rows.push({ backend: b, chain: 'one add on 1,000 elements, end to end (µs)', 'kernels unfused': 1, 'kernels fused': 1, 'ms unfused': '-', 'ms fused': `${us.toFixed(1)} µs`, speedup: '-' });
  json[`${b} elementwise_1000_us`] = us;
}
const extra = {
  node: process.version,
  cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}`,
  'load average': os.loadavg().map((x) => x.toFixed(1)).join(' '),
};
if (flag('json')) extra.results = json;
report('evaluator fusion: kernel launches and time with fusion off / on (best of runs, same run)', rows, extra);
T.shutdownThreads();
process.exit(0);
