#!/usr/bin/env node
// The GPU measurement, prepared for a machine with a GPU (none was lent while it was written): matmul
// GFLOPS (1024³ … 8192³) on webgpu (gpu.js WGSL kernels, Dawn on Vulkan) and on PyTorch CUDA when
// python3 with a CUDA torch is there; the tiny GPT-Neo training step (ms, tokens/s) and greedy decode
// (tokens/s) on webgpu and on threads (the CPU baseline, same machine). Minutes; no network.
//
// Needs: the packages built (npx pnpm@10.34.8 -r --filter './packages/**' build) and node_modules with
// the `webgpu` devDependency. Dawn's adapter: LLM_MODULES_DAWN_BACKEND=vulkan on a Linux GPU server.
// Usage: node benchmarks/device/run.mjs [--json] [--quick] [--sizes 1024,2048,4096,8192] [--no-pytorch]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as T from '@llm-modules/tensor';
import { generate, gptNeo } from '@llm-modules/transformer';
import { bench } from 'llm-modules';
import { flag, option } from '../lib.mjs';

const quick = flag('quick');
const sizes = option('sizes', quick ? '256,1024' : '1024,2048,4096,8192').split(',').map(Number);
const out = { device: {}, matmul: [], train: [], decode: [], notes: [] };
const say = (s) => !flag('json') && console.log(s);

// --- the device
out.device.webgpu = await T.isBackendAvailable('webgpu');
if (out.device.webgpu) {
  const adapter = await globalThis.navigator.gpu.requestAdapter();
  out.device.adapter = adapter?.info ? { vendor: adapter.info.vendor, architecture: adapter.info.architecture, description: adapter.info.description } : null;
  out.device.maxStorageBufferBindingSize = adapter?.limits?.maxStorageBufferBindingSize;
}
say(`webgpu: ${out.device.webgpu ? JSON.stringify(out.device.adapter) : 'not available (LLM_MODULES_DAWN_BACKEND? the webgpu package?)'}`);

// --- matmul GFLOPS on webgpu: each timed run ends with a 1-value readback (sum), so the GPU work is done
async function matmulGflops(n, reps) {
  const a = T.tensor(bench.randomF32(n * n, 1), [n, n]);
  const b = T.tensor(bench.randomF32(n * n, 2), [n, n]);
  const once = async () => {
    const c = T.matmul(a, b);
    const s = T.sum(c);
    await s.data();
    c.dispose();
    s.dispose();
  };
  await once(); // compile and upload
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await once();
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, gflops: (2 * n ** 3) / (best * 1e6) };
}
if (out.device.webgpu) {
  T.setBackend('webgpu');
  for (const n of sizes) {
    // gpu.js index arithmetic is float32: kernels over 2^23 elements run on the exact cpu mode instead
    if (n * n >= 2 ** 23) {
      out.matmul.push({ backend: 'webgpu', n, skipped: 'output over 2^23 elements: the backend routes it to gpu.js cpu mode (float32 index arithmetic)' });
      say(`webgpu matmul ${n}³: skipped (over the 2^23-element index limit)`);
      continue;
    }
    const r = await matmulGflops(n, quick ? 2 : 5);
    out.matmul.push({ backend: 'webgpu', n, ...r });
    say(`webgpu matmul ${n}³: ${r.ms.toFixed(2)} ms, ${r.gflops.toFixed(1)} GFLOPS`);
  }
}

// --- PyTorch CUDA, same sizes (float32; TF32 off and on)
if (!flag('no-pytorch')) {
  const py = spawnSync('python3', [fileURLToPath(new URL('./torch_cuda.py', import.meta.url)), sizes.join(',')], { encoding: 'utf8', timeout: 600_000 });
  const last = (py.stdout ?? '').trim().split('\n').pop();
  try {
    const r = JSON.parse(last);
    out.matmul.push(...r.rows);
    for (const row of r.rows) say(`pytorch ${row.backend} matmul ${row.n}³: ${row.ms?.toFixed(2)} ms, ${row.gflops?.toFixed(1)} GFLOPS`);
  } catch {
    out.notes.push(`pytorch: ${(py.stderr || py.stdout || String(py.error)).trim().split('\n').pop()}`);
    say(`pytorch: not measured (${out.notes.at(-1)})`);
  }
}

// --- the tiny training step and greedy decode, on webgpu and threads
for (const backend of ['webgpu', 'threads']) {
  if (!(await T.isBackendAvailable(backend))) continue;
  T.setBackend(backend);
  const u = T.kernelStats.uploads;
  const r = await bench.trainStepMs({ steps: quick ? 2 : 20, warmup: quick ? 1 : 5 });
  const tokens = bench.TINY_MODEL.batch * bench.TINY_MODEL.seq;
  out.train.push({ backend, ms: r.ms, best: r.best, tokensPerS: (tokens / r.ms) * 1000, loss: r.loss, uploads: T.kernelStats.uploads - u });
  say(`${backend} tiny training step: ${r.ms.toFixed(1)} ms median, ${((tokens / r.ms) * 1000).toFixed(0)} tokens/s, loss ${r.loss.toFixed(4)}`);
  const model = gptNeo(bench.tinyGptNeoConfig());
  const params = model.init(T.prngKey(0));
  const maxNewTokens = quick ? 8 : 48;
  await generate(model, params, [[1, 2, 3, 4]], { maxNewTokens: 4, stopTokens: [] }); // compile
  const t0 = performance.now();
  const { sequences } = await generate(model, params, [[1, 2, 3, 4]], { maxNewTokens, stopTokens: [] });
  const s = (performance.now() - t0) / 1000;
  out.decode.push({ backend, tokens: sequences[0].length, tokensPerS: sequences[0].length / s });
  say(`${backend} greedy decode: ${(sequences[0].length / s).toFixed(1)} tokens/s (${sequences[0].length} tokens)`);
}
if (flag('json')) console.log(JSON.stringify(out));
process.exit(0);
