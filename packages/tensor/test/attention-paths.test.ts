/**
 * The two CPU fast paths of fused attention, each forced at shapes the other one would take, against a
 * float64 reference (the primitive `attention` → [O | logsumexp] and its gradient `attentionGrad`): the
 * small-shape kernels (ops/attention/wasm-small.ts; their backward with the P its forward kept, and
 * recomputing it) and the blocked ones (ops/attention/wasm.ts). Shapes: the
 * training model's [8, 4, 64, 16] as permuted views of [8, 64, 4, 16], T = 128 at several head dims,
 * sliding windows, a KV prefix (Tq < Tk, with keys no query sees), no mask with Tk < Tq, odd head dims
 * (the padded copies and cut tiles), a negative scale and a single query. fastpaths.test.ts and the
 * conformance suite check the path each shape takes by default.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import type { BackendName, Tensor } from '../src/index.js';
import { attentionTuning } from '../src/ops/attention/cpu.js';
import { keptBytes } from '../src/ops/attention/cpu-cache.js';

const AVAILABLE = new Set(await T.listBackends());
const MASK_VALUE = -3.4028234663852886e38;
const BACKENDS = (['webasm', 'threads'] as BackendName[]).filter((b) => AVAILABLE.has(b));

function randoms(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

interface Case {
  name: string;
  b: number;
  h: number;
  tq: number;
  tk: number;
  d: number;
  dv: number;
  causal: boolean;
  window: number;
  scale: number;
  /** q, k, v as [B, T, H, D] storage viewed as [B, H, T, D] (the model's layout), else contiguous */
  permuted: boolean;
  /** causal offset (default Tk − Tq) */
  offset?: number;
  /** per batch row, the run [ks, ke) of real keys (a padding key mask) */
  keys?: [number, number][];
  /** a masked key inside every row's run */
  hole?: number;
}

const base = { b: 1, h: 2, causal: true, window: 0, permuted: true };
const CASES: Case[] = [
  { ...base, name: 'training model [8, 4, 64, 16], scale 1', b: 8, h: 4, tq: 64, tk: 64, d: 16, dv: 16, scale: 1 },
  { ...base, name: 'T = 128, d = 32', tq: 128, tk: 128, d: 32, dv: 32, scale: 1 / Math.sqrt(32) },
  { ...base, name: 'T = 128, d = 64, Dv = 16', h: 1, tq: 128, tk: 128, d: 64, dv: 16, scale: 0.125 },
  { ...base, name: 'sliding window 17', tq: 100, tk: 100, d: 16, dv: 16, window: 17, scale: 0.25 },
  { ...base, name: 'KV prefix (Tq < Tk)', tq: 37, tk: 90, d: 16, dv: 8, scale: 0.3, permuted: false },
  { ...base, name: 'KV prefix with a window: keys no query sees', tq: 20, tk: 50, d: 8, dv: 16, window: 9, scale: 0.5 },
  { ...base, name: 'no mask, Tk < Tq', tq: 70, tk: 33, d: 24, dv: 24, causal: false, scale: 0.2 },
  { ...base, name: 'odd head dims, negative scale', tq: 45, tk: 45, d: 5, dv: 3, window: 6, scale: -0.7, permuted: false },
  { ...base, name: 'one query over 300 keys', h: 3, tq: 1, tk: 300, d: 16, dv: 16, scale: 0.25 },
  { ...base, name: 'T = 384 (the largest small-path shape)', h: 1, tq: 384, tk: 384, d: 32, dv: 32, scale: 0.18 },
  { ...base, name: 'T = 400, d = 20, Dv = 12 (blocked by shape, head dims not whole panels)', h: 1, tq: 400, tk: 400, d: 20, dv: 12, scale: 0.2 },
  { ...base, name: 'KV prefix over three K slabs (Tq = 130, Tk = 530)', tq: 130, tk: 530, d: 16, dv: 24, scale: 0.25, permuted: false },
  { ...base, name: 'T = 512, d = 64', h: 1, tq: 512, tk: 512, d: 64, dv: 64, scale: 0.125 },
  { ...base, name: 'right padding (a trainer batch)', b: 3, h: 2, tq: 40, tk: 40, d: 16, dv: 16, scale: 0.25, keys: [[0, 40], [0, 23], [0, 1]] },
  { ...base, name: 'left padding, decoding 2 queries after 20 cached keys', b: 2, tq: 2, tk: 22, d: 8, dv: 8, scale: 0.5, keys: [[0, 22], [6, 22]], permuted: false },
  { ...base, name: 'left padding: pad queries see no key (uniform rows)', b: 2, tq: 12, tk: 12, d: 8, dv: 8, scale: 0.5, keys: [[0, 12], [3, 12]] },
  { ...base, name: 'right padding past a window: the last queries see no key', b: 2, tq: 20, tk: 20, d: 8, dv: 8, window: 3, scale: 0.5, keys: [[0, 20], [0, 5]] },
  { ...base, name: 'blocked shape, left padding: 30 pad queries', h: 1, b: 2, tq: 400, tk: 400, d: 16, dv: 16, scale: 0.25, keys: [[0, 400], [30, 400]] },
  { ...base, name: 'a key mask with a hole (the gpu.js kernel)', b: 1, tq: 12, tk: 12, d: 8, dv: 8, scale: 0.5, keys: [[0, 12]], hole: 5 },
  { ...base, name: 'right padding, window 5 (GPT-Neo local)', b: 2, tq: 33, tk: 33, d: 16, dv: 16, window: 5, scale: 1, keys: [[0, 33], [0, 31]] },
  { ...base, name: 'static KV cache: offset 7, keys past Tq + offset unwritten', b: 2, tq: 3, tk: 64, d: 16, dv: 16, scale: 0.25, offset: 7, permuted: false, keys: [[0, 64], [2, 64]] },
  { ...base, name: 'cross-attention: non-causal, padded keys', b: 2, tq: 20, tk: 45, d: 16, dv: 16, causal: false, scale: 0.25, keys: [[0, 45], [0, 12]] },
  { ...base, name: 'blocked shape, right padding', h: 1, b: 2, tq: 420, tk: 420, d: 16, dv: 16, scale: 0.25, keys: [[0, 420], [0, 250]] },
  { ...base, name: 'blocked shape, left padding (10 cached keys) and a window', h: 1, b: 2, tq: 400, tk: 410, d: 16, dv: 16, window: 70, scale: 0.25, keys: [[0, 410], [5, 410]] },
];

