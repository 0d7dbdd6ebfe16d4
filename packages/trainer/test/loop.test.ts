import { describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gather, matmul, prngKey, randomNormal, setBackend, splitKey, type Tensor } from '@llm-modules/tensor';
import { causalLMLoss } from '@llm-modules/transformer';
import type { PyTree } from '@llm-modules/autograd';
import {
  adamw, bucketedBatches, collate, evaluateLoss, initialState, jsonlObserver, loadTrainState, saveTrainState, train,
  type Batch, type Example, type TrainEvent,
} from '@llm-modules/trainer';

const V = 12;
const D = 8;
// A bigram world: token t is followed by (3t + 1) mod V. Learnable by embedding @ output.
const examples: Example[] = Array.from({ length: 24 }, (_, i) => {
  const len = 3 + (i % 5);
  const ids = [i % V];
  while (ids.length < len) ids.push((3 * ids[ids.length - 1] + 1) % V);
  return { inputIds: ids, lossMask: ids.map(() => 1) };
});
const params0 = (): PyTree => {
  const [a, b] = splitKey(prngKey(7));
  return { emb: randomNormal(a, [V, D], { std: 0.5 }), out: randomNormal(b, [D, V], { std: 0.5 }) };
};
const loss = (p: PyTree, batch: Batch): Tensor => {
  const { emb, out } = p as Record<string, Tensor>;
  return causalLMLoss(matmul(gather(emb, batch.inputIds, 0), out), batch.labels); // [B, T, V] logits
};
const batches = (epoch: number) => bucketedBatches(examples, { batchSize: 4, padId: 0, seed: epoch });
const leafData = async (tree: PyTree) => Promise.all(Object.values(tree as Record<string, Tensor>).map(async (t) => Array.from(await t.data())));

describe('train', () => {
  test('learns: the loss falls, events are emitted in order', async () => {
    setBackend('cpu');
    const opt = adamw({ lr: 0.05, weightDecay: 0 });
    const events: TrainEvent[] = [];
    const before = await evaluateLoss(loss, params0(), batches(0));
    const final = await train(initialState(params0(), opt), { loss, optimizer: opt, batches, epochs: 4, clipNorm: 1, observers: [(e) => void events.push(e)] });
    const after = await evaluateLoss(loss, final.params, batches(0));
    expect(final.step).toBe(24); // 6 batches × 4 epochs
    expect(after.loss).toBeLessThan(before.loss * 0.6);
    expect(events[0].type).toBe('start');
    expect(events.at(-1)).toMatchObject({ type: 'end', reason: 'done', step: 24 });
    expect(events.filter((e) => e.type === 'step').every((e) => e.type === 'step' && Number.isFinite(e.gradNorm) && e.tokens > 0)).toBe(true);
  });

  test('resuming from a checkpoint gives exactly the result of an uninterrupted run', async () => {
    setBackend('cpu');
    const opt = adamw({ lr: 0.05 });
    const full = await train(initialState(params0(), opt), { loss, optimizer: opt, batches, epochs: 2, clipNorm: 1 });
    const dir = mkdtempSync(join(tmpdir(), 'llm-modules-resume-'));
    const half = await train(initialState(params0(), opt), { loss, optimizer: opt, batches, epochs: 2, clipNorm: 1, maxSteps: 8 });
    expect(half.step).toBe(8);
    await saveTrainState(dir, half);
    const resumed = await train(await loadTrainState(dir), { loss, optimizer: opt, batches, epochs: 2, clipNorm: 1 });
    expect(resumed.step).toBe(full.step);
    expect(await leafData(resumed.params)).toEqual(await leafData(full.params));
  });

  test('gradient accumulation over micro-batches equals one step on their union', async () => {
    setBackend('cpu');
    const opt = adamw({ lr: 0.01, weightDecay: 0 });
    const a = collate(examples.slice(0, 4), 0);
    const b = collate(examples.slice(4, 8), 0);
    const both = collate(examples.slice(0, 8), 0);
    const acc = await train(initialState(params0(), opt), { loss, optimizer: opt, batches: () => [a, b], accumulate: 2 });
    const one = await train(initialState(params0(), opt), { loss, optimizer: opt, batches: () => [both] });
    expect(acc.step).toBe(1);
    const [x, y] = [await leafData(acc.params), await leafData(one.params)];
    x.flat().forEach((v, i) => expect(v).toBeCloseTo(y.flat()[i], 5));
  });

  test('early stopping after `patience` evaluations without improvement; abort stops cleanly; JSONL log', async () => {
    setBackend('cpu');
    const opt = adamw({ lr: 0 }); // nothing changes, so validation never improves after the first eval
    const log = join(mkdtempSync(join(tmpdir(), 'llm-modules-log-')), 'metrics.jsonl');
    const stopped = await train(initialState(params0(), opt), {
      loss, optimizer: opt, batches, epochs: 10, validation: () => batches(99), evalEvery: 2, earlyStopping: { patience: 2 }, observers: [jsonlObserver(log)],
    });
    expect(stopped.step).toBe(6); // evals at 2 (best), 4, 6 (2 without improvement)
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.type === 'eval').length).toBe(3);
    expect(lines.at(-1)).toMatchObject({ type: 'end', reason: 'early-stopping' });
    const ctrl = new AbortController();
    const aborted = await train(initialState(params0(), opt), { loss, optimizer: opt, batches, epochs: 10, signal: ctrl.signal, observers: [(e) => void (e.type === 'step' && e.step === 3 && ctrl.abort())] });
    expect(aborted.step).toBe(3);
  });
});
