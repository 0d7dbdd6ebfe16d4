/**
 * The student is the model itself: the composed model runs the student's own `apply` (through `inputsEmbeds`,
 * `afterBlock` and `lmHead`), so it reaches the model's fused kernels and needs no copy of its decoder loop.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { prngKey, setBackend } from '@llm-modules/tensor';
import { graphOps } from '../../../test-utils/graph.js';
import { fixtureModel, fixtureParams, golden, ints } from './fixture.js';

beforeAll(() => setBackend('cpu'));


describe('the composed model runs the student model', () => {
  it('without padding the student reaches GPT-Neo fused attention (the released teacher states in, no copied loop)', async () => {
    const model = await fixtureModel(true);
    const params = await fixtureParams();
    const ids = ints(golden(true).input_ids);
    const H = model.teacherStates(ids).states;
    const { logits } = model.forward(params, H);
    expect(graphOps(logits).has('attention')).toBe(true);
  });

  it("the student's output is the model's apply on the bridge's output with the new head", async () => {
    const model = await fixtureModel(true);
    const params = await fixtureParams();
    const ids = ints(golden(true).input_ids);
    const mask = ints(golden(true).attention_mask);
    const out = model.apply(params, ids, { attentionMask: mask });
    const studentParams = Object.fromEntries([...model.student.parameterShapes().keys()].map((n) => [n, params[model.names.student + n]]));
    const direct = model.student.model.apply(studentParams, null, { inputsEmbeds: out.studentInputs, attentionMask: mask, lmHead: params[model.names.head] });
    const [a, b] = [await out.logits.data(), await direct.logits.data()];
    expect(a.length).toBe(b.length);
    expect(a.every((v, i) => v === b[i])).toBe(true);
  });

  it('init zeroes the learned positions and draws the rest by the model’s own init plan', async () => {
    const model = await fixtureModel(true);
    const p = model.student.init(prngKey(0));
    expect(Object.keys(p)).toEqual([...model.student.parameterShapes().keys()]);
    expect(Object.keys(p)).not.toContain('transformer.wte.weight');
    expect([...(await p['transformer.wpe.weight'].data())].every((v) => v === 0)).toBe(true);
    expect([...(await p['transformer.h.0.ln_1.weight'].data())].every((v) => v === 1)).toBe(true);
  });
});