/** The attention node of `out` rebuilt with `keep` (a forward built for differentiation keeps P). */
export function keeping(out: Tensor, keep: boolean): Tensor {
  const n = out.inputs[0];
  return T.node('attention', n.shape, 'float32', n.inputs, { ...n.attrs, keep });
}

/** float64 [O | L] per (batch·head, row) and the flat gradient [dq | dk | dv] for cotangent g */
function reference(c: Case, q: Float32Array, k: Float32Array, v: Float32Array, g: Float32Array) {
  const { tq, tk, d, dv, scale } = c;
  const nb = c.b * c.h;
  const off = c.causal ? (c.offset ?? tk - tq) : tk;
  const win = c.causal ? c.window : 0;
  // real keys of batch row n / H: [ks, ke)
  const real = (n: number, j: number) => !c.keys || (j >= c.keys[Math.floor(n / c.h)][0] && j < c.keys[Math.floor(n / c.h)][1] && j !== c.hole);
  const seen = (n: number, i: number, j: number) => j <= i + off && (win === 0 || j > i + off - win) && real(n, j);
  // element (b·H + h, t, x) of a [B, H, T, W] tensor stored permuted ([B, T, H, W]) or contiguously
  const get = (a: Float32Array, n: number, t: number, x: number, len: number, w: number) =>
    c.permuted ? a[(Math.floor(n / c.h) * len + t) * c.h * w + (n % c.h) * w + x] : a[(n * len + t) * w + x];
  const out = new Float64Array(nb * tq * (dv + 1));
  const grad = new Float64Array(nb * (tq * d + tk * d + tk * dv));
  const [gq, gk, gv] = [0, nb * tq * d, nb * (tq * d + tk * d)];
  for (let n = 0; n < nb; n++) {
    for (let i = 0; i < tq; i++) {
      const s = new Float64Array(tk);
      let m = -Infinity;
      for (let j = 0; j < tk; j++) {
        if (!seen(n, i, j)) continue;
        let dot = 0;
        for (let x = 0; x < d; x++) dot += get(q, n, i, x, tq, d) * get(k, n, j, x, tk, d);
        s[j] = scale * dot;
        m = Math.max(m, s[j]);
      }
      let l = 0;
      for (let j = 0; j < tk; j++) if (seen(n, i, j)) l += Math.exp(s[j] - m);
      const row = (n * tq + i) * (dv + 1);
      const empty = m === -Infinity; // sees no key: the composite's uniform row over every key
      out[row + dv] = empty ? MASK_VALUE : m + Math.log(l);
      const p = Array.from({ length: tk }, (_, j) => (empty ? 1 / tk : seen(n, i, j) ? Math.exp(s[j] - m) / l : 0));
      for (let x = 0; x < dv; x++) for (let j = 0; j < tk; j++) out[row + x] += p[j] * get(v, n, j, x, tk, dv);
      let delta = 0;
      for (let x = 0; x < dv; x++) delta += g[row + x] * out[row + x];
      for (let j = 0; j < tk; j++) {
        if (!p[j]) continue;
        let dp = 0;
        for (let x = 0; x < dv; x++) dp += g[row + x] * get(v, n, j, x, tk, dv);
        const ds = empty ? 0 : scale * p[j] * (dp - delta + g[row + dv]);
        for (let x = 0; x < d; x++) {
          grad[gq + (n * tq + i) * d + x] += ds * get(k, n, j, x, tk, d);
          grad[gk + (n * tk + j) * d + x] += ds * get(q, n, i, x, tq, d);
        }
        for (let x = 0; x < dv; x++) grad[gv + (n * tk + j) * dv + x] += p[j] * g[row + x];
      }
    }
  }
  return { out, grad };
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rel: number, ctx: string): void {
  expect(got.length, ctx).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= rel * (1 + Math.abs(want[i])))) throw new Error(`${ctx}: at ${i} got ${got[i]}, expected ${want[i]}`);
  }
}

