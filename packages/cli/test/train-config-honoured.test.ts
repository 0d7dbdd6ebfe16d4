/** `train` does what the config says: fields that used to be accepted and then ignored. */
import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../src/index.js';
import { loadTokenizer } from '@llm-modules/loaders';
import { formatExample } from '@llm-modules/trainer';
import { bridgeSetup, io, lastJson } from './bridge-setup.js';
import { lmSetup } from './lm-setup.js';

const firstStepLoss = (dir: string) => {
  const lines = readFileSync(join(dir, 'out', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  return lines.find((e) => e.type === 'step').loss as number;
};

describe('train: bridge mode applies the configured bridge dropout', () => {
  test('dropout 0.5 changes the first training loss; dropout 0 gives the same loss twice', async () => {
    const losses: number[] = [];
    for (const dropout of [0, 0, 0.5]) {
      const { file, dir } = bridgeSetup({ bridge: { variant: 'enhanced', options: { heads: 2, adapterDim: 8, layers: 1, dropout } }, teacherCache: undefined, training: { batchSize: 2, maxSteps: 1, backend: 'cpu' } });
      const a = io();
      expect(await main(['train', '--config', file, '--json'], a.io)).toBe(0);
      expect(lastJson(a.out).steps).toBe(1);
      losses.push(firstStepLoss(dir));
    }
    expect(losses[1]).toBe(losses[0]); // deterministic without dropout
    expect(Math.abs(losses[2] - losses[0])).toBeGreaterThan(1e-4); // before the fix the mask was never drawn: equal
  }, 60_000);

  test('with dropout, a run resumed halfway ends bit-identical to an uninterrupted one (masks keyed by epoch and batch)', async () => {
    const options = { heads: 2, adapterDim: 8, layers: 1, dropout: 0.5 };
    const straight = bridgeSetup({ bridge: { variant: 'enhanced', options }, teacherCache: undefined, training: { batchSize: 2, maxSteps: 4, epochs: 3, backend: 'cpu' } });
    expect(await main(['train', '--config', straight.file, '--json'], io().io)).toBe(0);
    const halves = bridgeSetup({ bridge: { variant: 'enhanced', options }, teacherCache: undefined, training: { batchSize: 2, maxSteps: 4, epochs: 3, backend: 'cpu' } });
    expect(await main(['train', '--config', halves.file, '--max-steps', '2', '--json'], io().io)).toBe(0);
    expect(await main(['train', '--config', halves.file, '--resume', '--json'], io().io)).toBe(0);
    const weights = (dir: string) => readFileSync(join(dir, 'out', 'bridge.safetensors'));
    expect(weights(halves.dir).equals(weights(straight.dir))).toBe(true);
  }, 60_000);
});

const lmEvents = (file: string) => readFileSync(join(file, '..', 'out', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step: number; lr: number });

describe('train: maxSteps, warm-up and BOS as configured', () => {
  test('"maxSteps" without "epochs" trains that many steps, not one epoch', async () => {
    // 40 rows, 10% validation → 36 training rows; batch 8 → 5 steps per epoch
    const file = lmSetup({ batchSize: 8, maxSteps: 7 });
    const a = io();
    expect(await main(['train', '--config', file, '--json'], a.io)).toBe(0);
    expect(lastJson(a.out)).toMatchObject({ steps: 7, stopped: 'max-steps' });
    // with both, whichever ends first: one epoch of 5
    const b = io();
    expect(await main(['train', '--config', lmSetup({ batchSize: 8, maxSteps: 7, epochs: 1 }), '--json'], b.io)).toBe(0);
    expect(lastJson(b.out)).toMatchObject({ steps: 5, stopped: 'done' });
  }, 60_000);

  test('a constant schedule with warmupSteps warms up linearly, then stays flat', async () => {
    const file = lmSetup({ maxSteps: 6 }, { optimizer: { lr: 0.01, schedule: { kind: 'constant', warmupSteps: 4 } } });
    expect(await main(['train', '--config', file, '--json'], io().io)).toBe(0);
    const lrs = lmEvents(file).filter((e) => e.type === 'step').map((e) => e.lr);
    // 0.01 · step / 4 for steps 1..4, then 0.01
    [0.0025, 0.005, 0.0075, 0.01, 0.01, 0.01].forEach((want, i) => expect(lrs[i]).toBeCloseTo(want, 12));
  }, 60_000);

  test('data.prependBos starts every example with the BOS token, which is never a target', async () => {
    const tok = await loadTokenizer(join(lmSetup({}), '..', 'tok'));
    const plain = formatExample({ kind: 'text', text: '3*2=6' }, tok, { appendEos: false });
    const withBos = formatExample({ kind: 'text', text: '3*2=6' }, tok, { appendEos: false, prependBos: true });
    expect(withBos.inputIds).toEqual([256, ...plain.inputIds]); // <|endoftext|> is id 256 in the byte tokenizer
    expect(withBos.lossMask[0]).toBe(0);
    // and the config accepts it
    const file = lmSetup({ maxSteps: 1 }, { data: { train: 'data.jsonl', prependBos: true } });
    const a = io();
    expect(await main(['train', '--config', file, '--dry-run', '--json'], a.io)).toBe(0);
  }, 60_000);
});
