// Memory saved by `checkpoint` on a 12-block model: one training step (loss and every gradient in one
// `evaluate`) with and without checkpointing each block; peak bytes held by kernel outputs.
//
//   pnpm build && node benchmarks/autograd-checkpoint.mjs [--blocks 12] [--rows 256] [--dim 64] [--backend cpu] [--json]
//
// Each block is a pre-LayerNorm residual MLP: h + W2·gelu_tanh(W1·LN(h)), hidden size 4·dim.
import * as T from '@llm-modules/tensor';
import { checkpoint, treeLeaves, valueAndGrad } from '@llm-modules/autograd';
import { option, report } from './lib.mjs';

const [L, N, D] = [Number(option('blocks', 12)), Number(option('rows', 256)), Number(option('dim', 64))];
const H = 4 * D;
const backendName = option('backend', 'cpu');
T.setBackend(backendName);

// ── memory probe: kernel outputs recorded with their size, dropped when their count reaches zero ──
const backend = T.getBackend();
const execute = backend.execute;
const held = new Map();
let bytes = 0;
let peakBytes = 0;
const record = (s) => {
  if (held.has(s)) return s;
  held.set(s, s.size * 4);
  bytes += s.size * 4;
  peakBytes = Math.max(peakBytes, bytes);
  return s;
};
backend.execute = (node, inputs) => {
  const out = execute.call(backend, node, inputs);
  return out instanceof Promise ? out.then(record) : record(out);
};
// fused elementwise groups return their storage through executeGroup
const executeGroup = backend.executeGroup;
if (executeGroup) backend.executeGroup = (group, inputs) => executeGroup.call(backend, group, inputs).then(record);
let live = T.memoryStats.liveStorages;
Object.defineProperty(T.memoryStats, 'liveStorages', {
  get: () => live,
  set: (v) => {
    if (v < live) for (const [s, b] of held) if (s.refs === 0) (held.delete(s), (bytes -= b));
    live = v;
  },
});

// ── the model ──
const mean = (x, axis) => T.mean(x, axis, true);
function layerNorm(x, g, b) {
  const xc = T.sub(x, mean(x, -1));
  return T.add(T.mul(T.mul(xc, T.rsqrt(T.add(mean(T.mul(xc, xc), -1), 1e-5))), g), b);
}
const gelu = (x) => T.mul(T.mul(x, 0.5), T.add(1, T.tanh(T.mul(T.add(x, T.mul(T.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI)))));
const block = (p, h) => T.add(h, T.matmul(gelu(T.matmul(layerNorm(h, p.ln.g, p.ln.b), p.w1)), p.w2));

function init() {
  const keys = T.splitKey(T.prngKey(0), 2 * L + 1);
  const params = {};
  for (let i = 0; i < L; i++) {
    params[`h.${i}`] = {
      ln: { g: T.ones([D]), b: T.zeros([D]) },
      w1: T.randomNormal(keys[2 * i], [D, H], { std: 0.02 }),
      w2: T.randomNormal(keys[2 * i + 1], [H, D], { std: 0.02 }),
    };
  }
  return { params, x: T.randomNormal(keys[2 * L], [N, D]) };
}

async function step(blockFn) {
  const { params, x } = init();
  const loss = (ps, x) => T.mean(T.mul(Object.values(ps).reduce((h, p) => blockFn(p, h), x), x));
  const [value, grads] = valueAndGrad(loss)(params, x);
  const leaves = treeLeaves(grads);
  const base = bytes;
  peakBytes = bytes;
  const t0 = performance.now();
  await T.evaluate(value, ...leaves);
  const ms = performance.now() - t0;
  const gradBytes = leaves.reduce((s, g) => s + g.size * 4, 0);
  const result = { peakBytes: peakBytes - base, gradBytes, ms: Math.round(ms), loss: (await value.data())[0] };
  for (const t of [value, ...leaves]) t.dispose();
  return result;
}

await step(block); // warm-up: compile the kernels once
const plain = await step(block);
const ck = await step(checkpoint(block));
const mib = (b) => (b / 2 ** 20).toFixed(2);
const row = (name, r) => ({ variant: name, 'peak MiB': mib(r.peakBytes), 'gradients MiB': mib(r.gradBytes), 'rest MiB': mib(r.peakBytes - r.gradBytes), ms: r.ms, loss: r.loss });
report(`checkpoint: ${L} blocks, ${N} rows x dim ${D} (hidden ${H}), backend ${backendName}`, [row('no checkpoint', plain), row('checkpoint', ck)], {
  'peak memory saved': `${(100 * (1 - ck.peakBytes / plain.peakBytes)).toFixed(1)}%`,
  'same loss': plain.loss === ck.loss,
});
