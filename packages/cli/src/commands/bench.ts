import os from 'node:os';
import * as T from '@llm-modules/tensor';
import type { BackendName } from '@llm-modules/tensor';
import { CliError, type CliIO } from '../io.js';
import { elementwiseOverheadUs, interleaved, loadTfjsWasm, loadTfjsWasmThreaded, matmulJob, randomF32, selfTimed, tfjsMatmulJob, trainStepMs, using, TINY_MODEL } from '../bench/measure.js';

export interface BenchOptions {
  json?: boolean;
  /** smaller shapes and fewer repetitions (a smoke run) */
  quick?: boolean;
  backend?: string;
}

const gflops = (m: number, k: number, n: number, ms: number): number => Number(((2 * m * k * n) / ms / 1e6).toFixed(2));

/**
 * `llm-modules bench [--json]`: matmul GFLOPS (1024³ and the GPT-Neo MLP shape) on the default backend,
 * on one thread, and with tfjs-wasm when it can be resolved from the working directory (same process,
 * measured in turns), tfjs on one thread and on its threaded build with 2 threads (`tfjs_wasm_*_gflops`
 * is the better of the two, `tfjs_wasm_*_1thread_gflops` / `_2threads_gflops` each); the per-op overhead of the evaluator; and a tiny GPT-Neo training step (vocab
 * 512, d 64, 2 layers, 4 heads, seq 64, batch 8: forward, backward, AdamW).
 *
 * @example-skip takes about 15 s (bench.test.ts runs it)
 * @example
 * ```ts
 * await benchCommand({ json: true }, processIO); // last line: {"matmul_1024_gflops":…,"tfjs_wasm_1024_gflops":…,"train_step_ms":…}
 * ```
 */
export async function benchCommand(opts: BenchOptions, io: CliIO): Promise<void> {
  const backend = (opts.backend ?? (await T.initBackend())) as BackendName;
  if (!T.BACKEND_NAMES.includes(backend)) throw new CliError(`unknown backend "${backend}" (expected one of ${T.BACKEND_NAMES.join(', ')})`);
  if (!(await T.isBackendAvailable(backend))) throw new CliError(`backend "${backend}" does not work on this machine`);
  T.setBackend(backend);
  const say = (s: string) => {
    if (!opts.json) io.stdout(`${s}\n`);
  };
  const reps = opts.quick ? 2 : 5;
  const size = opts.quick ? 256 : 1024;
  const tfjs = await loadTfjsWasm();
  const tfjs2 = tfjs ? await loadTfjsWasmThreaded(2) : null;
  const result: Record<string, unknown> = {
    backend,
    threads: Number(process.env.LLM_MODULES_THREADS) || Math.min(os.availableParallelism?.() ?? os.cpus().length, 8),
    node: process.version,
    cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}`,
    tfjs_wasm: tfjs ? `tfjs ${tfjs.version}, wasm backend, ${tfjs.threads} thread(s)${tfjs2 ? `; threaded SIMD build, ${tfjs2.threads} threads` : ''}` : null,
  };

  // matmul: ours on the default backend and on one thread (webasm), tfjs-wasm, in turns
  const shapes: [string, number, number, number][] = [
    [String(size), size, size, size],
    ['mlp', opts.quick ? 32 : 128, 768, 3072],
  ];
  for (const [name, M, K, N] of shapes) {
    const a = randomF32(M * K, 1);
    const b = randomF32(K * N, 2);
    const job = matmulJob(a, b, M, K, N); // operands made once, as tfjs's are
    const cands: Record<string, () => Promise<unknown>> = { ours: () => using(backend, job) };
    if (backend !== 'webasm' && (await T.isBackendAvailable('webasm'))) cands.one = () => using('webasm', job);
    if (tfjs) cands.tfjs1 = tfjsMatmulJob(tfjs.tf, a, b, M, K, N);
    const job2 = tfjs2 ? await tfjs2.matmulJob(a, b, M, K, N) : null;
    if (job2) cands.tfjs2 = selfTimed(job2);
    const ms = await interleaved(cands, { reps });
    const key = name === 'mlp' ? 'mlp' : String(size);
    const tfjsBest = Math.min(ms.tfjs1 ?? Infinity, ms.tfjs2 ?? Infinity);
    result[`matmul_${key}_gflops`] = gflops(M, K, N, ms.ours);
    if (ms.one) result[`matmul_${key}_1thread_gflops`] = gflops(M, K, N, ms.one);
    result[`tfjs_wasm_${key}_gflops`] = tfjs ? gflops(M, K, N, tfjsBest) : null;
    if (ms.tfjs1) result[`tfjs_wasm_${key}_1thread_gflops`] = gflops(M, K, N, ms.tfjs1);
    if (ms.tfjs2) result[`tfjs_wasm_${key}_2threads_gflops`] = gflops(M, K, N, ms.tfjs2);
    if (tfjs2 && job2 && name !== 'mlp') {
      // the threads at work in tfjs's pool: a second (a fifth with --quick) of its products
      const check = await tfjs2.checkThreads(job2, opts.quick ? 200 : 1000);
      result.tfjs_wasm_2threads_busy_threads = check.busyThreads;
      result.tfjs_wasm_2threads_cpu_per_wall = check.cpuPerWall;
      result.tfjs_wasm_2threads_thread_ticks = check.threadTicks;
    }
    if (tfjs) result[`matmul_${key}_vs_tfjs`] = Number((tfjsBest / ms.ours).toFixed(2));
    const peers = ms.tfjs2 && job2 ? `tfjs-wasm ${result[`tfjs_wasm_${key}_1thread_gflops`]} on 1 thread, ${result[`tfjs_wasm_${key}_2threads_gflops`]} on 2` : `tfjs-wasm ${result[`tfjs_wasm_${key}_gflops`]}`;
    say(`matmul ${M}x${K} @ ${K}x${N}: ${result[`matmul_${key}_gflops`]} GFLOPS on ${backend}${ms.one ? `, ${result[`matmul_${key}_1thread_gflops`]} on one thread` : ''}${tfjs ? `, ${peers} (ours / tfjs at its best = ${result[`matmul_${key}_vs_tfjs`]})` : ', tfjs-wasm not installed'}`);
  }
  await tfjs2?.close();

  result.elementwise_1000_us = Number((await elementwiseOverheadUs(1000, opts.quick ? 200 : 2000)).toFixed(2));
  say(`elementwise op on 1,000 elements, end to end: ${result.elementwise_1000_us} µs`);

  // steady state: V8 tiers the step's code up over its first ~60 steps
  const train = await trainStepMs(opts.quick ? { steps: 2, warmup: 1 } : { steps: 30, warmup: 100 });
  const tokens = TINY_MODEL.batch * TINY_MODEL.seq;
  result.train_step_ms = Number(train.ms.toFixed(2));
  result.train_step_best_ms = Number(train.best.toFixed(2));
  result.train_step_tokens_per_s = Math.round((tokens / train.ms) * 1000);
  result.train_step_model = `gpt_neo vocab ${TINY_MODEL.vocab}, d ${TINY_MODEL.dim}, ${TINY_MODEL.layers} layers, ${TINY_MODEL.heads} heads, seq ${TINY_MODEL.seq}, batch ${TINY_MODEL.batch}; forward + backward + AdamW`;
  say(`tiny GPT-Neo training step: ${result.train_step_ms} ms (median), ${result.train_step_tokens_per_s} tokens/s, loss ${train.loss.toFixed(4)}`);
  if (opts.json) io.stdout(`${JSON.stringify(result)}\n`);
}
