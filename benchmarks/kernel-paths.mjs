#!/usr/bin/env node
// How a bridge training step runs on a backend: compiled gpu.js kernels (kernelCount), kernels launched,
// and the nodes each path took (kernelStats.byPath: cpu:table, cpu:program, cpu:js-loop, gpujs), for the
// first step and for a later one. A tiny Qwen2 teacher → GPT-Neo student through the `enhanced` bridge,
// the forward, causal-LM loss, gradients of every trainable parameter and an AdamW update.
//
// Usage: node benchmarks/kernel-paths.mjs [--dir CHECKOUT] [--backend threads] [--width 64] [--json]
// The checkout must be built (its packages' dist folders are imported); builds without byPath print "-".
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { option, report } from './lib.mjs';

const dir = resolve(option('dir', '.'));
const backend = option('backend', 'threads');
const width = Number(option('width', 64));
const url = (p) => pathToFileURL(resolve(dir, p)).href;
const T = await import(url('packages/tensor/dist/index.js'));
const { valueAndGrad } = await import(url('packages/autograd/dist/index.js'));
const { composeModel } = await import(url('packages/bridge/dist/index.js'));
const { crossEntropy, gptNeo, qwen2 } = await import(url('packages/transformer/dist/index.js'));
const { parseConfig } = await import(url('packages/loaders/dist/index.js'));
const { adamw } = await import(url('packages/trainer/dist/index.js'));

T.setBackend(backend);
// the bridge conformance suite's tiny world (bridge/src/testing/world.ts), wider
const teacher = qwen2(
  parseConfig({
    model_type: 'qwen2', vocab_size: 23, hidden_size: width, intermediate_size: 2 * width, num_hidden_layers: 1,
    num_attention_heads: 2, num_key_value_heads: 1, rope_theta: 10000, initializer_range: 0.5, max_position_embeddings: 64,
  }),
);
const student = gptNeo(
  parseConfig({
    model_type: 'gpt_neo', vocab_size: 5, hidden_size: width, num_layers: 2, num_heads: 2, intermediate_size: 2 * width,
    max_position_embeddings: 64, attention_types: [[['global', 'local'], 1]], window_size: 8, initializer_range: 0.2,
  }),
);
const model = composeModel({
  teacher: { model: teacher, params: teacher.init(T.prngKey(1)) },
  student: { model: student },
  bridge: { variant: 'enhanced', options: { layers: 1, heads: 2, adapterDim: 16 } },
  head: { vocabSize: 23 },
});
const B = 4;
const S = 32;
const ids = T.tensor(Int32Array.from({ length: B * S }, (_, i) => (i * 7 + 3) % 23), [B, S], 'int32');
const labels = T.tensor(Int32Array.from({ length: B * S }, (_, i) => (i * 5 + 1) % 23), [B * S], 'int32');
let params = model.init(T.prngKey(0));
const H = model.teacherStates(ids).states;
await T.evaluate(H, ...Object.values(params));
const opt = adamw({ lr: 1e-3 });
let state = opt.init(params);
const loss = (p) => crossEntropy(T.reshape(model.forward(p, H, { inputIds: ids }).logits, [B * S, 23]), labels);

async function step() {
  const k0 = T.getBackend().kernelCount();
  const l0 = T.kernelStats.launches;
  const p0 = { ...(T.kernelStats.byPath ?? {}) };
  const [value, grads] = valueAndGrad(loss)(params);
  [params, state] = opt.update(grads, state, params);
  // the optimizer state too: left pending, the next step would recompute it
  await T.evaluate(value, ...Object.values(params), ...Object.values(state.m), ...Object.values(state.v));
  const byPath = T.kernelStats.byPath;
  const paths = byPath ? Object.fromEntries(Object.keys(byPath).sort().map((k) => [k, byPath[k] - (p0[k] ?? 0)])) : undefined;
  return { compiled: T.getBackend().kernelCount() - k0, launches: T.kernelStats.launches - l0, paths, loss: (await value.data())[0] };
}

const first = await step();
await step();
const later = await step();
const row = (name, s) => ({
  step: name,
  'gpu.js kernels compiled': s.compiled,
  'kernels run': s.launches,
  'nodes by path': s.paths ? Object.entries(s.paths).map(([k, v]) => `${k} ${v}`).join(', ') : '-',
});
report(`bridge training step (enhanced, width ${width}, batch ${B}×${S}) on ${backend}, ${dir}`, [row('first', first), row('third', later)], {
  'gpu.js kernels compiled in all': T.getBackend().kernelCount(),
});
T.shutdownThreads?.();
