#!/usr/bin/env node
// Matmul GFLOPS per backend next to a plain-JS triple loop run in the same process.
// Usage: node benchmarks/matmul.mjs [--json] [--backends cpu,webasm,threads] [--shapes 128,512,1024,mlp]
import os from 'node:os';
import { tensor, matmul, setBackend, listBackends, evaluate, randomUniform, prngKey } from '@llm-modules/tensor';
import { bestOf, option, report } from './lib.mjs';

const SHAPES = {
  128: [128, 128, 128],
  512: [512, 512, 512],
  1024: [1024, 1024, 1024],
  mlp: [128, 768, 3072], // GPT-Neo MLP: [128 x 768] @ [768 x 3072]
};

/** Plain JS, i-k-j loop order (the best simple order: unit stride in the inner loop). */
function plainMatmul(a, b, M, K, N) {
  const c = new Float32Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < K; k++) {
      const aik = a[i * K + k];
      const bRow = k * N;
      const cRow = i * N;
      for (let j = 0; j < N; j++) c[cRow + j] += aik * b[bRow + j];
    }
  }
  return c;
}

const available = await listBackends();
const wanted = option('backends', available.filter((b) => b !== 'reference').join(',')).split(',');
const shapes = option('shapes', '128,512,1024,mlp').split(',');
const rows = [];
for (const name of shapes) {
  const [M, K, N] = SHAPES[name];
  const flops = 2 * M * K * N;
  const a = randomUniform(prngKey(1), [M, K]);
  const b = randomUniform(prngKey(2), [K, N]);
  const [ha, hb] = [await a.data(), await b.data()];
  const baseMs = await bestOf(() => plainMatmul(ha, hb, M, K, N), { reps: 3 });
  const row = { shape: `${M}x${K} @ ${K}x${N}`, 'plain JS GFLOPS': (flops / baseMs / 1e6).toFixed(2) };
  for (const backend of wanted) {
    if (!available.includes(backend)) continue;
    setBackend(backend);
    // A fresh tensor pair per run: the graph is lazy and a realized result would not be recomputed.
    const ms = await bestOf(async () => {
      const c = matmul(tensor(ha, [M, K]), tensor(hb, [K, N]));
      await evaluate(c);
      c.dispose();
    }, { reps: 3 });
    row[`${backend} GFLOPS`] = (flops / ms / 1e6).toFixed(2);
    row[`${backend} / JS`] = (baseMs / ms).toFixed(2);
  }
  rows.push(row);
}
report('matmul f32 (best of runs after warm-up; ratio = backend speed / plain JS speed)', rows, {
  node: process.version,
  cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}`,
});
process.exit(0);
