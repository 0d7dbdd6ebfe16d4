/**
 * The composed model: the teacher is frozen (no gradient reaches it, its parameters are not in the trainable
 * tree, its states may come from a cache), the student starts random (released) or from a pretrained
 * checkpoint (the paper's text), and any transformer-package model can be teacher or student.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { treeLeaves, valueAndGrad } from '@llm-modules/autograd';
import { evaluate, prngKey, setBackend, sum, abs, type Tensor } from '@llm-modules/tensor';
import { gptNeo, loadPretrained } from '@llm-modules/transformer';
import { composeModel, type Params } from '../src/index.js';
import { tinyStudent, tinyTeacher } from '../src/testing.js';
import { fixture, fixtureModel, fixtureParams, golden, ints, loadTeacher, maxDiffValid, studentConfig } from './fixture.js';

beforeAll(() => setBackend('cpu'));
const g = golden(true);
const ids = ints(g.input_ids);
const mask = ints(g.attention_mask);

describe('the frozen teacher', () => {
  it('gets no gradient: d loss / d teacher params is exactly 0 for every teacher tensor, though the loss depends on its states', async () => {
    const model = await fixtureModel(true);
    const params = await fixtureParams();
    const teacherParams = model.teacher.params;
    // Differentiate w.r.t. both trees: the composed model is built over the teacher params it holds, so feed the
    // differentiated copy in through a fresh composition.
    const lossOf = (p: Params, tp: Params) =>
      composeModel({ teacher: { model: model.teacher.model, params: tp }, bridge: { variant: model.bridge, options: model.bridgeOptions }, student: { model: model.student.model }, head: { vocabSize: 90 } }).loss(p, ids, { attentionMask: mask });
    const [loss, [gp, gt]] = valueAndGrad(lossOf, [0, 1])(params, teacherParams);
    const gtLeaves = treeLeaves(gt) as Tensor[];
    const total = gtLeaves.map((t) => sum(abs(t)));
    await evaluate(loss, ...total, ...(treeLeaves(gp) as Tensor[]));
    expect(gtLeaves.length).toBe(Object.keys(teacherParams).length);
    for (const t of total) expect((await t.data())[0]).toBe(0);
    expect((await sum(abs(gp['qwen.pre_proj.weight'])).data())[0]).toBeGreaterThan(0);
  });

  it('its parameters are not in the trainable tree; the counts split teacher / bridge / student / head', async () => {
    const model = await fixtureModel(true);
    const teacherNames = Object.keys(model.teacher.params);
    for (const n of teacherNames) expect(model.trainableParams.has(n)).toBe(false);
    expect([...model.trainableParams.keys()].every((n) => n.startsWith('qwen.') || n.startsWith('gptneo.'))).toBe(true);
    const c = model.parameterCounts();
    // the sums of the fixture files' tensor sizes: qwen.* / gptneo.base_model.* / new_lm_head of bridge.safetensors,
    // and every tensor of models/qwen2-tied/model.safetensors
    expect(c).toEqual({ teacher: 58_176, bridge: 24_584, student: 35_904, head: 2_880, trainable: 63_368 });
    const init = model.init(prngKey(0));
    expect(Object.keys(init).sort()).toEqual([...model.trainableParams.keys()].sort());
  });

  it('its states may come from a cache: apply with teacherStates gives the same logits and never runs the teacher', async () => {
    const model = await fixtureModel(true);
    const params = await fixtureParams();
    const H = model.teacherStates(ids, { attentionMask: mask }).states;
    await evaluate(H);
    let calls = 0;
    const counting = { ...model.teacher.model, apply: (...a: Parameters<typeof model.teacher.model.apply>) => (calls++, model.teacher.model.apply(...a)) };
    const cached = composeModel({ teacher: { model: counting, params: model.teacher.params }, bridge: { variant: model.bridge, options: model.bridgeOptions }, student: { model: model.student.model }, head: { vocabSize: 90 } });
    const a = cached.apply(params, ids, { attentionMask: mask, teacherStates: H }).logits;
    await evaluate(a);
    expect(calls).toBe(0);
    expect(maxDiffValid(await a.data(), g.logits, g.attention_mask).maxAbs).toBeLessThan(1e-4);
  });
});

describe('student initialisation', () => {
  it('random (as released): HF-style normal weights, unit norms, zero biases, wpe exactly 0, no wte / lm_head', async () => {
    const model = await fixtureModel(true);
    const p = model.init(prngKey(3));
    await evaluate(...Object.values(p));
    expect(Array.from(await p['gptneo.base_model.transformer.wpe.weight'].data()).every((x) => x === 0)).toBe(true);
    expect(Array.from(await p['gptneo.base_model.transformer.h.0.ln_1.weight'].data()).every((x) => x === 1)).toBe(true);
    const w = (await p['gptneo.base_model.transformer.h.0.mlp.c_fc.weight'].data()) as Float32Array;
    const std = Math.sqrt(w.reduce((a, x) => a + x * x, 0) / w.length);
    expect(std).toBeGreaterThan(0.15);
    expect(std).toBeLessThan(0.25); // initializer_range 0.2
    const bound = 1 / Math.sqrt(48); // PyTorch's default Linear init on the bridge
    expect(Array.from(await p['qwen.pre_proj.weight'].data()).every((x) => Math.abs(x) <= bound)).toBe(true);
    expect(p['gptneo.base_model.transformer.wte.weight']).toBeUndefined();
  });

  it("from a pretrained checkpoint (the paper's text): the blocks are the checkpoint's, wpe zeroed unless asked", async () => {
    const pre = await loadPretrained(fixture('models/gptneo'));
    const mk = (zeroPositions?: boolean) =>
      loadTeacher().then((teacher) => composeModel({ teacher, bridge: { variant: 'enhanced', options: { heads: 4, adapterDim: 16 } }, student: { model: gptNeo(studentConfig()), pretrained: pre.params, zeroPositions }, head: { vocabSize: 90 } }));
    const p = (await mk()).init(prngKey(0));
    const kept = (await mk(false)).init(prngKey(0));
    const name = 'transformer.h.2.attn.attention.q_proj.weight';
    expect(await p[`gptneo.base_model.${name}`].data()).toEqual(await pre.params[name].data());
    expect(Array.from(await p['gptneo.base_model.transformer.wpe.weight'].data()).every((x) => x === 0)).toBe(true);
    expect(await kept['gptneo.base_model.transformer.wpe.weight'].data()).toEqual(await pre.params['transformer.wpe.weight'].data());
  });
});

describe('any transformer model as teacher or student', () => {
  it.each([
    ['qwen2 → gpt_neo', () => tinyTeacher(12), () => tinyStudent(8)],
    ['gpt_neo → qwen2', () => { const m = tinyStudent(16); return { model: m, params: m.init(prngKey(1)) }; }, () => tinyTeacher(8).model],
    ['qwen2 → qwen2', () => tinyTeacher(8), () => tinyTeacher(12).model],
  ] as const)('%s: logits [B, T, V] and a finite loss with gradients for every trainable tensor', async (_, teacher, student) => {
    const model = composeModel({ teacher: teacher(), student: { model: student() }, bridge: { variant: 'enhanced', options: { heads: 2, adapterDim: 4 } }, head: { vocabSize: 20 } });
    const params = model.init(prngKey(2));
    const x = ints({ shape: [1, 4], dtype: 'int64', data: [1, 5, 9, 2] });
    const [loss, grads] = valueAndGrad((p: Params) => model.loss(p, x))(params);
    await evaluate(loss, ...Object.values(grads));
    expect(model.apply(params, x).logits.shape).toEqual([1, 4, 20]);
    expect(Number.isFinite((await loss.data())[0])).toBe(true);
    expect(Object.keys(grads).sort()).toEqual([...model.trainableParams.keys()].sort());
  });
});

describe('errors', () => {
  it('names the problem: heads that do not divide the width, an unknown option, an unknown variant', async () => {
    const teacher = tinyTeacher(12);
    const student = { model: tinyStudent(8) };
    expect(() => composeModel({ teacher, student, bridge: { variant: 'enhanced', options: { heads: 3 } } })).toThrow(/3 heads do not divide the student width 8/);
    expect(() => composeModel({ teacher, student, bridge: { variant: 'enhanced', options: { head: 2 } } })).toThrow(/unknown option head .*known: layers, heads/);
    expect(() => composeModel({ teacher, student, bridge: 'nope' })).toThrow(/unknown bridge variant "nope" \(known: enhanced, paper-released, flamingo, calm, gated-tokens, plain, linear/);
  });
});

describe("the paper's sizes", () => {
  it('Qwen2-1.5B → paper-released → GPT-Neo-125M: bridge ≈ 16.4 M, blocks ≈ 85.0 M, wpe 1.6 M, head 116.5 M, teacher ≈ 1.54 B', async () => {
    const { readFile } = await import('node:fs/promises');
    const { parseConfig } = await import('@llm-modules/loaders');
    const { createModel } = await import('@llm-modules/transformer');
    const teacherModel = createModel(parseConfig(JSON.parse(await readFile(fixture('configs/qwen2-1.5b-config.json'), 'utf8'))));
    const neo125m = parseConfig({
      model_type: 'gpt_neo', vocab_size: 50257, hidden_size: 768, num_layers: 12, num_heads: 12, max_position_embeddings: 2048,
      attention_types: [[['global', 'local'], 6]], window_size: 256, activation_function: 'gelu_new',
    });
    const model = composeModel({ teacher: { model: teacherModel, params: {} }, bridge: 'paper-released', student: { model: createModel(neo125m) }, head: { vocabSize: 151_646 } });
    const c = model.parameterCounts();
    const wpe = model.trainableParams.get('gptneo.base_model.transformer.wpe.weight')!;
    const M = (n: number) => Math.round(n / 1e5) / 10;
    expect([M(c.bridge), M(c.student - wpe[0] * wpe[1]), M(wpe[0] * wpe[1]), M(c.head)]).toEqual([16.4, 85.0, 1.6, 116.5]);
    expect(Math.round(c.teacher / 1e7) / 100).toBe(1.54);
  });
});
