/** Unit tests of the blocks against their textbook definitions (plain JS loops) and Hugging Face's semantics. */
import { beforeAll, describe, expect, it } from 'vitest';
import { concat, prngKey, randomNormal, setBackend, slice, tensor, type Tensor } from '@llm-modules/tensor';
import {
  activation,
  andMasks,
  applyRotary,
  causalMask,
  crossAttention,
  crossEntropy,
  embedding,
  gelu,
  geluNew,
  layerNorm,
  linear,
  rmsNorm,
  rotaryCosSin,
  rotaryInvFreq,
  rotateHalf,
  scaledDotProductAttention,
  silu,
  splitHeads,
  splitJointHeads,
  swiGLU,
} from '../src/index.js';

beforeAll(() => setBackend('cpu'));

const data = async (t: Tensor) => Array.from(await t.data());
const close = (a: number[], b: number[], tol = 1e-5) => {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => expect(Math.abs(v - b[i]), `index ${i}: ${v} vs ${b[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i]))));
};
const rnd = (seed: number, shape: number[]) => randomNormal(prngKey(seed), shape);

describe('linear, embedding, norms, activations', () => {
  it('linear is x·Wᵀ + b with W [out, in]; bias optional; leading dims kept', async () => {
    const x = tensor([[[1, 2, 3]], [[0, -1, 2]]]); // [2, 1, 3]
    const w = tensor([[1, 0, 0], [0, 1, 1]]); // [2, 3]
    expect(await linear(x, w, tensor([10, 20])).array()).toEqual([[[11, 25]], [[10, 21]]]);
    expect(await linear(x, w).array()).toEqual([[[1, 5]], [[0, 1]]]);
    expect(() => linear(x, tensor([[1, 2]]))).toThrow(/does not take inputs/);
  });

  it('embedding gathers rows by int32 ids', async () => {
    const table = tensor([[0, 1], [2, 3], [4, 5]]);
    expect(await embedding(table, tensor(new Int32Array([2, 0, 2]), [1, 3])).array()).toEqual([[[4, 5], [0, 1], [4, 5]]]);
    expect(() => embedding(table, tensor([1, 2]))).toThrow(/int32/);
  });

  it('LayerNorm and RMSNorm match their definitions (biased variance; float32 RMS)', async () => {
    const x = [0.5, -1, 2, 3.5, -0.25, 1];
    const [g, b] = [[1.1, 0.9, 1], [0.1, -0.2, 0.3]];
    const want: number[] = [];
    const wantRms: number[] = [];
    for (const row of [x.slice(0, 3), x.slice(3)]) {
      const mu = row.reduce((s, v) => s + v, 0) / 3;
      const variance = row.reduce((s, v) => s + (v - mu) ** 2, 0) / 3;
      row.forEach((v, i) => want.push(((v - mu) / Math.sqrt(variance + 1e-5)) * g[i] + b[i]));
      const ms = row.reduce((s, v) => s + v * v, 0) / 3;
      row.forEach((v, i) => wantRms.push(g[i] * (v / Math.sqrt(ms + 1e-6))));
    }
    const xt = tensor(x, [2, 3]);
    close(await data(layerNorm(xt, tensor(g), tensor(b))), want);
    close(await data(rmsNorm(xt, tensor(g))), wantRms);
  });

  it('gelu_new (tanh), exact gelu (erf) and silu match their formulas', async () => {
    const xs = [-4, -1.5, -0.3, 0, 0.2, 1, 2.5, 6];
    const erf = (z: number) => {
      // Abramowitz–Stegun 7.1.26 is too coarse; use a series (|z| ≤ 6/√2 here)
      let sum = 0;
      let term = z;
      for (let n = 0; n < 200; n++) {
        sum += term / (2 * n + 1);
        term *= (-z * z) / (n + 1);
      }
      return (2 / Math.sqrt(Math.PI)) * sum;
    };
    close(await data(geluNew(tensor(xs))), xs.map((x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))));
    close(await data(gelu(tensor(xs))), xs.map((x) => 0.5 * x * (1 + erf(x / Math.SQRT2))));
    close(await data(silu(tensor(xs))), xs.map((x) => x / (1 + Math.exp(-x))));
    expect(activation('gelu_new')).toBe(geluNew);
    expect(() => activation('nope')).toThrow(/unknown activation "nope"/);
  });

  it('SwiGLU is down(silu(gate x) ⊙ up x)', async () => {
    const x = rnd(1, [2, 4]);
    const [gate, up, down] = [rnd(2, [5, 4]), rnd(3, [5, 4]), rnd(4, [4, 5])];
    const [xv, gv, uv, dv] = await Promise.all([x, gate, up, down].map(data));
    const want: number[] = [];
    for (let n = 0; n < 2; n++) {
      const h = Array.from({ length: 5 }, (_, i) => {
        let a = 0;
        let b = 0;
        for (let k = 0; k < 4; k++) [a, b] = [a + gv[i * 4 + k] * xv[n * 4 + k], b + uv[i * 4 + k] * xv[n * 4 + k]];
        return (a / (1 + Math.exp(-a))) * b;
      });
      for (let o = 0; o < 4; o++) want.push(h.reduce((s, hv, i) => s + hv * dv[o * 5 + i], 0));
    }
    close(await data(swiGLU(x, { gate_proj: gate, up_proj: up, down_proj: down })), want, 1e-4);
  });
});

describe('rotary embeddings', () => {
  it('inv_freq = θ^(−2k/d); rotate_half pairs (k, k + d/2)', async () => {
    close(Array.from(rotaryInvFreq(8, 1e6)), [1, 1e6 ** -0.25, 1e6 ** -0.5, 1e6 ** -0.75], 1e-6);
    expect(await rotateHalf(tensor([1, 2, 3, 4])).array()).toEqual([-3, -4, 1, 2]);
    expect(() => rotaryInvFreq(7, 1e4)).toThrow(/even/);
  });

  it('applyRotary rotates each pair (x_k, x_{k+d/2}) by p·inv_freq[k]', async () => {
    const d = 8;
    const x = rnd(7, [1, 1, 3, d]);
    const { cos, sin } = rotaryCosSin(tensor(new Int32Array([0, 5, 17]), [1, 3]), d, 1e4);
    const got = await data(applyRotary(x, cos, sin));
    const xv = await data(x);
    const inv = rotaryInvFreq(d, 1e4);
    const want = new Array<number>(3 * d);
    [0, 5, 17].forEach((p, t) => {
      for (let k = 0; k < d / 2; k++) {
        const [a, b] = [xv[t * d + k], xv[t * d + k + d / 2]];
        const th = p * inv[k];
        want[t * d + k] = a * Math.cos(th) - b * Math.sin(th);
        want[t * d + k + d / 2] = b * Math.cos(th) + a * Math.sin(th);
      }
    });
    close(got, want, 1e-5);
  });
});

describe('attention', () => {
  it('splitJointHeads of x·[Wq; Wk; Wv]ᵀ gives the heads of the three separate projections', async () => {
    const x = randomNormal(prngKey(1), [2, 3, 8]);
    const ws = [2, 3, 4].map((k) => randomNormal(prngKey(k), [8, 8]));
    const joint = splitJointHeads(linear(x, concat(ws, 0)), 3, 2);
    for (let p = 0; p < 3; p++) {
      expect(joint[p].shape).toEqual([2, 2, 3, 4]);
      const want = await data(splitHeads(linear(x, ws[p]), 2));
      const got = await data(joint[p]);
      got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 5));
    }
    expect(() => splitJointHeads(x, 3, 2)).toThrow(/width 8 is not 3 parts × 2 heads/);
  });

  it("GPT-Neo's local window: tril(ones) XOR tril(ones, −window), for every T ≤ 12 and windows 1–6", async () => {
    for (const w of [1, 2, 3, 5, 6]) {
      for (const T of [1, 4, 12]) {
        const got = await data(causalMask({ queryLength: T, keyLength: T, window: w }));
        const want: number[] = [];
        for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) want.push(Number((j <= i) !== (j <= i - w)));
        expect(got.map(Number)).toEqual(want);
      }
    }
    // with a cache: queries are the last positions, keys are never dropped
    const cached = await data(causalMask({ queryLength: 2, keyLength: 6, pastLength: 3, window: 2 }));
    expect(cached.map(Number)).toEqual([0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0]);
  });

  /** Textbook attention for one batch element, head by head, with key/value head ⌊h / rep⌋. */
  async function naiveAttention(q: Tensor, k: Tensor, v: Tensor, allowed: (i: number, j: number) => boolean, scale: number) {
    const [, H, T, d] = q.shape;
    const [, KV, S] = k.shape;
    const [qv, kv, vv] = await Promise.all([q, k, v].map(data));
    const out: number[] = [];
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / KV));
      for (let i = 0; i < T; i++) {
        const s = Array.from({ length: S }, (_, j) => {
          if (!allowed(i, j)) return -Infinity;
          let dot = 0;
          for (let c = 0; c < d; c++) dot += qv[(h * T + i) * d + c] * kv[(g * S + j) * d + c];
          return dot * scale;
        });
        const m = Math.max(...s);
        const e = s.map((x) => Math.exp(x - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let c = 0; c < d; c++) out.push(e.reduce((acc, p, j) => acc + (p / z) * vv[(g * S + j) * d + c], 0));
      }
    }
    return out;
  }

  it('grouped-query attention reads key/value head ⌊h / n_rep⌋ (repeat_kv), scaled by 1/√d, causal', async () => {
    const [q, k, v] = [rnd(1, [1, 6, 5, 4]), rnd(2, [1, 2, 5, 4]), rnd(3, [1, 2, 5, 4])];
    const got = await data(scaledDotProductAttention(q, k, v, { mask: causalMask({ queryLength: 5, keyLength: 5 }) }));
    close(got, await naiveAttention(q, k, v, (i, j) => j <= i, 0.5), 1e-5);
  });

  it('GPT-Neo attention: no scaling, local window, padding keys', async () => {
    const [q, k, v] = [rnd(4, [1, 2, 6, 4]), rnd(5, [1, 2, 6, 4]), rnd(6, [1, 2, 6, 4])];
    const pad = [1, 0, 1, 1, 1, 1];
    const mask = causalMask({ queryLength: 6, keyLength: 6, window: 3 });
    const keys = tensor(new Int32Array(pad), [1, 1, 1, 6]);
    const got = await data(scaledDotProductAttention(q, k, v, { mask: andMasks(mask, keys), scale: 1 }));
    const want = await naiveAttention(q, k, v, (i, j) => j <= i && j > i - 3 && pad[j] === 1, 1);
    close(got, want, 1e-5);
  });

  it('cross-attention reads another stream; with causal: true, later context positions cannot change earlier outputs', async () => {
    const heads = 2;
    const lin = (seed: number, o: number, i: number) => ({ weight: rnd(seed, [o, i]), bias: rnd(seed + 100, [o]) });
    const p = { q_proj: lin(1, 8, 8), k_proj: lin(2, 8, 12), v_proj: lin(3, 8, 12), out_proj: lin(4, 8, 8) };
    const x = rnd(10, [1, 5, 8]);
    const ctx = rnd(11, [1, 5, 12]);
    const changed = concat([slice(ctx, [0, 0], [1, 4]), rnd(12, [1, 1, 12])], 1); // only position 4 differs
    for (const causal of [true, false]) {
      const a = await data(crossAttention(x, ctx, p, { heads, causal }));
      const b = await data(crossAttention(x, changed, p, { heads, causal }));
      const earlier = (arr: number[]) => arr.slice(0, 4 * 8);
      if (causal) expect(earlier(a)).toEqual(earlier(b));
      else expect(Math.max(...earlier(a).map((v, i) => Math.abs(v - earlier(b)[i])))).toBeGreaterThan(1e-4);
    }
    // a masked context position is ignored entirely
    const mask = tensor(new Int32Array([1, 1, 1, 1, 0]), [1, 5]);
    expect(await data(crossAttention(x, ctx, p, { heads, contextMask: mask }))).toEqual(await data(crossAttention(x, changed, p, { heads, contextMask: mask })));
  });
});

describe('cross-entropy', () => {
  it('mean over non-ignored labels of −log softmax', async () => {
    const logits = [[2, 0, -1], [0.5, 0.5, 3], [1, 2, 3]];
    const labels = [0, -100, 2];
    const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
    const want = (lse(logits[0]) - 2 + lse(logits[2]) - 3) / 2;
    close(await data(crossEntropy(tensor(logits), tensor(new Int32Array(labels)))), [want]);
    expect(Math.abs((await data(crossEntropy(tensor(logits), tensor(new Int32Array([-100, -100, -100])))))[0])).toBe(0);
  });
});
