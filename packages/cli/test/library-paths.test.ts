/**
 * The command line is a thin shell over the libraries: `train` on a bridge config writes what the trainer's
 * `trainBridge` writes from code, and `generate` on a bridge folder prints what the one `generate` of the
 * transformer package decodes from the composed model's decoding view.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadBridge } from '@llm-modules/bridge';
import { loadSafetensorsAsTensors } from '@llm-modules/loaders';
import { setBackend } from '@llm-modules/tensor';
import { checkTrainConfig, trainBridge } from '@llm-modules/trainer';
import { generate } from '@llm-modules/transformer';
import { main } from '../src/index.js';
import { bridgeSetup, io, lastJson } from './bridge-setup.js';

describe('the CLI calls the library', () => {
  test('train (bridge mode) = trainBridge; generate on the folder = generate(model.decoding)', async () => {
    setBackend('cpu');
    const { file, dir } = bridgeSetup({ teacherCache: undefined, training: { batchSize: 2, maxSteps: 2, backend: 'cpu' } });
    expect(await main(['train', '--config', file, '--json'], io().io)).toBe(0);
    const cfg = checkTrainConfig({ ...JSON.parse(readFileSync(file, 'utf8')), output: 'lib' }, file);
    const result = await trainBridge(cfg, { configFile: file });
    expect(result.steps).toBe(2);
    const [cli, lib] = await Promise.all(['out', 'lib'].map((o) => loadSafetensorsAsTensors(join(dir, o, 'bridge.safetensors'))));
    expect(Object.keys(cli).sort()).toEqual(Object.keys(lib).sort());
    for (const name of Object.keys(cli)) expect(await cli[name].data()).toEqual(await lib[name].data());

    const a = io();
    expect(await main(['generate', '--model', join(dir, 'out'), '--ids', '51,43,52,61', '--max-new-tokens', '4', '--ignore-eos', '--greedy', '--json'], a.io)).toBe(0);
    const { model, params } = await loadBridge(join(dir, 'out'));
    const { sequences } = await generate(model.decoding, params, [51, 43, 52, 61], { maxNewTokens: 4, stopTokens: [] });
    expect(lastJson(a.out).generated_ids).toEqual(sequences[0]);
  });
});
