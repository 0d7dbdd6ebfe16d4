/**
 * The hand-tuned CPU paths and evaluator fusion, checked against the gpu.js kernels they replace (fast
 * paths off) and the naive float64 oracle: WebAssembly SIMD matmul (every operand layout, slab and
 * edge tile, batch broadcasting, thread splits), SIMD / JS elementwise programs (special values,
 * broadcast and strided inputs), and fused groups (chains, diamonds, values also needed outside).
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import type { BackendName, Tensor } from '../src/index.js';
import * as N from './naive.js';
import { matmulTuning } from '../src/backends/cpu/matmul.js';
import { mulberry32 as rng } from '../src/random.js';

const AVAILABLE = new Set(await T.listBackends());
const CPU_BACKENDS = (['webasm', 'threads', 'cpu'] as BackendName[]).filter((b) => AVAILABLE.has(b));

const randoms = (n: number, seed: number, lo = -1, hi = 1) => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
};

afterEach(() => {
  T.setFastPaths(true);
  T.setFusion(true);
});

/** Values of `build()` with fast paths on and off (the gpu.js kernel), on `backend`. */
async function fastAndKernel(backend: BackendName, build: () => Tensor): Promise<[Float32Array, Float32Array]> {
  T.setBackend(backend);
  T.setFastPaths(true);
  const fast = (await build().data()) as Float32Array;
  T.setFastPaths(false);
  const kernel = (await build().data()) as Float32Array;
  T.setFastPaths(true);
  return [fast, kernel];
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: (w: number, i: number) => number, ctx: string): void {
  expect(got.length, ctx).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    const [g, w] = [got[i], want[i]];
    const ok = Number.isFinite(w) ? Math.abs(g - w) <= tol(w, i) : Object.is(g, w) || (Number.isNaN(g) && Number.isNaN(w));
    if (!ok) throw new Error(`${ctx}: at ${i} got ${g}, expected ${w}`);
  }
}

// ---------------------------------------------------------------------------------------------------

