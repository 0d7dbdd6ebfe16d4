#!/usr/bin/env node
// Softmax cross-entropy over [N, C] logits, forward + backward (gradient of the summed loss with respect
// to the logits): the fused primitive pair (`softmaxCrossEntropy` / `softmaxCrossEntropyGrad`) against
// the composite the loss was before (logSoftmax, a one-hot `equal` mask, mul and sums; evaluator fusion
// on), measured in turns in this process. A quarter of the labels are ignored (−100).
//
// Usage: node benchmarks/cross-entropy.mjs [--json] [--n 512] [--c 512] [--reps 30] [--backends webasm,threads]
import os from 'node:os';
import * as T from '@llm-modules/tensor';
import { grad } from '@llm-modules/autograd';
import { option, report } from './lib.mjs';

const N = Number(option('n', 512));
const C = Number(option('c', 512));
const reps = Number(option('reps', 30));
const backends = option('backends', 'webasm,threads').split(',');

/** The composite loss (sum over kept rows), as packages/transformer's crossEntropySum wrote it. */
function composite(logits, labels) {
  const lab = T.reshape(labels, [N, 1]);
  const valid = T.cast(T.notEqual(lab, -100), 'float32');
  const onehot = T.cast(T.equal(T.reshape(T.arange(C), [1, C]), lab), 'float32');
  const picked = T.sum(T.mul(T.logSoftmax(logits, -1), onehot), [1], true);
  return T.neg(T.sum(T.mul(picked, valid)));
}
const fused = (logits, labels) => T.sum(T.softmaxCrossEntropy(logits, labels));

const logitsData = Float32Array.from({ length: N * C }, (_, i) => 4 * Math.sin(i * 12.9898) * Math.cos(i * 0.37));
const labelsData = Int32Array.from({ length: N }, (_, i) => (i % 4 === 3 ? -100 : (i * 7919) % C));

async function time(f) {
  const logits = T.tensor(logitsData, [N, C]);
  const labels = T.tensor(labelsData, [N]);
  const step = async () => {
    const g = grad((x) => f(x, labels))(logits);
    await T.evaluate(g);
    g.dispose();
  };
  for (let w = 0; w < 3; w++) await step();
  const times = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await step();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], best: times[0] };
}

const rows = [];
for (const backend of backends) {
  T.setBackend(backend);
  const impls = [['composite', composite]];
  if (T.softmaxCrossEntropy) impls.push(['fused', fused]);
  // two turns each, alternating, so drifting machine load hits both
  const res = Object.fromEntries(impls.map(([name]) => [name, []]));
  for (let turn = 0; turn < 2; turn++) for (const [name, f] of impls) res[name].push(await time(f));
  for (const [name] of impls) {
    const median = Math.min(...res[name].map((r) => r.median));
    const best = Math.min(...res[name].map((r) => r.best));
    rows.push({ backend, implementation: name, 'median ms': median.toFixed(2), 'best ms': best.toFixed(2) });
  }
}
report(`softmax cross-entropy forward + backward, logits [${N}, ${C}]`, rows, {
  node: process.version,
  cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}`,
  'load average': os.loadavg().map((v) => v.toFixed(1)).join(' '),
});
T.shutdownThreads();