/** [O | L] and [dq | dk | dv] of case c on the current backend */
async function run(c: Case, q: Float32Array, k: Float32Array, v: Float32Array, g: Float32Array): Promise<[Float32Array, Float32Array]> {
  const view = (a: Float32Array, t: number, w: number): Tensor =>
    c.permuted ? T.permute(T.tensor(a, [c.b, t, c.h, w]), [0, 2, 1, 3]) : T.tensor(a, [c.b, c.h, t, w]);
  const keyMask = c.keys ? T.tensor(Int32Array.from({ length: c.b * c.tk }, (_, x) => { const [s, e] = c.keys![Math.floor(x / c.tk)]; return +(x % c.tk >= s && x % c.tk < e && x % c.tk !== c.hole); }), [c.b, c.tk]) : null;
  const out = T.fusedAttention(view(q, c.tq, c.d), view(k, c.tk, c.d), view(v, c.tk, c.dv), { causal: c.causal, window: c.window, scale: c.scale, offset: c.offset, keyMask });
  const node = keeping(out, attentionTuning.keep);
  expect(node.op).toBe('attention');
  const grads = T.PRIMITIVES.get('attention')!.vjp!(T.tensor(g, [c.b, c.h, c.tq, c.dv + 1]), node, node.inputs) as Tensor[];
  const flat = T.concat(grads.slice(0, 3).map((x) => T.reshape(x, [-1])), 0);
  const [o, gr] = [(await node.data()) as Float32Array, (await flat.data()) as Float32Array];
  return [o, gr];
}

afterEach(() => {
  Object.assign(attentionTuning, { small: undefined, keep: true });
});

