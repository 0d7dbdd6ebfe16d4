/**
 * The transformer blocks in GRAD_SPECS form (the autograd package's table covers stand-in composites; these rows
 * are the real blocks): fast-check draws shapes and values, `checkGrads` compares autodiff with float64 central
 * differences on the `reference` backend. `FC_RUNS` / `FC_SEED` as in the autograd package.
 */
import { describe, it } from 'vitest';
import * as fc from 'fast-check';
import { checkGrads, makeTensor, type Domain } from '@llm-modules/autograd/testing';
import { parseConfig, type GPTNeoConfig, type Qwen2Config } from '@llm-modules/loaders';
import { notEqual, tensor, type Tensor } from '@llm-modules/tensor';
import {
  andMasks,
  applyRotary,
  causalLMLoss,
  causalMask,
  crossAttention,
  crossEntropy,
  embedding,
  gelu,
  geluNew,
  gptNeo,
  gptNeoBlock,
  gptNeoMLP,
  labelsFromMask,
  layerNorm,
  linear,
  paddingMask,
  qwen2,
  qwen2Layer,
  rmsNorm,
  rotaryCosSin,
  scaledDotProductAttention,
  silu,
  swiGLU,
  type Params,
} from '../src/index.js';

const RUNS = Number(process.env.FC_RUNS ?? 4);
const SEED = Number(process.env.FC_SEED ?? 20250218);
const dim = (min = 1, max = 4) => fc.integer({ min, max });
const seed = fc.noBias(fc.integer({ min: 0, max: 2 ** 31 - 1 }));
const t = (shape: number[], domain: Domain, s: number, bound?: number) => makeTensor(shape, domain, s, { bound });

interface Row {
  name: string;
  /** Builds the inputs (pytrees of float tensors are differentiated; int/bool leaves are held fixed) and the function. */
  make: fc.Arbitrary<{ args: unknown[]; f: (...args: never[]) => unknown }>;
  atol?: number;
  rtol?: number;
}

const tinyNeo = (window: number): GPTNeoConfig =>
  parseConfig({ model_type: 'gpt_neo', vocab_size: 7, hidden_size: 8, num_layers: 2, num_heads: 2, intermediate_size: 8, max_position_embeddings: 8, attention_types: [[['global', 'local'], 1]], window_size: window }) as GPTNeoConfig;
const tinyQwen = (tie: boolean): Qwen2Config =>
  parseConfig({ model_type: 'qwen2', vocab_size: 7, hidden_size: 8, intermediate_size: 6, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, rope_theta: 100, tie_word_embeddings: tie }) as Qwen2Config;

/** Random params for a shape table (small values, the norms around 1). */
function randomParams(shapes: Map<string, number[]>, s: number): Params {
  const out: Params = {};
  let k = 0;
  for (const [name, shape] of shapes) out[name] = t(shape, /norm|ln_/.test(name) && name.endsWith('weight') ? { min: 0.5, max: 1.5 } : 'small', s + k++);
  return out;
}

/** A right-padded 0/1 mask [B, T]: sequence b keeps its first `lens[b]` positions. */
const maskOf = (lens: number[], T: number) => tensor(Int32Array.from(lens.flatMap((l) => Array.from({ length: T }, (_, i) => Number(i < l)))), [lens.length, T]);

