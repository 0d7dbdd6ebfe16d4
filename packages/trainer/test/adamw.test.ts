import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { evaluate, setBackend, tensor, type Tensor } from '@llm-modules/tensor';
import { loadSafetensorsAsTensors } from '@llm-modules/loaders';
import { adamw, clipByGlobalNorm, sgd } from '@llm-modules/trainer';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/bridge/${name}`, import.meta.url));

describe.each(['true', 'false'])('AdamW against the PyTorch golden (causal=%s)', (causal) => {
  test('clip to global norm 1.0, then one AdamW step, matches torch within 1e-6', async () => {
    setBackend('cpu');
    const golden = JSON.parse(readFileSync(fixture(`adamw_causal_${causal}.json`), 'utf8')).adamw;
    const params = await loadSafetensorsAsTensors(fixture('bridge.safetensors'));
    const grads = await loadSafetensorsAsTensors(fixture(`grads_causal_${causal}.safetensors`));
    const expected = await loadSafetensorsAsTensors(fixture(`adamw_step1_causal_${causal}.safetensors`));
    expect(Object.keys(params).length).toBe(108);

    const [clipped, norm] = clipByGlobalNorm(grads, golden.max_grad_norm);
    const opt = adamw({ lr: golden.lr, betas: golden.betas, eps: golden.eps, weightDecay: golden.weight_decay });
    const [next, state] = opt.update(clipped, opt.init(params), params);
    const leaves = Object.values(next as Record<string, Tensor>);
    await evaluate(norm, ...leaves);

    expect((await norm.data())[0]).toBeCloseTo(golden.steps[0].grad_global_norm_before_clip, 4);
    expect(state.step).toBe(1);
    let worst = 0;
    for (const [name, want] of Object.entries(expected)) {
      const got = await (next as Record<string, Tensor>)[name].data();
      const ref = await want.data();
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref[i]));
    }
    expect(worst).toBeLessThanOrEqual(1e-6);
  });
});

describe('parameter groups', () => {
  test('each group gets its own learning rate and weight decay (first match wins)', async () => {
    setBackend('cpu');
    const params = { 'qwen.proj.weight': tensor([1, 1]), 'gptneo.h.0.w': tensor([1, 1]) };
    const grads = { 'qwen.proj.weight': tensor([1, -1]), 'gptneo.h.0.w': tensor([1, -1]) };
    const opt = adamw({ lr: 1e-3, weightDecay: 0, groups: [{ match: 'gptneo.', lr: 1e-1, weightDecay: 0.5 }] });
    const [next] = opt.update(grads, opt.init(params), params);
    const p = next as Record<string, Tensor>;
    // First Adam step moves each weight by lr·sign(g) (m̂/√v̂ = ±1, up to eps); decay multiplies by 1 − lr·wd first.
    const q = await p['qwen.proj.weight'].data();
    const g = await p['gptneo.h.0.w'].data();
    expect(q[0]).toBeCloseTo(1 - 1e-3, 6);
    expect(q[1]).toBeCloseTo(1 + 1e-3, 6);
    expect(g[0]).toBeCloseTo(1 * (1 - 0.1 * 0.5) - 0.1, 5);
    expect(g[1]).toBeCloseTo(1 * (1 - 0.1 * 0.5) + 0.1, 5);
  });
});

describe('SGD', () => {
  test('momentum follows b ← μb + g, p ← p − lr·b', async () => {
    setBackend('cpu');
    const opt = sgd({ lr: 0.1, momentum: 0.9 });
    let params: Record<string, Tensor> = { w: tensor([1]) };
    let state = opt.init(params);
    const g = { w: tensor([2]) };
    [params, state] = opt.update(g, state, params) as [Record<string, Tensor>, typeof state];
    [params, state] = opt.update(g, state, params) as [Record<string, Tensor>, typeof state];
    // b1 = 2, p1 = 1 − 0.2 = 0.8; b2 = 0.9·2 + 2 = 3.8, p2 = 0.8 − 0.38 = 0.42
    expect((await params.w.data())[0]).toBeCloseTo(0.42, 6);
  });
});

describe('clipByGlobalNorm', () => {
  test('scales by maxNorm / (norm + 1e-6) only when the norm is larger', async () => {
    setBackend('cpu');
    const grads = { a: tensor([3, 0]), b: tensor([[4]]) }; // norm 5
    const [c, norm] = clipByGlobalNorm(grads, 1);
    expect((await norm.data())[0]).toBe(5);
    expect(Array.from(await c.a.data())[0]).toBeCloseTo(3 / (5 + 1e-6), 7);
    const [same] = clipByGlobalNorm(grads, 10);
    expect(Array.from(await same.b.data())).toEqual([4]);
  });
});