describe('fused attention: small-shape and blocked kernels against float64', () => {
  for (const c of CASES) {
    const seed = c.tq * 131 + c.tk * 7 + c.d;
    const q = randoms(c.b * c.h * c.tq * c.d, seed);
    const k = randoms(c.b * c.h * c.tk * c.d, seed + 1);
    const v = randoms(c.b * c.h * c.tk * c.dv, seed + 2);
    const g = randoms(c.b * c.h * c.tq * (c.dv + 1), seed + 3);
    let ref: ReturnType<typeof reference> | undefined;
    for (const backend of BACKENDS) {
      for (const [path, small, keep] of [
        ['small-shape kernels, P kept for the backward', true, true],
        ['small-shape kernels, P recomputed', true, false],
        ['blocked kernels, P kept for the backward', false, true],
        ['blocked kernels, P recomputed', false, false],
      ] as const) {
        it(`${backend}, ${path}: ${c.name}`, async () => {
          ref ??= reference(c, q, k, v, g);
          T.setBackend(backend);
          Object.assign(attentionTuning, { small, keep });
          const [o, gr] = await run(c, q, k, v, g);
          expectClose(o, ref.out, 2e-5, `forward ${c.name}`);
          expectClose(gr, ref.grad, 1e-4, `gradient ${c.name}`);
        });
      }
    }
  }

  it.skipIf(!BACKENDS.length)('a backward whose inputs are not its forward’s does not use the kept P', async () => {
    T.setBackend(BACKENDS[0]);
    attentionTuning.small = true;
    const [b, h, t, d] = [2, 2, 40, 16];
    const [q1, q2, k, v] = [1, 2, 3, 4].map((s) => T.tensor(randoms(b * h * t * d, s), [b, h, t, d]));
    const g = T.tensor(randoms(b * h * t * (d + 1), 5), [b, h, t, d + 1]);
    const grads = async (keep: boolean) => {
      attentionTuning.keep = keep;
      const node = keeping(T.fusedAttention(q1, k, v), true);
      const gs = T.PRIMITIVES.get('attention')!.vjp!(g, node, [q2, k, v]) as Tensor[];
      const bytes = keptBytes();
      await node.data(); // keeps P(q1): built with keep
      expect(keptBytes() > bytes).toBe(keep);
      return Array.from(await T.concat(gs.slice(0, 3).map((x) => T.reshape(x, [-1])), 0).data());
    };
    expect(await grads(true)).toEqual(await grads(false));
  });

  // The comparisons above pass on the gpu.js kernels too (a wasm module that fails to build falls back
  // to them silently): only the wasm fast paths keep P (forward) and free it (backward).
  it.skipIf(!BACKENDS.length)('the blocked kernels run in wasm and hand P from the forward to the backward', async () => {
    T.setBackend(BACKENDS[0]);
    Object.assign(attentionTuning, { small: false, keep: true });
    const c = { ...CASES[1], tq: 200, tk: 200 };
    const [q, k, v] = [1, 2, 3].map((s) => randoms(c.b * c.h * c.tq * c.d, s));
    const g = randoms(c.b * c.h * c.tq * (c.dv + 1), 4);
    const bytes = keptBytes();
    const out = T.fusedAttention(T.tensor(q, [c.b, c.h, c.tq, c.d]), T.tensor(k, [c.b, c.h, c.tk, c.d]), T.tensor(v, [c.b, c.h, c.tk, c.dv]), { scale: c.scale });
    const node = out.inputs[0];
    await node.data();
    expect(keptBytes()).toBe(bytes); // not built for differentiation: inference keeps nothing
    const again = keeping(T.fusedAttention(T.tensor(q, [c.b, c.h, c.tq, c.d]), T.tensor(k, [c.b, c.h, c.tk, c.d]), T.tensor(v, [c.b, c.h, c.tk, c.dv]), { scale: c.scale }), true);
    const grads = T.PRIMITIVES.get('attention')!.vjp!(T.tensor(g, [c.b, c.h, c.tq, c.dv + 1]), again, again.inputs) as Tensor[];
    await again.data();
    // causal triangle in blocks of 64 query rows: at least Σ rows·(visible keys) floats a head
    expect(keptBytes() - bytes).toBeGreaterThanOrEqual(4 * c.b * c.h * (64 * (64 + 128 + 192) + 8 * 200));
    let back: Tensor = grads[0];
    while (back.op !== 'attentionGrad') back = back.inputs[0];
    await back.data();
    expect(keptBytes()).toBe(bytes);
  });

  // only the wasm paths keep P: a padded case that kept it ran there, not on the gpu.js fallback
  for (const c of CASES.filter((x) => x.keys)) {
    const wasm = !c.hole;
    it.skipIf(!BACKENDS.length)(`${c.name}: ${wasm ? 'runs in wasm' : 'falls back to the gpu.js kernel'}`, async () => {
      T.setBackend(BACKENDS[0]);
      Object.assign(attentionTuning, { small: undefined, keep: true });
      const [q, k, v, g] = [1, 2, 3, 4].map((s) => randoms(c.b * c.h * Math.max(c.tq, c.tk) * (Math.max(c.d, c.dv) + 1), s));
      const bytes = keptBytes();
      const view = (a: Float32Array, t: number, w: number) => T.tensor(a.subarray(0, c.b * c.h * t * w), [c.b, c.h, t, w]);
      const keyMask = T.tensor(Int32Array.from({ length: c.b * c.tk }, (_, x) => +(x % c.tk >= c.keys![Math.floor(x / c.tk)][0] && x % c.tk < c.keys![Math.floor(x / c.tk)][1] && x % c.tk !== c.hole)), [c.b, c.tk]);
      const out = T.fusedAttention(view(q, c.tq, c.d), view(k, c.tk, c.d), view(v, c.tk, c.dv), { causal: c.causal, window: c.window, scale: c.scale, offset: c.offset, keyMask });
      const node = keeping(out, true);
      await node.data();
      expect(keptBytes() > bytes).toBe(wasm);
      void g;
    });
  }

  for (const small of [true, false]) {
    it.skipIf(BACKENDS.length < 2)(`threads and webasm give bit-identical results, ${small ? 'small-shape' : 'blocked'} kernels with P kept`, async () => {
      const c = CASES[0];
      const [q, k, v, g] = [1, 2, 3, 4].map((s) => randoms(c.b * c.h * c.tq * (c.d + 1), s));
      const args = [q.subarray(0, c.b * c.h * c.tq * c.d), k.subarray(0, c.b * c.h * c.tk * c.d), v.subarray(0, c.b * c.h * c.tk * c.dv), g] as const;
      const values: number[][] = [];
      for (const backend of BACKENDS) {
        T.setBackend(backend);
        Object.assign(attentionTuning, { small, keep: true });
        const [o, gr] = await run(c, ...args);
        values.push([...o, ...gr]);
      }
      expect(values[1]).toEqual(values[0]);
    });
  }
});