export const TRANSFORMER_GRAD_SPECS: readonly Row[] = [
  {
    name: 'linear (with and without bias)',
    make: fc.tuple(dim(), dim(), dim(), seed).map(([n, i, o, s]) => ({
      args: [t([2, n, i], 'real', s), t([o, i], 'real', s + 1), t([o], 'real', s + 2)],
      f: (x: Tensor, w: Tensor, b: Tensor) => [linear(x, w, b), linear(x, w)],
    })),
  },
  {
    name: 'embedding (gather rows, repeated ids)',
    make: fc.tuple(dim(2, 5), dim(), dim(1, 6), seed).map(([V, D, N, s]) => ({ args: [t([V, D], 'real', s), t([2, N], 'indices', s + 1, V)], f: (w: Tensor, ids: Tensor) => embedding(w, ids) })),
  },
  {
    name: 'LayerNorm (weight, bias)',
    make: fc.tuple(dim(), dim(2, 6), seed).map(([n, D, s]) => ({ args: [t([n, D], 'real', s), t([D], 'real', s + 1), t([D], 'real', s + 2)], f: (x: Tensor, g: Tensor, b: Tensor) => layerNorm(x, g, b) })),
  },
  {
    name: 'RMSNorm',
    make: fc.tuple(dim(), dim(1, 6), seed).map(([n, D, s]) => ({ args: [t([n, D], 'real', s), t([D], 'real', s + 1)], f: (x: Tensor, w: Tensor) => rmsNorm(x, w) })),
  },
  {
    name: 'GELU (gelu_new tanh form, exact erf form), SiLU',
    make: fc.tuple(dim(1, 6), seed).map(([n, s]) => ({ args: [t([n], { min: -2, max: 2 }, s)], f: (x: Tensor) => [geluNew(x), gelu(x), silu(x)] })),
  },
  {
    name: 'GPT-Neo MLP (c_fc, gelu_new, c_proj)',
    make: fc.tuple(dim(), dim(), seed).map(([D, I, s]) => ({
      args: [t([2, D], 'small', s), { c_fc_weight: t([I, D], 'small', s + 1), c_fc_bias: t([I], 'small', s + 2), c_proj_weight: t([D, I], 'small', s + 3), c_proj_bias: t([D], 'small', s + 4) }],
      f: (x: Tensor, p: never) => gptNeoMLP(x, p),
    })),
  },
  {
    name: 'SwiGLU MLP (Qwen2)',
    make: fc.tuple(dim(), dim(), seed).map(([D, I, s]) => ({
      args: [t([2, D], 'small', s), { gate_proj: t([I, D], 'small', s + 1), up_proj: t([I, D], 'small', s + 2), down_proj: t([D, I], 'small', s + 3) }],
      f: (x: Tensor, p: never) => swiGLU(x, p),
    })),
  },
  {
    name: 'rotary embeddings (rotate_half, positions fixed)',
    make: fc.tuple(dim(), dim(1, 2), dim(1, 3), seed).map(([T, H, half, s]) => {
      const { cos, sin } = rotaryCosSin(tensor(Int32Array.from({ length: T }, (_, i) => 3 * i + 1), [1, T]), 2 * half, 1e4);
      return { args: [t([1, H, T, 2 * half], 'real', s)], f: (x: Tensor) => applyRotary(x, cos, sin) };
    }),
  },
  {
    name: 'attention: causal, grouped-query (KV heads repeated), 1/√d',
    make: fc.tuple(dim(1, 2), dim(1, 3), dim(1, 4), dim(1, 3), seed).map(([KV, rep, T, d, s]) => ({
      args: [t([1, KV * rep, T, d], 'small', s), t([1, KV, T, d], 'small', s + 1), t([1, KV, T, d], 'small', s + 2)],
      f: (q: Tensor, k: Tensor, v: Tensor) => scaledDotProductAttention(q, k, v, { mask: causalMask({ queryLength: T, keyLength: T }) }),
    })),
  },
  {
    name: 'attention: GPT-Neo local window, padding mask, no scaling',
    make: fc.tuple(dim(1, 3), dim(2, 6), dim(1, 3), seed).map(([w, T, d, s]) => {
      const mask = andMasks(causalMask({ queryLength: T, keyLength: T, window: w }), paddingMask(maskOf([T, Math.max(1, T - 2)], T)));
      return {
        args: [t([2, 2, T, d], 'small', s), t([2, 2, T, d], 'small', s + 1), t([2, 2, T, d], 'small', s + 2)],
        f: (q: Tensor, k: Tensor, v: Tensor) => scaledDotProductAttention(q, k, v, { mask, scale: 1 }),
      };
    }),
  },
  {
    name: 'cross-attention (two streams, context padding, causal between them)',
    make: fc.tuple(dim(1, 4), fc.boolean(), seed).map(([T, causal, s]) => {
      const lin = (o: number, i: number, k: number) => ({ weight: t([o, i], 'small', s + k), bias: t([o], 'small', s + k + 1) });
      const p = { q_proj: lin(4, 3, 1), k_proj: lin(4, 5, 3), v_proj: lin(4, 5, 5), out_proj: lin(4, 4, 7) };
      const contextMask = maskOf([T, Math.max(1, T - 1)], T);
      return { args: [t([2, T, 3], 'small', s), t([2, T, 5], 'small', s + 9), p], f: (x: Tensor, c: Tensor, pp: never) => crossAttention(x, c, pp, { heads: 2, contextMask, causal }) };
    }),
  },
  {
    name: 'cross-entropy (ignore −100) and the shifted causal-LM loss',
    make: fc.tuple(dim(2, 5), dim(2, 5), seed).map(([T, C, s]) => {
      const ids = t([2, T], 'indices', s + 1, C);
      const mask = maskOf([T, 1 + (s % T)], T);
      return { args: [t([2, T, C], 'real', s)], f: (logits: Tensor) => [crossEntropy(logits, labelsFromMask(ids, mask)), causalLMLoss(logits, labelsFromMask(ids, mask))] };
    }),
  },
  {
    name: 'GPT-Neo block (ln_1, attention without scaling, local window, ln_2, MLP) on the fused attention path',
    make: fc.tuple(dim(1, 4), fc.constantFrom(0, 1), seed).map(([T, layer, s]) => {
      const c = tinyNeo(2);
      const params = randomParams(gptNeo(c).parameterShapes(), s);
      const mask = causalMask({ queryLength: T, keyLength: T, window: layer === 1 ? 2 : undefined });
      return { args: [t([1, T, 8], 'real', s + 99), params], f: (x: Tensor, p: Params) => gptNeoBlock(p, c, layer, x, mask).hidden };
    }),
  },
  {
    name: 'GPT-Neo block on the composite attention path (a mask tensor the caller computed)',
    make: fc.tuple(dim(1, 4), fc.constantFrom(0, 1), seed).map(([T, layer, s]) => {
      const c = tinyNeo(2);
      const params = randomParams(gptNeo(c).parameterShapes(), s);
      const mask = notEqual(causalMask({ queryLength: T, keyLength: T, window: layer === 1 ? 2 : undefined }), 0);
      return { args: [t([2, T, 8], 'real', s + 99), params], f: (x: Tensor, p: Params) => gptNeoBlock(p, c, layer, x, mask).hidden };
    }),
  },
  {
    name: 'Qwen2 decoder layer (RMSNorm, RoPE, GQA, q/k/v bias, SwiGLU)',
    make: fc.tuple(dim(1, 4), seed).map(([T, s]) => {
      const c = tinyQwen(true);
      const params = randomParams(qwen2(c).parameterShapes(), s);
      const rope = rotaryCosSin(tensor(Int32Array.from({ length: T }, (_, i) => i), [1, T]), 2, c.rope_theta);
      return { args: [t([1, T, 8], 'real', s + 99), params], f: (x: Tensor, p: Params) => qwen2Layer(p, c, 0, x, causalMask({ queryLength: T, keyLength: T }), rope).hidden };
    }),
  },
  {
    name: 'whole models: causal-LM loss of GPT-Neo (tied) and Qwen2 (tied / untied) on a padded batch',
    make: fc.tuple(dim(2, 4), fc.constantFrom('gpt_neo', 'qwen2-tied', 'qwen2-untied'), seed).map(([T, kind, s]) => {
      const model = kind === 'gpt_neo' ? gptNeo(tinyNeo(2)) : qwen2(tinyQwen(kind === 'qwen2-tied'));
      const ids = t([2, T], 'indices', s + 1, 7);
      const mask = maskOf([T, 2], T);
      return {
        args: [randomParams(model.parameterShapes(), s)],
        f: (p: Params) => causalLMLoss(model.apply(p, ids, { attentionMask: mask }).logits, labelsFromMask(ids, mask)),
      };
    }),
  },
];

describe('TRANSFORMER_GRAD_SPECS: block gradients match central differences (float64, reference backend)', () => {
  for (const row of TRANSFORMER_GRAD_SPECS) {
    it(`${row.name} — ${RUNS} runs`, async () => {
      await fc.assert(
        fc.asyncProperty(row.make, seed, async ({ args, f }, s) => {
          await checkGrads(f as never, args, { seed: s, atol: row.atol ?? 1e-8, rtol: row.rtol ?? 1e-6 });
        }),
        { numRuns: RUNS, seed: SEED },
      );
    });
  }
});
