#!/usr/bin/env node
// Which attention runs where: counts the nodes of each graph by op, for the graphs real callers build —
// one trainer batch step (right-padded batch, its attention mask, loss + gradients as the trainer's
// step builds them), `eval` (the same loss, forward only), one `generate` decode step (static KV cache,
// one new token, the mask generate passes) and the composed bridge model (enhanced bridge, padded
// batch; eval and training with dropout). Columns: fused `attention` / `attentionGrad` nodes, composite
// attention softmaxes (`exp` nodes of rank ≥ 4: score tensors [B, H, Tq, Tk]), and `concat` nodes (GPT-Neo's
// joint q/k/v weight among them). Builds graphs only (nothing is evaluated but the prefill of the decode
// step's cache). Works from the built packages (dist), so one copy runs against any built checkout:
//
// Usage: node benchmarks/attention-reach.mjs [--json] [--root DIR]   (DIR: a built checkout; default this one)
import { resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { option, report } from './lib.mjs';

const root = resolve(option('root', resolve(fileURLToPath(import.meta.url), '../..')));
const load = (pkg) => import(pathToFileURL(resolve(root, `packages/${pkg}/dist/index.js`)).href);
const [T, A, L, X, B, TR] = await Promise.all(['tensor', 'autograd', 'loaders', 'transformer', 'bridge', 'trainer'].map(load));
T.setBackend('webasm');

/** Nodes behind `roots` by op (each node once). */
function ops(...roots) {
  const seen = new Set();
  const count = { attention: 0, attentionGrad: 0, softmax: 0, concat: 0 };
  const stack = roots.flat();
  while (stack.length) {
    const t = stack.pop();
    if (seen.has(t)) continue;
    seen.add(t);
    if (t.op === 'attention' || t.op === 'attentionGrad' || t.op === 'concat') count[t.op]++;
    if (t.op === 'exp' && t.rank >= 4) count.softmax++;
    stack.push(...t.inputs);
  }
  return count;
}

const neoConfig = L.parseConfig({ model_type: 'gpt_neo', vocab_size: 96, hidden_size: 32, num_layers: 4, num_heads: 4, max_position_embeddings: 64, attention_types: [[['global', 'local'], 2]], window_size: 8 });
const qwenConfig = L.parseConfig({ model_type: 'qwen2', vocab_size: 96, hidden_size: 48, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 6, num_key_value_heads: 2 });
const neo = X.gptNeo(neoConfig);
const neoParams = neo.init(T.prngKey(0));
const lengths = [12, 9, 7, 12];
const examples = lengths.map((n, b) => ({ inputIds: Array.from({ length: n }, (_, t) => (b * 13 + t * 7 + 1) % 96), lossMask: Array.from({ length: n }, () => 1) }));
const batch = TR.collate(examples, 0); // right padding, attentionMask [B, T]
const lmLoss = (p, b) => X.causalLMLoss(neo.apply(p, b.inputIds, { attentionMask: b.attentionMask }).logits, b.labels); // as runTrainConfig's
const rows = [];
const row = (graph, model, count) => rows.push({ graph, model, ...count });

{
  const [loss, grads] = A.valueAndGrad(lmLoss)(neoParams, batch);
  row('trainer batch step', 'GPT-Neo 4 layers', ops(loss, A.treeLeaves(grads)));
  row('eval (loss)', 'GPT-Neo 4 layers', ops(lmLoss(neoParams, batch)));
}
for (const [name, model] of [['GPT-Neo 4 layers', neo], ['Qwen2 2 layers (GQA 6/2)', X.qwen2(qwenConfig)]]) {
  // generate's decode step: static cache of capacity 16, a 5-token prompt prefilled, then one token
  const params = model === neo ? neoParams : model.init(T.prngKey(1));
  const cap = 16;
  const maskOf = (n) => T.tensor(Int32Array.from({ length: cap }, (_, j) => +(j < n)), [1, cap]);
  const pre = model.apply(params, T.tensor(new Int32Array([1, 2, 3, 4, 5]), [1, 5]), { attentionMask: maskOf(5), positionIds: T.tensor(new Int32Array([0, 1, 2, 3, 4]), [1, 5]), cache: model.createCache(1, cap), logitsToKeep: 1 });
  await T.evaluate(pre.logits, ...X.cacheTensors(pre.cache));
  const step = model.apply(params, T.tensor(new Int32Array([6]), [1, 1]), { attentionMask: maskOf(6), positionIds: T.tensor(new Int32Array([5]), [1, 1]), cache: pre.cache, logitsToKeep: 1 });
  row('generate decode step', name, ops(step.logits, X.cacheTensors(step.cache)));
}
{
  const teacherModel = X.qwen2(qwenConfig);
  const composed = B.composeModel({
    teacher: { model: teacherModel, params: teacherModel.init(T.prngKey(2)) },
    student: { model: neo },
    bridge: { variant: 'enhanced', options: { heads: 4, adapterDim: 16 } },
    head: { vocabSize: 96 },
  });
  const params = composed.init(T.prngKey(3));
  const opts = { attentionMask: batch.attentionMask };
  row('composed model forward (eval)', 'Qwen2 → enhanced → GPT-Neo', ops(composed.loss(params, batch.inputIds, opts)));
  const train = (p) => composed.loss(p, batch.inputIds, { ...opts, training: true, key: T.prngKey(4) });
  const [loss, grads] = A.valueAndGrad(train)(params);
  row('composed model train step (dropout 0.1)', 'Qwen2 → enhanced → GPT-Neo', ops(loss, A.treeLeaves(grads)));
}
report('attention reach: nodes by op in the graphs real callers build', rows, { root });
