#!/usr/bin/env node
// Transformer throughput for a GPT-Neo-125M-shaped and a Qwen2-1.5B-shaped model with random weights, per backend.
// Only a 2-layer model is built (one global and one local layer for GPT-Neo): per-layer = its blocks' time / 2
// (embeddings and final norm, negligible, included), and the full model (12 / 28 layers) is extrapolated as
// layers × per-layer + the LM head, measured alone.
// - forward: one prompt [1, P] through the blocks (warm = best of three runs after a first, compiling, run), plus
//   the LM head over the P positions measured alone.
// - decode: median seconds of one decoding step (warm: the better of two passes) (one new token, batch 1) after a prompt of P, for each cache:
//   static (preallocated P + N slots, fixed shapes), dynamic (grows by concatenation: new shapes, so new kernels,
//   every step: warm = a second pass over the same lengths; its first pass on fresh lengths is shown apart),
//   none (recompute the whole sequence each step).
// - generate: end-to-end `generate()` with the 2-layer model (static cache, warm), tokens/s after the first token.
// Usage: node benchmarks/transformer.mjs [--json] [--backends cpu,webasm,threads] [--models neo,qwen] [--prompt 32] [--new 8]
import os from 'node:os';
import { parseConfig } from '@llm-modules/loaders';
import { evaluate, listBackends, prngKey, setBackend, slice, tensor } from '@llm-modules/tensor';
import { cacheTensors, createModel, generate, linear } from '@llm-modules/transformer';
import { option, report } from './lib.mjs';

const SHAPES = {
  // GPT-Neo-125M: hidden 768, 12 heads, MLP 3072, vocab 50257, window 256, 12 layers alternating global/local
  neo: {
    label: 'GPT-Neo-125M',
    layers: 12,
    head: 'transformer.wte.weight',
    config: (n) => ({ model_type: 'gpt_neo', vocab_size: 50257, hidden_size: 768, num_layers: n, num_heads: 12, intermediate_size: 3072,
      max_position_embeddings: 2048, window_size: 256, attention_types: n === 1 ? [[['global'], 1]] : [[['global', 'local'], n / 2]] }),
  },
  // Qwen2-1.5B: hidden 1536, 12 heads / 2 KV heads, MLP 8960, vocab 151936, θ 1e6, tied embeddings, 28 layers
  qwen: {
    label: 'Qwen2-1.5B',
    layers: 28,
    head: 'model.embed_tokens.weight',
    config: (n) => ({ model_type: 'qwen2', vocab_size: 151936, hidden_size: 1536, intermediate_size: 8960, num_hidden_layers: n,
      num_attention_heads: 12, num_key_value_heads: 2, rope_theta: 1e6, tie_word_embeddings: true, max_position_embeddings: 32768 }),
  },
};

const available = await listBackends();
const backends = option('backends', available.filter((b) => b !== 'reference').join(',')).split(',').filter((b) => available.includes(b));
const models = option('models', 'neo,qwen').split(',');
const PROMPT = Number(option('prompt', '32'));
const P = PROMPT;
const N = Math.max(3, Number(option('new', '8')));

const now = () => performance.now() / 1000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ids = (n, from = 0) => tensor(Int32Array.from({ length: n }, (_, i) => ((from + i) * 7919) % 1000), [1, n]);

/** Forward of one prompt [1, P] through the blocks and final norm (no LM head): cold, and warm = best of three. */
async function timeForward(model, params) {
  const run = async () => {
    const t0 = now();
    const { lastHiddenState } = model.apply(params, ids(P));
    await evaluate(lastHiddenState);
    lastHiddenState.dispose();
    return now() - t0;
  };
  const cold = await run();
  return { cold, warm: Math.min(await run(), await run(), await run()) };
}

