import { describe, expect, test } from 'vitest';
import { valueAndGrad } from '@llm-modules/autograd';
import { linear } from '@llm-modules/transformer';
import { div, prngKey, randomNormal, slice, splitKey, tensor, type Tensor } from '@llm-modules/tensor';
import { chunkedDistillationLoss, distillationLoss, distillationSum } from '@llm-modules/trainer';

// Independent math on plain numbers: softmax(x / T), KL(p ‖ q) = Σ p (ln p − ln q).
const softmaxT = (x: number[], T: number) => {
  const e = x.map((v) => Math.exp(v / T));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
};
const kl = (p: number[], q: number[]) => p.reduce((s, pi, i) => s + pi * (Math.log(pi) - Math.log(q[i])), 0);

describe('distillation loss', () => {
  // a 2×3 example: two positions of one sequence, three tokens; position 1 has no next label (last position)
  const student = [[1, 0, -1], [0.5, 0.5, 0]];
  const teacher = [[0, 2, 1], [3, 0, 0]];
  const T = 2;

  test('equals T²·KL(p_t ‖ p_s) at the trained positions, computed by hand', async () => {
    const labels = tensor(new Int32Array([4, 5]), [1, 2]); // position 0 is trained (label 5 follows), position 1 is not
    const want = T * T * kl(softmaxT(teacher[0], T), softmaxT(student[0], T)); // 0.2786…: only position 0 counts
    const got = await distillationLoss(tensor([student]), tensor([teacher]), labels, { temperature: T }).data();
    expect(got[0]).toBeCloseTo(want, 5);
    expect(want).toBeCloseTo(0.88206, 4); // the hand value: p_t = (0.186, 0.506, 0.307), p_s = (0.506, 0.307, 0.186)
  });

  test('averages over every trained position of the batch; pads add nothing', async () => {
    // three sequences of 2 positions: position 0 is trained in the first two, the third's next label is a pad
    const labels = tensor(new Int32Array([4, 5, 4, 5, 4, -100]), [3, 2]);
    const s = tensor([student, [student[1], student[0]], [student[0], student[0]]]);
    const t = tensor([teacher, [teacher[1], teacher[0]], [teacher[0], teacher[0]]]);
    const klAt = (i: number) => T * T * kl(softmaxT(teacher[i], T), softmaxT(student[i], T));
    const got = await distillationLoss(s, t, labels, { temperature: T }).data();
    expect(got[0]).toBeCloseTo((klAt(0) + klAt(1)) / 2, 5);
  });

  test('its gradient is T·(p_s − p_t)/count at trained rows and 0 elsewhere (the analytical gradient)', async () => {
    const x = tensor([student[0], student[1], [0, 1, 2]]); // [3, 3]
    const mask = tensor([1, 0, 1]);
    const tt = tensor([teacher[0], teacher[1], [1, 1, 0]]);
    const f = (p: { s: Tensor }) => {
      const { total, count } = distillationSum(p.s, tt, mask, T);
      return div(total, count); // the mean over the 2 trained rows
    };
    const [, g] = valueAndGrad(f)({ s: x });
    const grad = Array.from(await (g as { s: Tensor }).s.data());
    const rows = [student[0], student[1], [0, 1, 2]];
    const trows = [teacher[0], teacher[1], [1, 1, 0]];
    const want = rows.flatMap((r, i) => {
      if (i === 1) return [0, 0, 0];
      const ps = softmaxT(r, T);
      const pt = softmaxT(trows[i], T);
      return ps.map((v, j) => (T * (v - pt[j])) / 2);
    });
    grad.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
  });

  test("the teacher's logits get no gradient, and a longer teacher vocabulary is cut to the student's", async () => {
    const wide = tensor([[0, 2, 1, 9], [3, 0, 0, -4]]); // a 4th column the student's head does not have
    const mask = tensor([1, 1]);
    const [, g] = valueAndGrad((p: { t: Tensor }) => distillationSum(tensor(student), p.t, mask, T).total)({ t: wide });
    expect(Array.from(await (g as { t: Tensor }).t.data())).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    const cut = await distillationSum(tensor(student), wide, mask, T).total.data();
    const want = T * T * (kl(softmaxT(teacher[0], T), softmaxT(student[0], T)) + kl(softmaxT(teacher[1], T), softmaxT(student[1], T)));
    expect(cut[0]).toBeCloseTo(want, 5);
  });

  test("label-probability weighting: each trained position counts by the teacher's probability (T = 1) of its label", async () => {
    // three positions: 0 and 1 trained (next labels 2 and 0), position 2 the last
    const s3 = [student[0], student[1], [0, 0, 0]];
    const t3 = [teacher[0], teacher[1], [0, 0, 0]];
    const labels = tensor(new Int32Array([9, 2, 0]), [1, 3]);
    const w0 = softmaxT(teacher[0], 1)[2]; // 0.2447: p_t(label 2) at position 0
    const w1 = softmaxT(teacher[1], 1)[0]; // 0.9094: p_t(label 0) at position 1
    const klAt = (i: number) => T * T * kl(softmaxT(teacher[i], T), softmaxT(student[i], T));
    const got = await distillationLoss(tensor([s3]), tensor([t3]), labels, { temperature: T, weighting: 'label-probability' }).data();
    expect(got[0]).toBeCloseTo((w0 * klAt(0) + w1 * klAt(1)) / 2, 5); // still the mean over the 2 trained positions
    const [a, b] = splitKey(prngKey(5));
    const hs = randomNormal(a, [1, 3, 4]);
    const ws = randomNormal(b, [3, 4]);
    const ht = tensor([t3]); // the teacher's "hidden states" are its logits through an identity head
    const eye = tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    const whole = await distillationLoss(linear(hs, ws), ht, labels, { temperature: T, weighting: 'label-probability' }).data();
    const chunked = await chunkedDistillationLoss(hs, ws, ht, eye, labels, { temperature: T, weighting: 'label-probability', chunk: 1 }).data();
    expect(chunked[0]).toBeCloseTo(whole[0], 5); // chunks of one position still read the next position's label
  });

  test('a temperature ≤ 0 is refused in one line', () => {
    expect(() => distillationSum(tensor(student), tensor(teacher), tensor([1, 1]), 0)).toThrow('distillation: the temperature must be > 0, got 0');
  });

  test('the chunked loss equals the unchunked one', async () => {
    const [a, b, c, d] = splitKey(prngKey(3), 4);
    const hs = randomNormal(a, [2, 5, 4]);
    const ht = randomNormal(b, [2, 5, 6]);
    const ws = randomNormal(c, [7, 4]);
    const wt = randomNormal(d, [9, 6]); // the teacher's vocabulary is longer: cut to 7
    const labels = tensor(new Int32Array([1, 2, 3, 4, -100, -100, 5, 6, 1, 2]), [2, 5]);
    const whole = await distillationLoss(linear(hs, ws), slice(linear(ht, wt), [0, 0, 0], [2, 5, 9]), labels, { temperature: 1.5 }).data();
    const chunked = await chunkedDistillationLoss(hs, ws, ht, wt, labels, { temperature: 1.5, chunk: 2 }).data();
    expect(chunked[0]).toBeCloseTo(whole[0], 5);
    expect(whole[0]).toBeGreaterThan(0);
  });
});

