/**
 * Ops over arrays outside wasm memory (above the heap's per-array limit, 8 M floats) run in chunks of
 * `scratchChunk.bytes` of scratch: the WebAssembly memory grows to the largest op's scratch and never
 * shrinks (a paper-scale optimizer update copied 2 GiB into it). Each path gives the same bits chunked
 * as whole, matches an independent float64 computation, and reserves about a chunk of scratch, not the op's size.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import type { BackendName } from '../src/index.js';
import { scratchChunk } from '../src/backends/cpu/buffers.js';
import { existingRuntime } from '../src/backends/cpu/runtime.js';

const AVAILABLE = new Set(await T.listBackends());
const BACKENDS = (['webasm', 'threads'] as BackendName[]).filter((b) => AVAILABLE.has(b));
const DEFAULT_CHUNK = scratchChunk.bytes;
afterEach(() => void (scratchChunk.bytes = DEFAULT_CHUNK));

/** Past the heap's 8 M-float limit: a user array this long is never moved into wasm memory. */
const BIG = 8_450_000;
const values = (n: number, k: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.0137 + k) * 2 + Math.cos(i * 0.71 * k));

/**
 * Run `build` and read its outputs with scratch chunks of `bytes`; also the most heap bytes the ops reserved
 * above what was live before, and how many chunks gave their scratch back (`Runtime.release`).
 */
async function measure(bytes: number, build: () => T.Tensor[]): Promise<{ out: Float32Array[]; reserved: number; releases: number }> {
  scratchChunk.bytes = bytes;
  await T.evaluate(T.add(T.tensor([1, 2], [2]), 1)); // the runtime exists
  const rt = existingRuntime()!;
  const heap = rt.heap;
  const release = rt.release.bind(rt);
  let releases = 0;
  rt.release = (m) => (releases++, release(m));
  const before = heap.liveBytes;
  let peak = before;
  const alloc = heap.alloc.bind(heap);
  heap.alloc = (b: number) => {
    const at = alloc(b);
    peak = Math.max(peak, heap.liveBytes);
    return at;
  };
  try {
    const ts = build();
    await T.evaluate(...ts);
    const out = await Promise.all(ts.map(async (t) => (await t.data()) as Float32Array));
    ts.forEach((t) => t.dispose());
    return { out, reserved: peak - before, releases };
  } finally {
    heap.alloc = alloc;
    rt.release = release;
  }
}

const MiB = 2 ** 20;
const same = (a: Float32Array[], b: Float32Array[]): void => a.forEach((x, k) => expect(Buffer.from(x.buffer).equals(Buffer.from(b[k].buffer))).toBe(true));