/** Median seconds of a decoding step that computes the last hidden state and the cache (no LM head). */
async function timeDecode(model, params, mode, P = PROMPT) {
  const pass = async () => {
    const steps = [];
    let cache = mode === 'none' ? null : model.createCache(1, mode === 'static' ? P + N : null);
    let out = model.apply(params, ids(P), { cache, logitsToKeep: 1 });
    await evaluate(out.lastHiddenState, ...(out.cache ? cacheTensors(out.cache) : []));
    cache = out.cache ?? null;
    for (let s = 0; s < N; s++) {
      const t0 = now();
      const input = mode === 'none' ? ids(P + s + 1) : ids(1, P + s);
      out = model.apply(params, input, { cache, attentionMask: mode === 'static' ? tensor(new Int32Array(P + N).fill(1), [1, P + N]) : null });
      const h = mode === 'none' ? slice(out.lastHiddenState, [0, P + s]) : out.lastHiddenState;
      await evaluate(h, ...(out.cache ? cacheTensors(out.cache) : []));
      steps.push(now() - t0);
      cache = out.cache ?? null;
    }
    return median(steps);
  };
  const cold = await pass();
  return { cold, warm: Math.min(await pass(), await pass()) }; // warm: the better of two passes (shared, noisy machines)
}

/** Median seconds of the LM head alone over T positions. */
async function timeHead(params, name, D, T) {
  const h = tensor(new Float32Array(T * D).fill(0.01), [1, T, D]);
  const times = [];
  for (let r = 0; r < 6; r++) {
    const t0 = now();
    const logits = linear(h, params[name]);
    await evaluate(logits);
    logits.dispose();
    times.push(now() - t0);
  }
  return median(times.slice(1));
}

async function timeGenerate(model, params) {
  const once = async () => {
    const stamps = [];
    await generate(model, params, Array.from(await ids(P).data()), { maxNewTokens: N, stopTokens: [], onToken: () => stamps.push(now()) });
    return (N - 1) / (stamps[N - 1] - stamps[0]);
  };
  await once();
  return once();
}

const ms = (s) => (s * 1000).toFixed(s < 0.1 ? 1 : 0);

const rows = [];
for (const name of models) {
  const shape = SHAPES[name];
  const model = createModel(parseConfig(shape.config(2)));
  const params = model.init(prngKey(0));
  const D = model.config.hidden_size;
  for (const backend of backends) {
    setBackend(backend);
    const L = shape.layers;
    const fwd = (await timeForward(model, params)).warm / 2;
    const head = await timeHead(params, shape.head, D, 1);
    const headP = await timeHead(params, shape.head, D, P);
    const row = {
      model: shape.label,
      backend,
      'fwd ms/layer': ms(fwd),
      layers: L,
      'fwd tok/s': (P / (L * fwd + headP)).toFixed(1),
      'fwd head ms': ms(headP),
      'head ms/tok': ms(head),
    };
    for (const mode of ['static', 'dynamic', 'none']) {
      const perLayer = (await timeDecode(model, params, mode)).warm / 2;
      row[`${mode} ms/layer`] = ms(perLayer);
      row[`${mode} tok/s`] = (1 / (L * perLayer + head)).toFixed(2);
    }
    // compile cost of the dynamic cache: the 2-layer model on a prompt length whose shapes were never compiled
    const fresh = await timeDecode(model, params, 'dynamic', PROMPT + 2 * N + 3);
    row['dynamic 2L ms/step 1st/2nd pass'] = `${ms(fresh.cold)}/${ms(fresh.warm)}`;
    row['generate() 2L tok/s'] = (await timeGenerate(model, params)).toFixed(2);
    rows.push(row);
    if (!process.argv.includes('--json')) console.error(JSON.stringify(row));
  }
}
report(`transformer forward and decoding (random weights, batch 1, prompt ${P}, ${N} decoding steps; tok/s columns are full depth (layers), extrapolated from a 2-layer model)`, rows, {
  node: process.version,
  cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}`,
});
process.exit(0);
