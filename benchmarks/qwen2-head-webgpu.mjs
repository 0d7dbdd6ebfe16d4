// A Qwen2-1.5B-shaped tied head and embedding lookup on a gpu.js device backend (default webgpu): W is
// 151,936 × 1,536 random floats (233 M elements, 933 MB), over both device kernel limits (2^23 float32
// indices; WebGPU's maxStorageBufferBindingSize), so the backend runs them in tiles. Checks the logits
// against a float64 JavaScript loop and the rows against the table; prints the device limits and times.
// Usage: node benchmarks/qwen2-head-webgpu.mjs [--backend webgpu] [--tokens 1]  (needs packages built)
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { option } from './lib.mjs';

const T = await import(pathToFileURL(resolve(import.meta.dirname, '../packages/tensor/dist/index.js')).href);
const backend = option('backend', 'webgpu');
const tokens = Number(option('tokens', '1'));
const [V, D] = [151936, 1536];
if (!(await T.isBackendAvailable(backend))) throw new Error(`backend ${backend} is not available here`);
T.setBackend(backend);

let seed = 12345;
const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.05;
const w = new Float32Array(V * D);
for (let k = 0; k < w.length; k++) w[k] = rand();
const x = Float32Array.from({ length: tokens * D }, () => rand() * 20);
const W = T.tensor(w, [V, D]);

const adapter = await globalThis.navigator?.gpu?.requestAdapter();
const lim = adapter?.limits;
if (lim) console.log(`adapter limits: maxStorageBufferBindingSize ${lim.maxStorageBufferBindingSize} B, maxBufferSize ${lim.maxBufferSize} B`);

async function head() {
  const before = T.kernelStats.byPath.gpujs ?? 0;
  const t0 = performance.now();
  const logits = T.matmul(T.tensor(x, [tokens, D]), T.transpose(W, [1, 0]));
  const out = await logits.data();
  return { out, ms: performance.now() - t0, kernels: (T.kernelStats.byPath.gpujs ?? 0) - before };
}
const first = await head();
const second = await head();
let maxErr = 0;
let [best, bestRef, refMax] = [0, 0, -Infinity];
for (let t = 0; t < tokens; t++) {
  for (let n = 0; n < V; n++) {
    let s = 0;
    for (let k = 0; k < D; k++) s += x[t * D + k] * w[n * D + k];
    maxErr = Math.max(maxErr, Math.abs(s - first.out[t * V + n]));
    if (t === 0 && first.out[n] > first.out[best]) best = n;
    if (t === 0 && s > refMax) [refMax, bestRef] = [s, n];
  }
}
console.log(`head [${tokens}, ${D}] @ [${D}, ${V}] on ${backend}: ${first.kernels} gpu.js kernels, first call ${(first.ms / 1000).toFixed(1)} s (uploads W), second ${(second.ms / 1000).toFixed(1)} s; max |logit - float64 loop| ${maxErr.toExponential(2)}; argmax ${best} (loop: ${bestRef})`);

const ids = [0, 1, 70000, 151935, 5461, 123456];
const t0 = performance.now();
const rows = await T.gather(W, T.tensor(new Int32Array(ids), [ids.length]), 0).data();
let same = true;
ids.forEach((j, p) => w.subarray(j * D, (j + 1) * D).forEach((v, k) => (same &&= rows[p * D + k] === v)));
console.log(`embedding gather of ${ids.length} ids from [${V}, ${D}]: ${((performance.now() - t0) / 1000).toFixed(1)} s, rows equal the table's: ${same}`);
process.exit(0);
