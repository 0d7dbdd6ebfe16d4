/**
 * The measurements behind `llm-modules bench` (and benchmarks/*.mjs): matmul GFLOPS per backend, the
 * per-op overhead of the graph evaluator, and a tiny GPT-Neo training step (forward, backward, AdamW),
 * with tfjs-wasm as an optional same-process baseline when `@tensorflow/tfjs-core` and
 * `@tensorflow/tfjs-backend-wasm` can be resolved.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as T from '@llm-modules/tensor';
import type { BackendName } from '@llm-modules/tensor';
import type { GPTNeoConfig } from '@llm-modules/loaders';
import { causalLMLoss, gptNeo } from '@llm-modules/transformer';
import { adamw } from '@llm-modules/trainer';
import { treeLeaves, valueAndGrad } from '@llm-modules/autograd';

/** Best wall time (ms) of `fn` over `reps` runs after `warmup` runs, stopping early past `budgetMs`. */
export async function bestOf(fn: () => unknown, { reps = 5, warmup = 1, budgetMs = 5000 } = {}): Promise<number> {
  for (let w = 0; w < warmup; w++) await fn();
  let best = Infinity;
  const start = performance.now();
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t0);
    if (performance.now() - start > budgetMs) break;
  }
  return best;
}

const SELF_TIMED = Symbol('selfTimed');

/** Mark an `interleaved` candidate that resolves to its own time in ms (the wall time around it is ignored). */
export const selfTimed = (fn: () => Promise<number>): (() => Promise<number>) => Object.assign(() => fn(), { [SELF_TIMED]: true });

/**
 * Best times of several candidates measured in turns (each round runs every candidate once), so a
 * load change on a shared machine affects all of them alike: name → ms. A candidate wrapped in
 * `selfTimed` times itself (e.g. a job run in a worker thread and timed there): the ms it resolves to count.
 */
export async function interleaved(cands: Record<string, () => unknown>, { reps = 5, budgetMs = 20000 } = {}): Promise<Record<string, number>> {
  const best: Record<string, number> = {};
  for (const [name, fn] of Object.entries(cands)) {
    await fn();
    best[name] = Infinity;
  }
  const start = performance.now();
  for (let r = 0; r < reps; r++) {
    for (const [name, fn] of Object.entries(cands)) {
      const t0 = performance.now();
      const res = await fn();
      best[name] = Math.min(best[name], SELF_TIMED in fn ? (res as number) : performance.now() - t0);
    }
    if (performance.now() - start > budgetMs) break;
  }
  return best;
}

/** `fn` with another backend (and fast paths / fusion settings) active. */
export async function using<R>(backend: BackendName, fn: () => Promise<R>, { fast = true, fusion = true } = {}): Promise<R> {
  const prevFast = T.setFastPaths(fast);
  const prevFusion = T.setFusion(fusion);
  try {
    return await T.withBackend(backend, fn);
  } finally {
    T.setFastPaths(prevFast);
    T.setFusion(prevFusion);
  }
}

/** A matmul job on our library: the product of two matrices made once (optionally transposed views), read back. */
export function matmulJob(a: Float32Array, b: Float32Array, M: number, K: number, N: number, layout: 'nn' | 'nt' | 'tn' = 'nn'): () => Promise<void> {
  // operands made once, like the tfjs job's: the first run moves them into the backend's memory (wasm
  // memory on webasm / threads) and later runs read them in place; the result is read back, as tfjs's is
  const A = layout === 'tn' ? T.transpose(T.tensor(a, [K, M])) : T.tensor(a, [M, K]);
  const B = layout === 'nt' ? T.transpose(T.tensor(b, [N, K])) : T.tensor(b, [K, N]);
  return async () => {
    const c = T.matmul(A, B);
    await c.data();
    c.dispose();
  };
}

export const randomF32 = (n: number, seed = 1): Float32Array => {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
};

// ---------------------------------------------------------------------------------------------------
// tfjs-wasm (optional): one thread here (its default under Node), several in ./tfjs-threads.ts

export { loadTfjsWasmThreaded, type TfjsThreaded, type TfjsThreadedJob } from './tfjs-threads.js';

export interface Tfjs {
  tf: any;
  threads: number;
  version: string;
}

/** tfjs with its wasm backend, resolved from `dirs` (default: the working directory and ./benchmarks); null when absent. */
export async function loadTfjsWasm(dirs: string[] = [process.cwd(), join(process.cwd(), 'benchmarks')]): Promise<Tfjs | null> {
  for (const dir of dirs) {
    try {
      const req = createRequire(join(dir, 'noop.js'));
      const tf = req('@tensorflow/tfjs-core');
      const wasm = req('@tensorflow/tfjs-backend-wasm');
      try {
        req('@tensorflow/tfjs-core/dist/register_all_gradients'); // gradients (training) are a separate import
      } catch {
        // forward only
      }
      await tf.setBackend('wasm');
      await tf.ready();
      return { tf, threads: wasm.getThreadsCount?.() ?? 1, version: tf.version_core ?? '?' };
    } catch {
      // try the next folder
    }
  }
  return null;
}

