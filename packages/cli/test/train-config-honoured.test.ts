/** `train` does what the config says: fields that used to be accepted and then ignored. */
import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../src/index.js';
import { bridgeSetup, io, lastJson } from './bridge-setup.js';

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
});