describe.each(BACKENDS)('scratch chunks on %s', (backend) => {
  it('an AdamW-shaped update with a transposed 34 MB gradient (four inputs, three outputs) runs in chunks: same bits, a few MiB of scratch instead of ~200 MB', async () => {
    T.setBackend(backend);
    // transposed views: not the contiguous runs elementwise-stream.ts streams, so the nest is cut into pieces
    const [R, C] = [2_000, 4_225];
    const [p, m, v, g] = [0, 1, 2, 3].map((k) => values(R * C, k + 1));
    v.forEach((x, i) => (v[i] = x * x)); // a second moment is not negative
    const build = (): T.Tensor[] => {
      // p, m, v contiguous [C, R] (what an optimizer's state is), g a transposed view (a weight gradient made as (xᵀ·dY)ᵀ)
      const [pt, mt, vt] = [p, m, v].map((a) => T.tensor(a, [C, R]));
      const gt = T.transpose(T.tensor(g, [R, C]));
      const m1 = T.add(T.mul(mt, 0.9), T.mul(gt, 0.1));
      const v1 = T.add(T.mul(vt, 0.999), T.mul(T.mul(gt, gt), 0.001));
      return [T.sub(T.mul(pt, 0.999), T.mul(T.div(m1, T.add(T.sqrt(v1), 1e-8)), 0.01)), m1, v1];
    };
    const chunked = await measure(MiB, build);
    const whole = await measure(Infinity, build);
    same(chunked.out, whole.out);
    expect(chunked.reserved).toBeLessThan(8 * MiB);
    expect(whole.reserved).toBeGreaterThan(150 * MiB); // what the chunks save
    for (let i = 0; i < R * C; i += 99_991) {
      const o = (i % C) * R + Math.floor(i / C); // output [C, R] element of g's element i of [R, C]
      const m1 = 0.9 * m[o] + 0.1 * g[i];
      const v1 = 0.999 * v[o] + 0.001 * g[i] * g[i];
      expect(chunked.out[1][o]).toBeCloseTo(m1, 5);
      expect(chunked.out[2][o]).toBeCloseTo(v1, 5);
      expect(chunked.out[0][o]).toBeCloseTo(0.999 * p[o] - (0.01 * m1) / (Math.sqrt(v1) + 1e-8), 4);
    }
  }, 60_000);

  it("an LM head's three products with a [16,500, 512] weight run in chunks of rows or columns: same bits as whole", async () => {
    T.setBackend(backend);
    const [V, D, M] = [16_500, 512, 64];
    const w = values(V * D, 5);
    const x = values(M * D, 6);
    const dy = values(M * V, 7);
    const build = (): T.Tensor[] => {
      const [wt, xt, dyt] = [T.tensor(w, [V, D]), T.tensor(x, [M, D]), T.tensor(dy, [M, V])];
      return [T.matmul(xt, T.transpose(wt)), T.matmul(dyt, wt), T.matmul(T.transpose(dyt), xt)]; // logits, dX, dW
    };
    const chunked = await measure(MiB, build);
    const whole = await measure(Infinity, build);
    same(chunked.out, whole.out);
    expect(chunked.releases).toBeGreaterThan(30); // the three products ran in chunks
    expect(whole.releases).toBe(0);
    const dot = (f: (k: number) => number, n: number): number => Array.from({ length: n }, (_, k) => f(k)).reduce((s, t) => s + t, 0);
    for (const [i, j] of [[0, 0], [63, 16_499], [17, 8_191], [40, 511]]) {
      expect(chunked.out[0][i * V + j]).toBeCloseTo(dot((k) => x[i * D + k] * w[j * D + k], D), 2);
      expect(chunked.out[1][i * D + (j % D)]).toBeCloseTo(dot((k) => dy[i * V + k] * w[k * D + (j % D)], V), 1);
      expect(chunked.out[2][j * D + (i % D)]).toBeCloseTo(dot((k) => dy[k * V + j] * x[k * D + (i % D)], M), 2);
    }
  }, 60_000);

  it('softmax cross-entropy and its gradient over [512, 16,500] logits run a block of rows at a time, and a sum over them reads them in place: same bits as whole', async () => {
    T.setBackend(backend);
    const [N, C] = [512, 16_500];
    const logits = values(N * C, 8);
    const labels = Int32Array.from({ length: N }, (_, n) => (n % 7 === 3 ? -100 : (n * 7919) % C));
    const g = values(N, 9);
    const build = (): T.Tensor[] => {
      const [xt, lt, gt] = [T.tensor(logits, [N, C]), T.tensor(labels, [N]), T.tensor(g, [N])];
      return [T.softmaxCrossEntropy(xt, lt), T.softmaxCrossEntropyGrad(xt, lt, gt), T.sum(xt)];
    };
    const chunked = await measure(MiB, build);
    const whole = await measure(Infinity, build);
    same(chunked.out, whole.out);
    expect(chunked.reserved).toBeLessThan(8 * MiB);
    for (const n of [0, 3, 200, 511]) {
      const row = Array.from(logits.subarray(n * C, (n + 1) * C));
      const lse = Math.log(row.reduce((s, t) => s + Math.exp(t), 0));
      expect(chunked.out[0][n]).toBeCloseTo(labels[n] < 0 ? 0 : lse - row[labels[n]], 4);
      const j = labels[n] < 0 ? 5 : labels[n];
      expect(chunked.out[1][n * C + j]).toBeCloseTo(labels[n] < 0 ? 0 : g[n] * (Math.exp(row[j] - lse) - 1), 5);
    }
    expect(chunked.out[2][0]).toBeCloseTo(logits.reduce((s, t) => s + t, 0), 0);
  }, 60_000);
});
