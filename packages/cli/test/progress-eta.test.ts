/** The train progress ETA right after `--resume`: time spent before the first step (skipping consumed batches) is not a step's time. */
import { describe, expect, test } from 'vitest';
import { progressObserver, type TrainState } from '@llm-modules/trainer';

describe('progress ETA after a resume', () => {
  test('a slow start (skipping 100 consumed batches) does not inflate the ETA', async () => {
    const lines: string[] = [];
    const stream = { isTTY: false, write: (s: string) => void lines.push(s) } as unknown as NodeJS.WriteStream;
    const observe = progressObserver({ stream, every: 1 });
    const state = {} as TrainState;
    await observe({ type: 'start', step: 100, totalSteps: 110 }, state);
    await new Promise((r) => setTimeout(r, 600)); // the resumed loop skipping batches before its first step
    // one step of 10 ms: 9 more steps take about 0.09 s (before the fix: 9 × 0.6 s = 5.4 s, "eta 5s")
    await observe({ type: 'step', step: 101, epoch: 3, loss: 1, gradNorm: 1, lr: null, tokens: 100, tokensPerSecond: 10_000, seconds: 0.01 }, state);
    expect(lines.at(-1)).toMatch(/train step 101\/110 loss 1\.0000 \d+ tok\/s eta 0s\n/);
  });
});
