#!/usr/bin/env node
// Paired A/B of the tiny training step (benchmarks/train-step.mjs's model) between two built checkouts,
// in one process: both builds are imported side by side (each with its own WebAssembly runtime and
// workers) and their steps alternate, A then B then B then A, so slow drifts of this shared machine
// (±20–40 % between runs minutes apart) hit both alike. Reports each build's median and the median and
// quartiles of the per-pair ratio B / A (< 1: B faster). A checkout compared with a copy of itself gives
// the method's own spread (e.g. 1.01, quartiles 0.98–1.05 on 150 pairs).
//
// Usage: node benchmarks/ab-step.mjs --a /path/to/checkout-A --b /path/to/checkout-B
//          [--backend threads] [--pairs 150] [--warmup 100] [--pause 5] [--mask] [--json]
// --mask: the step's batch carries an attention mask, as the trainer's batches always do (collate's right
// padding: rows of 64, 48, 64, 33, … real tokens; labels -100 on the pads).
// 'median cpu ms': the process's CPU time per step (all threads), steadier than wall time on a loaded machine.
// Each checkout must be built (`pnpm build`): the packages are loaded from their dist folders. The two
// must be different folders (one module instance per path). `--pause` (ms) before each step lets the
// other build's workers go idle first.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { flag, option, report } from './lib.mjs';

const dirA = option('a');
const dirB = option('b');
if (!dirA || !dirB || resolve(dirA) === resolve(dirB)) {
  console.error('ab-step: give two different built checkouts: --a DIR --b DIR');
  process.exit(2);
}
const backend = option('backend', 'threads');
const pairs = Number(option('pairs', 150));
const warmup = Number(option('warmup', 100));
const pause = Number(option('pause', 5));
const masked = flag('mask');

/** The tiny trainer's step on a right-padded batch with its attention mask, from one build's packages. */
function maskedStep(T, X, A, TR, bench) {
  const m = bench.TINY_MODEL;
  const model = X.gptNeo(bench.tinyGptNeoConfig());
  let params = model.init(T.prngKey(0));
  const opt = TR.adamw({ lr: 1e-3 });
  let state = opt.init(params);
  let s = 12345;
  const examples = Array.from({ length: m.batch }, (_, b) => {
    const n = b % 2 ? m.seq - 16 * (b % 4) - 1 : m.seq;
    const inputIds = Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s % m.vocab));
    return { inputIds, lossMask: inputIds.map(() => 1) };
  });
  const batch = TR.collate(examples, 0);
  const lossOf = (p) => X.causalLMLoss(model.apply(p, batch.inputIds, { attentionMask: batch.attentionMask }).logits, batch.labels);
  return async () => {
    const [loss, grads] = A.valueAndGrad(lossOf)(params);
    const [next, nextState] = opt.update(grads, state, params);
    await T.evaluate(loss, ...A.treeLeaves(next), ...A.treeLeaves(nextState.m), ...A.treeLeaves(nextState.v));
    for (const t of [...A.treeLeaves(params), ...A.treeLeaves(state.m), ...A.treeLeaves(state.v)]) t.dispose();
    [params, state] = [next, nextState];
    const value = (await loss.data())[0];
    loss.dispose();
    return value;
  };
}

async function load(dir) {
  const url = (p) => pathToFileURL(resolve(dir, p)).href;
  try {
    const T = await import(url('packages/tensor/dist/index.js'));
    const { bench } = await import(url('packages/cli/dist/index.js'));
    T.setBackend(backend);
    await T.evaluate(T.tensor([1])); // starts this build's runtime (and workers)
    if (!masked) return { T, step: bench.tinyTrainer().step, dir };
    const [X, A, TR] = await Promise.all(['transformer', 'autograd', 'trainer'].map((p) => import(url(`packages/${p}/dist/index.js`))));
    return { T, step: maskedStep(T, X, A, TR, bench), dir };
  } catch (e) {
    console.error(`ab-step: cannot load the built packages of ${dir} (${e.message.split('\n')[0]}); run pnpm build there`);
    process.exit(2);
  }
}
const A = await load(dirA);
const B = await load(dirB);

async function timed(x) {
  x.T.setBackend(backend);
  await new Promise((r) => setTimeout(r, pause));
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await x.step();
  const c = process.cpuUsage(c0);
  cpu.get(x).push((c.user + c.system) / 1000);
  return performance.now() - t0;
}
// process CPU time of each step (ms): on a loaded machine wall time mostly measures the wait for a core
const cpu = new Map([[A, []], [B, []]]);
for (let i = 0; i < warmup; i++) {
  await timed(A);
  await timed(B);
}
const ta = [];
const tb = [];
const ratio = [];
for (let i = 0; i < pairs; i++) {
  let a;
  let b;
  if (i % 2) {
    a = await timed(A);
    b = await timed(B);
  } else {
    b = await timed(B);
    a = await timed(A);
  }
  ta.push(a);
  tb.push(b);
  ratio.push(b / a);
}
const q = (xs, f) => xs.slice().sort((u, v) => u - v)[Math.floor(f * (xs.length - 1))];
const rows = [
  { build: 'A', checkout: A.dir, 'median ms': q(ta, 0.5).toFixed(2), 'best ms': q(ta, 0).toFixed(2), 'median cpu ms': q(cpu.get(A).slice(warmup), 0.5).toFixed(2) },
  { build: 'B', checkout: B.dir, 'median ms': q(tb, 0.5).toFixed(2), 'best ms': q(tb, 0).toFixed(2), 'median cpu ms': q(cpu.get(B).slice(warmup), 0.5).toFixed(2) },
];
const extra = {
  backend,
  pairs,
  'B / A per pair: median': q(ratio, 0.5).toFixed(3),
  'B / A per pair: quartiles': `${q(ratio, 0.25).toFixed(3)} – ${q(ratio, 0.75).toFixed(3)}`,
};
report(`tiny GPT-Neo training step${masked ? ' (padded batch with its attention mask)' : ''}, paired A/B (steps alternate between two builds in one process)`, rows, extra);
A.T.shutdownThreads?.();
B.T.shutdownThreads?.();
process.exit(0);
