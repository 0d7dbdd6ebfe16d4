// The WebAssembly SIMD f32 peak of this engine and CPU: f32x4.add on 6 and f32x4.mul on 6 other
// independent chains (no memory traffic), i.e. the mul and add ports both busy: the ceiling of any wasm
// GEMM kernel without relaxed-simd FMA (each mul or add of 4 lanes = 4 flops, as a GEMM's mul + add
// pair = 2 flops per lane). Chaining mul into add (acc·x + y) measures less (~47 vs ~57 GFLOPS here):
// the dependent pair's latency, not the ports, binds. The module is written out by hand so the figure
// does not depend on the library's own emitter.
import { Worker } from 'node:worker_threads';

const uleb = (n) => {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const vec = (bytes) => [...uleb(bytes.length), ...bytes];
const section = (id, bytes) => [id, ...vec(bytes)];
const f32x4 = (x) => [0xfd, 0x0c, ...Array.from({ length: 4 }, () => [...new Uint8Array(new Float32Array([x]).buffer)]).flat()];
const MUL = [0xfd, ...uleb(0xe6)];
const ADD = [0xfd, ...uleb(0xe4)];
const CHAINS = 12;

/** `peak(iters) -> f32`: per iteration, acc_i += y (i ≤ 6) and acc_i *= x (i > 6): 12 ops, 48 flops. */
function moduleBytes() {
  // locals: 0 = iters (param), 1..12 = acc, 13 = x, 14 = y
  const body = [];
  const get = (l) => body.push(0x20, ...uleb(l));
  const set = (l) => body.push(0x21, ...uleb(l));
  for (let i = 1; i <= CHAINS; i++) {
    body.push(...f32x4(1 + i / 64));
    set(i);
  }
  body.push(...f32x4(1)); // × 1: no overflow, no denormals
  set(13);
  body.push(...f32x4(0.001));
  set(14);
  body.push(0x03, 0x40); // loop
  for (let i = 1; i <= CHAINS; i++) {
    get(i);
    if (i <= CHAINS / 2) {
      get(14);
      body.push(...ADD);
    } else {
      get(13);
      body.push(...MUL);
    }
    set(i);
  }
  get(0);
  body.push(0x41, 0x01, 0x6b); // iters - 1
  body.push(0x22, 0x00); // tee iters
  body.push(0x0d, 0x00, 0x0b); // br_if 0, end loop
  get(1);
  for (let i = 2; i <= CHAINS; i++) {
    get(i);
    body.push(...ADD);
  }
  body.push(0xfd, 0x1f, 0x00, 0x0b); // f32x4.extract_lane 0, end
  const locals = [0x02, ...uleb(CHAINS), 0x7b, 0x02, 0x7b];
  const code = vec([...locals, ...body]);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x01, 0x60, 0x01, 0x7f, 0x01, 0x7d]),
    ...section(3, [0x01, 0x00]),
    ...section(7, [0x01, ...vec([...'peak'].map((c) => c.charCodeAt(0))), 0x00, 0x00]),
    ...section(10, [0x01, ...code]),
  ]);
}

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const peak = new WebAssembly.Instance(new WebAssembly.Module(workerData.bytes)).exports.peak;
peak(100000);
parentPort.on('message', (iters) => {
  const t0 = performance.now();
  peak(iters);
  parentPort.postMessage(performance.now() - t0);
});
`;

/** GFLOPS of the mul+add loop on `threads` threads at once (best of `rounds` runs of ~`ms` each). */
export async function simdPeak(threads = 1, { ms = 150, rounds = 3 } = {}) {
  const bytes = moduleBytes();
  const workers = Array.from({ length: threads }, () => new Worker(WORKER, { eval: true, workerData: { bytes } }));
  const run = (iters) => Promise.all(workers.map((w) => new Promise((res) => (w.once('message', res), w.postMessage(iters)))));
  let iters = 1e5;
  while (Math.max(...(await run(iters))) < ms / 4) iters *= 2;
  iters = Math.round((iters * ms) / Math.max(...(await run(iters))));
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const times = await run(iters);
    best = Math.max(best, times.reduce((s, t) => s + (iters * CHAINS * 4) / t / 1e6, 0));
  }
  await Promise.all(workers.map((w) => w.terminate()));
  return best;
}
