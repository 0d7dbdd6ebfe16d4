/**
 * Bridge training from code alone: `trainBridge` (and `runTrainConfig`, which runs either mode) trains a tiny
 * bridge over the shipped knowledge-transfer teacher and writes a bridge folder the bridge package loads and the
 * one `generate` decodes. No command line is involved.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBridge } from '@llm-modules/bridge';
import { loadSafetensorsAsTensors } from '@llm-modules/loaders';
import { setBackend } from '@llm-modules/tensor';
import { generate } from '@llm-modules/transformer';
import { runTrainConfig, trainBridge, TrainConfigError } from '../src/node.js';
import { example, tinyBridgeConfig } from './tiny-bridge-config.js';

const config = (output: string, extra: object = {}) => tinyBridgeConfig(output, { variant: 'enhanced', options: { layers: 1, heads: 2, adapterDim: 8 } }, 4, extra);

beforeAll(() => setBackend('cpu'));

describe('trainBridge: bridge training as a library function', () => {
  it('trains a tiny bridge from a config object and writes a folder that loads and generates', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'train-bridge-')), 'run');
    const result = await trainBridge(config(out), { baseDir: example });
    expect(result).toMatchObject({ output: out, steps: 4, reason: 'max-steps' });
    expect(result.trainExamples + result.validationExamples + result.droppedExamples).toBe(Math.round(1120 * 0.02)); // facts.jsonl has 1,120 rows
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type?: string; loss?: number });
    const losses = metrics.filter((m) => m.type === 'step').map((m) => m.loss!);
    expect(losses).toHaveLength(4);
    expect(losses.every(Number.isFinite)).toBe(true);
    const { model, params } = await loadBridge(out);
    expect(model.bridge.name).toBe('enhanced');
    const saved = await loadSafetensorsAsTensors(join(out, 'bridge.safetensors'));
    expect(Object.keys(saved).sort()).toEqual([...model.trainableParams.keys()].sort());
    const { sequences } = await generate(model.decoding, params, [52, 43, 49], { maxNewTokens: 3, stopTokens: [] });
    expect(sequences[0]).toHaveLength(3);
  });

  it('runTrainConfig runs bridge configs too (one entry for both modes): the same run gives the same parameters', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'train-bridge-'));
    await trainBridge(config(join(dir, 'a'), { training: { maxSteps: 2, batchSize: 4, seed: 1 } }), { baseDir: example });
    await runTrainConfig(config(join(dir, 'b'), { training: { maxSteps: 2, batchSize: 4, seed: 1 } }), { baseDir: example });
    const [a, b] = await Promise.all(['a', 'b'].map((r) => loadSafetensorsAsTensors(join(dir, r, 'bridge.safetensors'))));
    for (const name of Object.keys(a)) expect(await b[name].data()).toEqual(await a[name].data());
  });

  it('a mistake in the bridge section is one line naming the config', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'train-bridge-')), 'run');
    const bad = config(out, { bridge: { variant: 'enhanced', options: { hedas: 2 } } });
    await expect(trainBridge(bad, { baseDir: example, configFile: 'mine.json' })).rejects.toThrow(new TrainConfigError('mine.json', 'bridge.options: unknown option "hedas" for variant "enhanced" (did you mean "heads"?); known: layers, heads, adapterDim, dropout, causal, intermediateDim'));
  });
});