/** tfjs matmul job (data read back, like ours). */
export function tfjsMatmulJob(tf: any, a: Float32Array, b: Float32Array, M: number, K: number, N: number, layout: 'nn' | 'nt' | 'tn' = 'nn'): () => Promise<void> {
  const A = layout === 'tn' ? tf.tensor2d(a, [K, M]) : tf.tensor2d(a, [M, K]);
  const B = layout === 'nt' ? tf.tensor2d(b, [N, K]) : tf.tensor2d(b, [K, N]);
  return async () => {
    const c = tf.matMul(A, B, layout === 'tn', layout === 'nt');
    await c.data();
    c.dispose();
  };
}

// ---------------------------------------------------------------------------------------------------
// the per-op overhead of the evaluator

/** µs per `await add(x, y).data()` on `n` elements (graph build, schedule, kernel, read back, dispose). */
export async function elementwiseOverheadUs(n = 1000, count = 2000): Promise<number> {
  const x = T.tensor(randomF32(n, 3), [n]);
  const y = T.tensor(randomF32(n, 4), [n]);
  const ms = await bestOf(
    async () => {
      for (let i = 0; i < count; i++) {
        const z = T.add(x, y);
        await z.data();
        z.dispose();
      }
    },
    { reps: 5, warmup: 1 },
  );
  return (ms * 1000) / count;
}

// ---------------------------------------------------------------------------------------------------
// a tiny GPT-Neo training step

export interface TinyModelOptions {
  vocab?: number;
  dim?: number;
  layers?: number;
  heads?: number;
  seq?: number;
  batch?: number;
}

export const TINY_MODEL = { vocab: 512, dim: 64, layers: 2, heads: 4, seq: 64, batch: 8 } as const;

export function tinyGptNeoConfig(o: TinyModelOptions = {}): GPTNeoConfig {
  const m = { ...TINY_MODEL, ...o };
  return {
    model_type: 'gpt_neo',
    vocab_size: m.vocab,
    hidden_size: m.dim,
    max_position_embeddings: Math.max(m.seq, 64),
    bos_token_id: null,
    eos_token_id: null,
    pad_token_id: null,
    tie_word_embeddings: true,
    torch_dtype: null,
    initializer_range: 0.02,
    architectures: ['GPTNeoForCausalLM'],
    num_layers: m.layers,
    num_heads: m.heads,
    intermediate_size: null,
    window_size: 256,
    attention_types: [[['global', 'local'], Math.ceil(m.layers / 2)]],
    attention_layers: Array.from({ length: m.layers }, (_, i) => (i % 2 ? 'local' : 'global')),
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
    embed_dropout: 0,
    attention_dropout: 0,
    resid_dropout: 0,
  } as GPTNeoConfig;
}

/**
 * A training loop over one fixed batch: `step()` runs forward, backward and an AdamW update (lr 1e-3),
 * evaluates the loss and the new parameters and optimizer state, and resolves to the loss.
 */
export function tinyTrainer(o: TinyModelOptions = {}): { step: () => Promise<number>; tokens: number } {
  const m = { ...TINY_MODEL, ...o };
  const model = gptNeo(tinyGptNeoConfig(m));
  let params = model.init(T.prngKey(0));
  const opt = adamw({ lr: 1e-3 });
  let state = opt.init(params);
  const ids = new Int32Array(m.batch * m.seq);
  let s = 12345;
  for (let i = 0; i < ids.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    ids[i] = s % m.vocab;
  }
  const batch = T.tensor(ids, [m.batch, m.seq]);
  const lossOf = (p: typeof params) => causalLMLoss(model.apply(p, batch).logits, batch);
  const step = async () => {
    const [loss, grads] = valueAndGrad(lossOf)(params);
    const [next, nextState] = opt.update(grads, state, params) as unknown as [typeof params, typeof state];
    await T.evaluate(loss, ...treeLeaves(next), ...treeLeaves(nextState.m), ...treeLeaves(nextState.v));
    for (const t of [...treeLeaves(params), ...treeLeaves(state.m), ...treeLeaves(state.v)]) t.dispose();
    params = next;
    state = nextState;
    const value = (await loss.data())[0];
    loss.dispose();
    return value;
  };
  return { step, tokens: m.batch * m.seq };
}

/** Median wall time (ms) of `steps` training steps after `warmup` steps. */
export async function trainStepMs(o: TinyModelOptions & { steps?: number; warmup?: number } = {}): Promise<{ ms: number; best: number; loss: number }> {
  const { step } = tinyTrainer(o);
  let loss = NaN;
  for (let w = 0; w < (o.warmup ?? 2); w++) loss = await step();
  const times: number[] = [];
  for (let s = 0; s < (o.steps ?? 8); s++) {
    const t0 = performance.now();
    loss = await step();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], best: times[0], loss };
}
