import { describe, expect, it } from 'vitest';
import { run } from './run.js';


describe('llm-modules bench', () => {
  it('--quick --json prints the figures as one JSON object on the last line', async () => {
    const { code, out, err } = await run('bench', '--quick', '--json', '--backend', 'webasm');
    expect(err).toBe('');
    expect(code).toBe(0);
    const r = JSON.parse(out.trimEnd().split('\n').at(-1)!);
    for (const key of ['matmul_256_gflops', 'matmul_mlp_gflops', 'tfjs_wasm_256_gflops', 'elementwise_1000_us', 'train_step_ms', 'train_step_tokens_per_s', 'backend']) expect(r).toHaveProperty(key);
    expect(r.backend).toBe('webasm');
    expect(r.matmul_256_gflops).toBeGreaterThan(0);
    expect(r.train_step_ms).toBeGreaterThan(0);
    if (r.tfjs_wasm !== null) {
      // tfjs at its best: the better of one thread and its threaded build on 2 threads, both measured
      expect(r.tfjs_wasm_256_1thread_gflops).toBeGreaterThan(0);
      expect(r.tfjs_wasm_256_2threads_gflops).toBeGreaterThan(0);
      expect(r.tfjs_wasm_256_gflops).toBe(Math.max(r.tfjs_wasm_256_1thread_gflops, r.tfjs_wasm_256_2threads_gflops));
      expect(r.tfjs_wasm).toMatch(/threaded SIMD build, 2 threads/);
      // the threaded build really ran on two threads (per-thread CPU time; Linux)
      if (process.platform === 'linux') expect(r.tfjs_wasm_2threads_busy_threads).toBeGreaterThanOrEqual(2);
    }
  }, 120_000);

  it('rejects an unknown backend in one line', async () => {
    const { code, err } = await run('bench', '--backend', 'tpu');
    expect(code).toBe(1);
    expect(err).toMatch(/^llm-modules: unknown backend "tpu"/);
    expect(err.trim().split('\n')).toHaveLength(1);
  });
});
