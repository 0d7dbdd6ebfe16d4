/**
 * The demo's distillation baselines: `student-kd` and `gated-tokens+kd` train on cross-entropy + weight · KD to the
 * frozen teacher's next-token distribution, read from the cached last states (`teacherLast`) or from the teacher.
 */
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { linear, loadPretrained } from '@llm-modules/transformer';
import { collate, distillationLoss } from '@llm-modules/trainer';
import { defaultDemoDir } from '../src/commands/demo.js';
import { contestant, DEMO_KD } from '../src/demo/variants.js';

describe('demo distillation contestants', () => {
  test('loss = the undistilled loss + weight · KD; the cached teacher states give the same loss as the live teacher', async () => {
    const teacher = await loadPretrained(join(defaultDemoDir(), 'teacher'));
    const size = { hidden: 16, layers: 2, heads: 2 };
    const batch = collate([{ inputIds: [52, 43, 49, 61, 12, 9], lossMask: [0, 0, 0, 1, 1, 1] }, { inputIds: [50, 43, 51, 61, 30, 9], lossMask: [0, 0, 0, 1, 1, 1] }], 0);
    const last = teacher.model.apply(teacher.params, batch.inputIds).lastHiddenState;
    for (const [kd, plain] of [['student-kd', 'student-only'], ['gated-tokens+kd', 'gated-tokens']] as const) {
      const c = contestant(kd, teacher, size, 32, { kd: { weight: 3, temperature: 2, weighting: 'label-probability' } });
      const base = contestant(plain, teacher, size, 32);
      expect(c.distills).toBe(true);
      expect(base.distills).toBe(false);
      const p = c.init(1);
      const withCache = (await c.loss(p, { ...batch, teacherLast: last }).data())[0];
      const live = (await c.loss(p, batch).data())[0];
      expect(withCache).toBeCloseTo(live, 5);
      const teacherLogits = linear(last, teacher.params[teacher.model.roles.lmHead ?? teacher.model.roles.tokenEmbedding]);
      const kdTerm = (await distillationLoss(c.logits(p, batch.inputIds), teacherLogits, batch.labels, { temperature: 2, weighting: 'label-probability' }).data())[0];
      expect(kdTerm).toBeGreaterThan(0);
      expect(withCache).toBeCloseTo((await base.loss(p, batch).data())[0] + 3 * kdTerm, 4);
    }
    expect(DEMO_KD).toEqual({ weight: 1, temperature: 2, weighting: 'label-probability' });
  }, 60_000);
});