describe('matmul fast path (WebAssembly SIMD GEMM)', () => {
  /** [a-builder, b-builder, naive a, naive b] for a layout */
  type Operand = { t: () => Tensor; n: N.NDArray };
  function operand(shape: number[], layout: 'plain' | 'transposed' | 'rowstep' | 'colstep' | 'broadcast', seed: number): Operand {
    const r = shape.length;
    if (layout === 'transposed') {
      const st = [...shape.slice(0, -2), shape[r - 1], shape[r - 2]];
      const v = randoms(N.sizeOf(st), seed);
      const perm = [...shape.slice(0, -2).map((_, k) => k), r - 1, r - 2];
      return { t: () => T.permute(T.tensor(v, st), perm), n: N.permute(N.nd(v, st), perm) };
    }
    if (layout === 'rowstep' || layout === 'colstep') {
      const big = shape.slice();
      big[layout === 'rowstep' ? r - 2 : r - 1] *= 2;
      const v = randoms(N.sizeOf(big), seed);
      const steps = shape.map((_, k) => (k === (layout === 'rowstep' ? r - 2 : r - 1) ? 2 : 1));
      const starts = shape.map(() => undefined);
      return { t: () => T.slice(T.tensor(v, big), starts, starts, steps), n: N.slice(N.nd(v, big), starts, starts, steps) };
    }
    if (layout === 'broadcast') {
      const one = [1, ...shape.slice(1)];
      const v = randoms(N.sizeOf(one), seed);
      return { t: () => T.broadcastTo(T.tensor(v, one), shape), n: N.broadcastTo(N.nd(v, one), shape) };
    }
    const v = randoms(N.sizeOf(shape), seed);
    return { t: () => T.tensor(v, shape), n: N.nd(v, shape) };
  }

  const cases: [number[], number[], string, string][] = [
    [[1, 1], [1, 1], 'plain', 'plain'],
    [[5, 7], [7, 3], 'plain', 'plain'],
    [[7, 1], [1, 9], 'plain', 'plain'],
    [[13, 300], [300, 45], 'plain', 'plain'], // crosses a KC slab, edge tiles both ways
    [[13, 300], [300, 45], 'transposed', 'transposed'],
    [[64, 257], [257, 24], 'transposed', 'plain'],
    [[33, 70], [70, 17], 'plain', 'transposed'],
    [[9, 40], [40, 11], 'rowstep', 'colstep'],
    [[9, 40], [40, 11], 'colstep', 'rowstep'], // A with neither stride 1: gathered first
    [[96, 200], [200, 100], 'plain', 'plain'], // big enough to split over threads (columns)
    [[100, 513], [513, 8], 'plain', 'transposed'], // few column panels: split by rows
    [[3, 20, 30], [30, 10], 'plain', 'plain'], // batch broadcast on the right
    [[8, 64, 64], [8, 64, 64], 'plain', 'transposed'], // batch split over threads
    [[2, 1, 5, 6], [3, 6, 7], 'plain', 'plain'],
    [[4, 6, 5], [4, 5, 3], 'broadcast', 'broadcast'],
    // packed GEMM (gemm-packed.ts): M = 1 / N = 1 / K = 1, several KC slabs with a remainder, more
    // than one block of packed B panels, more than one MC chunk of A rows, A broadcast over a batch
    [[1, 37], [37, 20], 'plain', 'plain'],
    [[1, 300], [300, 70], 'transposed', 'transposed'],
    [[20, 37], [37, 1], 'plain', 'plain'],
    [[23, 1], [1, 150], 'transposed', 'plain'],
    [[6, 600], [600, 150], 'plain', 'plain'],
    [[613, 20], [20, 9], 'plain', 'plain'],
    [[1207, 33], [33, 70], 'transposed', 'plain'],
    [[130, 70], [3, 70, 83], 'plain', 'transposed'],
    [[2, 3, 9, 14], [3, 14, 5], 'colstep', 'rowstep'],
  ];

  afterEach(() => {
    matmulTuning.inPlace = undefined;
  });

  // each case on both GEMMs: A packed (gemm-packed.ts) and A read in place (gemm.ts's drivers; single
  // items with a unit stride in A only — the others pack whatever the setting)
  for (const backend of CPU_BACKENDS.filter((b) => b !== 'cpu')) {
    for (const inPlace of [false, true]) {
      for (const [sa, sb, la, lb] of cases) {
        it(`${backend}, A ${inPlace ? 'in place' : 'packed'}: [${sa}] (${la}) @ [${sb}] (${lb})`, async () => {
          const a = operand(sa, la as 'plain', 1);
          const b = operand(sb, lb as 'plain', 2);
          const ref = N.matmul(a.n, b.n);
          const bound = N.matmul(N.unary('abs', a.n), N.unary('abs', b.n)).data;
          const tol = (_w: number, i: number) => 1e-5 + 3e-6 * bound[i];
          matmulTuning.inPlace = inPlace;
          const [fast, kernel] = await fastAndKernel(backend, () => T.matmul(a.t(), b.t()));
          expectClose(fast, ref.data, tol, 'fast vs float64');
          expectClose(kernel, ref.data, tol, 'gpu.js kernel vs float64');
        });
      }
    }
  }

  /** A @ B ([M, K] or a transposed [K, M] A, [K, N] B) on threads and on webasm: the same bits. */
  async function threadsMatchWebasm(cases: [number, number, number, boolean][]): Promise<void> {
    for (const [M, K, Nn, transposeA] of cases) {
      const a = randoms(M * K, M + K);
      const b = randoms(K * Nn, Nn);
      const run = async (backend: BackendName) => {
        T.setBackend(backend);
        const A = transposeA ? T.transpose(T.tensor(a, [K, M])) : T.tensor(a, [M, K]);
        return Array.from(await T.matmul(A, T.tensor(b, [K, Nn])).data());
      };
      expect(await run('threads')).toEqual(await run('webasm'));
    }
  }

  it.skipIf(!AVAILABLE.has('threads') || !AVAILABLE.has('webasm'))('A read in place: threads and webasm bit-identical (column units, edge tiles, several slabs, both A layouts)', async () => {
    matmulTuning.inPlace = true;
    await threadsMatchWebasm([
      [512, 300, 64, false],
      [301, 520, 70, true],
      [130, 64, 250, false],
    ]);
  });

  it.skipIf(!AVAILABLE.has('threads') || !AVAILABLE.has('webasm'))('threads and webasm give bit-identical results', async () => {
    const a = randoms(150 * 260, 3);
    const b = randoms(260 * 90, 4);
    const run = async (backend: BackendName) => {
      T.setBackend(backend);
      return Array.from(await T.matmul(T.tensor(a, [150, 260]), T.tensor(b, [260, 90])).data());
    };
    expect(await run('threads')).toEqual(await run('webasm'));
  });

  it.skipIf(!AVAILABLE.has('threads') || !AVAILABLE.has('webasm'))('threads and webasm give bit-identical results (row and column units, edge tiles, several slabs)', async () => {
    for (const [M, K, Nn] of [
      [700, 300, 130],
      [37, 530, 1000],
      [1300, 400, 10],
    ]) {
      const a = randoms(M * K, M);
      const b = randoms(K * Nn, Nn);
      const run = async (backend: BackendName) => {
        T.setBackend(backend);
        return Array.from(await T.matmul(T.tensor(a, [M, K]), T.transpose(T.tensor(b, [Nn, K]))).data());
      };
      expect(await run('threads')).toEqual(await run('webasm'));
    }
  });

  it.skipIf(!AVAILABLE.has('threads') || !AVAILABLE.has('webasm'))('small products split as row units that pack their own A (gemm_pr): bit-identical to one thread', async () => {
    await threadsMatchWebasm([
      [512, 64, 64, false],
      [333, 64, 64, true],
      [512, 256, 16, true],
      [97, 130, 170, false],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------

const SPECIALS = [0, -0, 1e-40, -1e-40, 1e-30, -1e-30, 0.5, -0.5, 1, -1, 10, -10, 20, -20, 88, 88.7, 89, 100, -87, -90, -104, -200, 1e30, -1e30, 3e38, -3e38, Infinity, -Infinity, NaN];

describe('elementwise fast paths (SIMD and JS programs)', () => {
  const UNARY: [string, (x: Tensor) => Tensor, number, number][] = [
    // op, fn, lo, hi of the random part
    ['exp', T.exp, -90, 90],
    ['log', T.log, 1e-6, 1e6],
    ['tanh', T.tanh, -12, 12],
    ['sigmoid', T.sigmoid, -50, 50],
    ['erf', T.erf, -5, 5],
    ['sqrt', T.sqrt, 0, 1e4],
    ['rsqrt', T.rsqrt, 1e-3, 1e4],
    ['reciprocal', T.reciprocal, -10, 10],
    ['abs', T.abs, -10, 10],
    ['neg', T.neg, -10, 10],
    ['sin', T.sin, -10, 10],
    ['cos', T.cos, -10, 10],
    ['geluTanh', T.geluTanh, -12, 12],
    ['geluTanhGrad', (x: Tensor) => T.geluTanhGrad(x, T.sin(x)), -12, 12],
  ];
  for (const backend of CPU_BACKENDS) {
    for (const [name, fn, lo, hi] of UNARY) {
      for (const n of [37, 5000]) {
        it(`${backend}: ${name} on ${n} values with specials matches the gpu.js cpu kernel`, async () => {
          const v = randoms(n, 7, lo, hi);
          SPECIALS.forEach((s, k) => (v[(k * 7) % n] = s));
          T.setBackend(backend);
          const got = await fn(T.tensor(v, [n])).data();
          // the gpu.js cpu kernel computes in float64 JS Math: the accurate baseline
          T.setBackend('cpu');
          T.setFastPaths(false);
          const want = await fn(T.tensor(v, [n])).data();
          T.setFastPaths(true);
          const rel = name === 'erf' ? 0 : 4e-6;
          expectClose(got, want, (w) => 2e-7 + rel * Math.abs(w) + (name === 'erf' ? 1e-6 : 0), `${name} ${backend}`);
        });
      }
    }

    it(`${backend}: binary ops, where and cast with broadcast, strided and scalar operands match the gpu.js kernel exactly`, async () => {
      const a = randoms(64 * 70, 11, -3, 3);
      const b = randoms(70, 12, -3, 3);
      const c = randoms(64, 13, -1, 1);
      const cases: [string, () => Tensor][] = [
        ['add bias', () => T.add(T.tensor(a, [64, 70]), T.tensor(b, [70]))],
        ['mul row', () => T.mul(T.tensor(a, [64, 70]), T.tensor(c, [64, 1]))],
        ['sub transposed', () => T.sub(T.transpose(T.tensor(a, [70, 64])), T.tensor(b, [70]))],
        ['div scalar', () => T.div(T.tensor(a, [64, 70]), 3.7)],
        ['maximum stepped', () => T.maximum(T.slice(T.tensor(a, [64, 70]), [undefined, undefined], [undefined, undefined], [2, -1]), T.tensor(b.subarray(0, 70), [70]))],
        ['greater', () => T.greater(T.tensor(a, [64, 70]), T.tensor(b, [70]))],
        ['where', () => T.where(T.greater(T.tensor(c, [64, 1]), 0), T.tensor(a, [64, 70]), -1)],
        ['cast int', () => T.cast(T.mul(T.tensor(a, [64, 70]), 10), 'int32')],
        ['pow', () => T.pow(T.abs(T.tensor(a, [64, 70])), T.tensor(b, [70]))],
      ];
      for (const [name, build] of cases) {
        T.setFusion(false); // one kernel per op: the SIMD path and the gpu.js kernel compute the same float32 ops
        const [fast, kernel] = await fastAndKernel(backend, build);
        expectClose(fast, kernel, (w) => (name === 'pow' ? 1e-6 + 1e-5 * Math.abs(w) : 0), `${name} ${backend}`);
      }
    });
  }
  it.skipIf(!AVAILABLE.has('threads') || !AVAILABLE.has('webasm'))('threads: large elementwise programs split over the workers give the webasm values', async () => {
    const a = randoms(300 * 700, 51, -5, 5);
    const b = randoms(700, 52);
    const c = randoms(300, 53);
    const build = (): Tensor[] => {
      const x = T.tensor(a, [300, 700]);
      return [
        T.add(T.mul(T.exp(x), T.tensor(b, [700])), 1), // rows split
        T.tanh(T.reshape(x, [-1])), // one long row: columns split
        T.sub(T.transpose(T.tensor(a, [700, 300])), T.tensor(b, [700])), // gathered input
        T.log(T.abs(T.add(T.reshape(x, [300, 7, 100]), T.tensor(c, [300, 1, 1])))), // lead dims
      ];
    };
    const run = async (backend: BackendName) => {
      T.setBackend(backend);
      const outs = build();
      await T.evaluate(...outs);
      return Promise.all(outs.map(async (o) => Array.from(await o.data())));
    };
    const [threads, single] = [await run('threads'), await run('webasm')];
    threads.forEach((t, k) => expect(t, `case ${k}`).toEqual(single[k]));
  });
});

// ---------------------------------------------------------------------------------------------------

describe('evaluator fusion', () => {
  const geluNew = (x: Tensor) => T.mul(T.mul(x, 0.5), T.add(T.tanh(T.mul(T.add(x, T.mul(T.mul(T.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI))), 1));
  const x = randoms(64 * 300, 21, -4, 4);
  const naiveGelu = N.map(N.nd(x, [64, 300]), (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));

  async function launches(fn: () => Promise<unknown>): Promise<number> {
    const k0 = T.kernelStats.launches;
    await fn();
    return T.kernelStats.launches - k0;
  }

  const FUSING = [...CPU_BACKENDS, ...(AVAILABLE.has('headlessgl') ? (['headlessgl'] as BackendName[]) : [])];
  for (const backend of FUSING) {
    for (const fast of [true, false]) {
      it(`${backend}${fast ? '' : ' (gpu.js kernels)'}: gelu_new is one kernel and equals the unfused graph`, async () => {
        T.setBackend(backend);
        T.setFastPaths(fast);
        T.setFusion(false);
        let unfused: Float32Array | undefined;
        const nUnfused = await launches(async () => (unfused = (await geluNew(T.tensor(x, [64, 300])).data()) as Float32Array));
        T.setFusion(true);
        let fused: Float32Array | undefined;
        const nFused = await launches(async () => (fused = (await geluNew(T.tensor(x, [64, 300])).data()) as Float32Array));
        expect(nUnfused).toBe(9);
        expect(nFused).toBe(1);
        const tol = backend === 'headlessgl' ? 2e-4 : 2e-6;
        expectClose(fused!, naiveGelu.data, (w) => tol + tol * Math.abs(w), 'fused vs float64');
        expectClose(unfused!, naiveGelu.data, (w) => tol + tol * Math.abs(w), 'unfused vs float64');
      });
    }

    it(`${backend}: diamonds, broadcast and strided externals, values needed outside the group`, async () => {
      T.setBackend(backend);
      const a = randoms(6 * 5, 31, -2, 2);
      const bias = randoms(5, 32);
      const xt = T.transpose(T.tensor(randoms(5 * 6, 33), [5, 6])); // [6, 5] strided
      const na = N.nd(a, [6, 5]);
      const nb = N.nd(bias, [5]);
      const nxt = N.permute(N.nd(randoms(5 * 6, 33), [5, 6]), [1, 0]);
      // e = exp(a) used twice (diamond), bias broadcast, a strided operand
      const e = T.exp(T.tensor(a, [6, 5]));
      const y = T.sub(T.add(T.mul(e, e), T.mul(e, T.tensor(bias, [5]))), xt);
      const ne = N.unary('exp', na);
      const ny = N.zipWith(N.zipWith(N.zipWith(ne, ne, (p, q) => p * q), N.zipWith(ne, N.broadcastTo(nb, [6, 5]), (p, q) => p * q), (p, q) => p + q), nxt, (p, q) => p - q);
      const n = await launches(() => y.data());
      expect(n).toBe(1);
      expectClose(await y.data(), ny.data, (w) => 1e-4 + 1e-5 * Math.abs(w), 'diamond');
      // a value also consumed by a reduction is stored once and read by both
      const h = T.mul(T.tensor(a, [6, 5]), 2);
      const z = T.add(h, 1);
      const s = T.sum(h, 1);
      await T.evaluate(z, s);
      expectClose(await z.data(), na.data.map((v) => 2 * v + 1), () => 1e-6, 'z');
      expectClose(await s.data(), N.sum(N.map(na, (v) => 2 * v), 1).data, () => 1e-5, 's');
      // an intermediate that is asked for is stored; its consumer still fuses with the rest
      const u = T.exp(T.tensor(a, [6, 5]));
      const w = T.neg(T.add(u, 1));
      await T.evaluate(u, w);
      expectClose(await u.data(), ne.data, (v) => 1e-6 * Math.abs(v) + 1e-7, 'u');
      expectClose(await w.data(), ne.data.map((v) => -(v + 1)), (v) => 1e-6 * Math.abs(v) + 1e-6, 'w');
    });

    // [7, 300]: the JavaScript loop; [7, 10000]: the SIMD kernel, split over the threads on `threads`
    for (const cols of [300, 10000]) {
      it(`${backend}: a requested value that a later group reads is that group's extra output (AdamW's moments: one kernel), [7, ${cols}]`, async () => {
        T.setBackend(backend);
        const [g, m0, v0, p0] = [41, 42, 43, 44].map((seed) => randoms(7 * cols, seed, -1, 1));
        const [ng, nm0, nv0, np0] = [g, m0, v0, p0].map((d) => N.nd(d, [7, cols]));
        const nv0abs = N.map(nv0, Math.abs);
        const update = (readFirst?: (m: Tensor) => Tensor) => {
          const [tg, tm0, tv0, tp0] = [g, m0, v0, p0].map((d) => T.tensor(d, [7, cols]));
          const m = T.add(T.mul(tm0, 0.9), T.mul(tg, 0.1));
          const first = readFirst?.(m);
          const v = T.add(T.mul(T.abs(tv0), 0.999), T.mul(T.mul(tg, tg), 0.001));
          const p = T.sub(T.mul(tp0, 0.99), T.mul(T.div(m, T.add(T.sqrt(v), 1e-8)), 0.01));
          return { m, v, p, first, views: [T.reshape(T.slice(m, [0, 0], [2, cols]), [2 * cols]), T.slice(v, [3])] };
        };
        const nm = N.zipWith(N.map(nm0, (x) => 0.9 * x), N.map(ng, (x) => 0.1 * x), (a, b) => a + b);
        const nv = N.zipWith(N.map(nv0abs, (x) => 0.999 * x), N.map(ng, (x) => 0.001 * x * x), (a, b) => a + b);
        const np = N.zipWith(N.map(np0, (x) => 0.99 * x), N.zipWith(nm, nv, (a, b) => (0.01 * a) / (Math.sqrt(b) + 1e-8)), (a, b) => a - b);
        const tol = (w: number) => 1e-5 + 1e-5 * Math.abs(w);
        for (const fast of backend === 'cpu' ? [true, false] : [true]) {
          T.setFastPaths(fast);
          const { m, v, p, views } = update();
          const before = T.liveStorageCount();
          // m and v are asked for, read by p's group and (later) by views of them: one kernel writes all three
          // (without the fast paths, the gpu.js kernels compute them one by one into the same storage; GPU
          // backends keep three groups)
          const multi = T.getBackend().multiOutputGroups === true;
          expect(await launches(() => T.evaluate(m, v, p, ...views))).toBe(multi && fast ? 1 : 3);
          expect(T.liveStorageCount() - before).toBe(multi ? 1 : 3); // one storage holds m, v and p (the views share it)
          expectClose(await p.data(), np.data, tol, 'p');
          expectClose(await m.data(), nm.data, tol, 'm');
          expectClose(await v.data(), nv.data, tol, 'v');
          expectClose(await views[0].data(), nm.data.slice(0, 2 * cols), tol, 'view of m');
          expectClose(await views[1].data(), nv.data.slice(3 * cols), tol, 'view of v');
          for (const t of [m, v, p, ...views]) t.dispose();
          expect(T.liveStorageCount()).toBe(before); // the shared storage went with the last of them
        }
        T.setFastPaths(true);
        // a value another kernel reads before the group (a reduction, scheduled first) stays its own group's
        // root: as many kernels as without multi-output groups (m; the sum; p with v, which is not asked for)
        const backendNow = T.getBackend() as { multiOutputGroups?: boolean };
        const multi = backendNow.multiOutputGroups === true;
        const readFirst = async (allow: boolean) => {
          Object.defineProperty(backendNow, 'multiOutputGroups', { value: allow && multi, configurable: true, writable: true });
          try {
            const { m, p, first } = update((mm) => T.sum(mm));
            const n = await launches(() => T.evaluate(first!, m, p));
            expectClose(await p.data(), np.data, tol, 'p, m read first');
            expectClose(await first!.data(), [nm.data.reduce((a, b) => a + b, 0)], (w) => 1e-4 * Math.abs(w), 'the sum of m');
            return n;
          } finally {
            Object.defineProperty(backendNow, 'multiOutputGroups', { value: multi, configurable: true, writable: true });
          }
        };
        expect(await readFirst(true)).toBe(await readFirst(false));
      });
    }

    it(`${backend}: a fused group stores only its root; groups stay within 12 inputs`, async () => {
      T.setBackend(backend);
      const x0 = T.ones([8, 8]);
      const before = T.liveStorageCount();
      let y: Tensor = x0;
      for (let i = 0; i < 20; i++) y = T.add(T.mul(y, 0.5), 1);
      // 40 ops over 41 inputs (x and the JS numbers): groups are capped at 12 inputs (GL texture units)
      const n = await launches(() => T.evaluate(y));
      expect(n).toBe(4);
      expect(T.liveStorageCount() - before).toBe(1);
      expect((await y.data())[0]).toBeCloseTo(2 - 2 ** -20, 5);
      // and a short chain is one kernel
      const z = T.add(T.mul(T.exp(x0), 0.5), 1);
      expect(await launches(() => T.evaluate(z))).toBe(1);
      y.dispose();
    });
  }
});

// ---------------------------------------------------------------------------------------------------

describe('fused attention fast path (WebAssembly SIMD, blocks of query rows)', () => {
  const cases: [string, number[], number, number, number, { causal?: boolean; window?: number; scale?: number }][] = [
    // name, [B, H], Tq, Tk, D (= Dv), options
    ['causal, several row blocks', [1, 2], 150, 150, 32, {}],
    ['causal with a KV prefix (Tk > Tq)', [2, 1], 70, 100, 16, { scale: 1 }],
    ['sliding window', [1, 3], 130, 130, 8, { window: 17 }],
    ['no mask', [2, 2], 40, 90, 24, { causal: false }],
  ];
  for (const backend of CPU_BACKENDS.filter((b) => b !== 'cpu')) {
    for (const [name, bh, tq, tk, d, opts] of cases) {
      it(`${backend}: ${name} — forward and gradient equal the gpu.js kernels`, async () => {
        const q = randoms(bh[0] * bh[1] * tq * d, 41);
        const k = randoms(bh[0] * bh[1] * tk * d, 42);
        const v = randoms(bh[0] * bh[1] * tk * d, 43);
        const g = randoms(bh[0] * bh[1] * tq * (d + 1), 44);
        const run = () => {
          const out = T.fusedAttention(T.tensor(q, [...bh, tq, d]), T.tensor(k, [...bh, tk, d]), T.tensor(v, [...bh, tk, d]), opts);
          const node = out.inputs[0];
          const grads = T.PRIMITIVES.get('attention')!.vjp!(T.tensor(g, [...bh, tq, d + 1]), node, node.inputs) as Tensor[];
          return T.concat([T.reshape(node, [-1]), ...grads.slice(0, 3).map((x) => T.reshape(x, [-1]))], 0);
        };
        const [fast, kernel] = await fastAndKernel(backend, run);
        expectClose(fast, kernel, (w) => 2e-5 + 2e-5 * Math.abs(w), `${name} ${backend}`);
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------------

describe('fused softmax cross-entropy fast paths (WebAssembly SIMD on webasm / threads; JavaScript on cpu and for strided logits)', () => {
  /** [N, C] logits with special rows: far spread (a second pass), non-finite values, ignored / out-of-range labels. */
  function inputs(n: number, c: number, seed: number, special: boolean): [Float32Array, Int32Array] {
    const x = randoms(n * c, seed, -4, 4);
    const r = rng(seed + 1);
    const labels = Int32Array.from({ length: n }, () => (r() < 0.2 ? -100 : r() < 0.05 ? c + 3 : Math.floor(r() * c)));
    if (special && n >= 8 && c >= 3) {
      x[0] = -500; // first value far below the max: shifted by the max in a second pass
      x[c] = 300; // far above the rest: the rest underflow to 0
      x[2 * c + 1] = NaN; // NaN → NaN loss and gradient row
      x[3 * c] = Infinity;
      x.fill(-Infinity, 4 * c, 5 * c); // all −∞ → NaN
      x[5 * c] = -Infinity; // starts with −∞, the rest finite
      x[6 * c + 1] = -Infinity;
      labels[6] = 1; // the label's logit is −∞: loss +∞, gradient NaN
      x.fill(1e4, 7 * c, 8 * c);
      x[7 * c + 2] = 1e4 - 3;
      for (let i = 0; i < 8; i++) labels[i] = i === 6 ? 1 : i % c;
    }
    return [x, labels];
  }
  const cases: [string, number, number, boolean, boolean][] = [
    // name, N, C, special rows, logits as a transposed view
    ['the benchmark shape (rows split over threads)', 512, 512, false, false],
    ['special values', 16, 37, true, false],
    ['a transposed (strided) view: the JavaScript path everywhere', 33, 70, true, true],
    ['one class', 5, 1, false, false],
  ];
  for (const backend of CPU_BACKENDS) {
    for (const [name, n, c, special, transposed] of cases) {
      it(`${backend}: ${name} — forward and gradient equal the gpu.js kernels`, async () => {
        const [xv, lv] = inputs(n, c, 7 + n, special);
        const g = randoms(n, 99);
        const run = () => {
          const x = transposed ? T.transpose(T.tensor(N.permute(N.nd(xv, [n, c]), [1, 0]).data.map(Math.fround), [c, n])) : T.tensor(xv, [n, c]);
          const out = T.softmaxCrossEntropy(x, T.tensor(lv, [n]));
          const [dx] = T.PRIMITIVES.get('softmaxCrossEntropy')!.vjp!(T.tensor(g, [n]), out, out.inputs) as Tensor[];
          return T.concat([out, T.reshape(dx, [-1])], 0);
        };
        const [fast, kernel] = await fastAndKernel(backend, run);
        // a float32 kernel (webasm, threads) rounds x − x[label] and the stored loss: a relative error in
        // the probabilities of a few float32 ulps of the row's loss
        const lossUlps = (i: number) => (i < n ? 0 : 2.4e-7 * Math.abs(kernel[Math.floor((i - n) / c)]));
        expectClose(fast, kernel, (w, i) => 1e-6 + (2e-6 + lossUlps(i)) * Math.abs(w), `${name} ${backend}`);
        if (special) {
          expect(Array.from(fast.subarray(0, 8)).map((v) => (Number.isNaN(v) ? 'NaN' : Number.isFinite(v) ? 'finite' : v))).toEqual(['finite', 'finite', 'NaN', 'NaN', 'NaN', 'finite', Infinity, 'finite']);
        }
      });
    }
  }
});
