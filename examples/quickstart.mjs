#!/usr/bin/env node
// Quick start: a two-layer MLP forward pass and a softmax on every working backend, checked against
// each other. Run with `pnpm demo` (until the knowledge-transfer demo lands, this is the main job).
import {
  tensor, matmul, add, tanh, softmax, sum, argmax, randomNormal, prngKey, splitKey,
  listBackends, setBackend, evaluate, liveStorageCount,
} from '@llm-modules/tensor';

const [k1, k2, k3] = splitKey(prngKey(42), 3);
const x = randomNormal(k1, [4, 16]); //                    [B, D]
const w1 = randomNormal(k2, [16, 32], { std: 0.25 }); //   [D, H]
const w2 = randomNormal(k3, [32, 8], { std: 0.25 }); //    [H, C]

function mlp(input) {
  const h = tanh(matmul(input, w1)); //                    [B, H]
  return softmax(matmul(h, w2), -1); //                    [B, C]
}

const backends = await listBackends();
console.log(`backends working here: ${backends.join(', ')}`);
let reference;
for (const name of backends) {
  setBackend(name);
  const t0 = performance.now();
  const probs = mlp(x);
  const rowSums = sum(probs, -1);
  const classes = argmax(probs, -1);
  await evaluate(probs, rowSums, classes);
  const p = await probs.data();
  const ms = (performance.now() - t0).toFixed(1);
  if (!reference) reference = p;
  const maxDiff = p.reduce((m, v, i) => Math.max(m, Math.abs(v - reference[i])), 0);
  console.log(
    `${name.padEnd(10)} ${ms.padStart(7)} ms  classes=${Array.from(await classes.data()).join(',')}  ` +
      `row sums=${Array.from(await rowSums.data(), (v) => v.toFixed(5)).join(',')}  max |Δ| vs ${backends[0]}=${maxDiff.toExponential(1)}`,
  );
  if (maxDiff > 1e-4) {
    console.error(`error: backend ${name} disagrees with ${backends[0]} by ${maxDiff}`);
    process.exit(1);
  }
}
console.log(`live storages: ${liveStorageCount()} (the inputs and the last results)`);
console.log(await add(tensor([1, 2, 3]), 1).array());
process.exit(0);
