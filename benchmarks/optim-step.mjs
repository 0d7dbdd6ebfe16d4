// The optimizer half of a train-from-cache step at paper-scale shapes (issue #26 point 3): clip by global
// norm, then AdamW with donation, as the trainer's loop runs them (packages/trainer/src/loop.ts), on
// gradients of the shapes of the --quick stand-in's trainable parameters (a 151,646 × 768 head, the
// GPT-Neo embedding, two blocks' worth of matrices and many small vectors). Prints each kernel's time.
// Usage: node benchmarks/optim-step.mjs [--steps 3] [--scale 1] (≈4.5 GB at scale 1: run under the lock)
import * as T from '@llm-modules/tensor';
import { adamw, clipByGlobalNorm } from '@llm-modules/trainer';
import { treeLeaves } from '@llm-modules/autograd';
import { option } from './lib.mjs';
import { recordKernels } from './gemm-floor.mjs';

const steps = Number(option('steps', 3));
const scale = Number(option('scale', 1));
const shapes = { 'head.weight': [Math.round(151646 * scale), 768], 'gptneo.wte': [Math.round(50257 * scale), 768], 'gptneo.wpe': [2048, 768] };
for (let l = 0; l < 4; l++) {
  for (const n of ['q', 'k', 'v', 'o']) shapes[`gptneo.h.${l}.${n}`] = [768, 768];
  shapes[`gptneo.h.${l}.fc`] = [768, 3072];
  shapes[`gptneo.h.${l}.proj`] = [3072, 768];
  for (const n of ['ln1', 'ln2', 'b1', 'b2', 'b3']) shapes[`gptneo.h.${l}.${n}`] = [768];
}
const fill = (shape, seed) => {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    d[i] = (s / 4294967296 - 0.5) * 1e-3;
  }
  return T.tensor(d, shape);
};
let params = Object.fromEntries(Object.entries(shapes).map(([k, s], i) => [k, fill(s, i + 1)]));
const opt = adamw({ lr: 1e-4, weightDecay: 0.01, groups: [{ match: 'gptneo.', lr: 5e-5 }] });
let state = opt.init(params);
const rec = recordKernels();
for (let step = 1; step <= steps; step++) {
  const grads = Object.fromEntries(Object.entries(shapes).map(([k, s], i) => [k, fill(s, 1000 * step + i)]));
  await T.evaluate(...Object.values(grads));
  rec.take();
  const t0 = performance.now();
  const [clipped, norm] = clipByGlobalNorm(grads, 1.0);
  await T.evaluate(norm);
  const gn = (await norm.data())[0];
  T.donate(norm);
  const [p2, s2] = opt.update(clipped, state, params);
  const next = [...treeLeaves(p2), ...treeLeaves(s2)];
  const kept = new Set(next);
  T.donate(...[...treeLeaves(params), ...treeLeaves(state), ...treeLeaves(grads)].filter((t) => !kept.has(t)));
  await T.evaluate(...next);
  const ms = performance.now() - t0;
  const { byOp } = rec.take();
  [params, state] = [p2, s2];
  console.log(`step ${step}: ${ms.toFixed(0)} ms (norm ${gn.toExponential(4)})`);
  for (const [op, e] of [...byOp].sort((a, b) => b[1].ms - a[1].ms).slice(0, 6)) console.log(`  ${op.slice(0, 80).padEnd(80)} ${e.ms.toFixed(0).padStart(7)} ms ${String(e.calls).padStart(4)} calls`);
}
const h = await params['head.weight'].data();
let sum = 0;
for (let i = 0; i < h.length; i += 997) sum += h[i];
console.log(`checksum ${sum.toExponential(8)}`);
rec.stop();
T.shutdownThreads();
process.exit(0);
