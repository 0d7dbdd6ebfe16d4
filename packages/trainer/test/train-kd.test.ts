/**
 * `training.kd`: distillation from the frozen teacher in both modes — a bridge (its own teacher) and the student
 * alone (lm mode, `kd.teacher`). The first step's loss is the cross-entropy plus weight × KD at the same
 * initial parameters, so it grows linearly in the weight; the config's mistakes are one line naming the field.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { setBackend } from '@llm-modules/tensor';
import { checkTrainConfig, runTrainConfig, trainBridge, TrainConfigError } from '../src/node.js';
import { example, tinyBridgeConfig } from './tiny-bridge-config.js';

beforeAll(() => setBackend('cpu'));

const bridge = { variant: 'gated-tokens', options: { heads: 2 } };
const firstLoss = (out: string) => {
  const rows = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type?: string; loss?: number });
  return rows.find((r) => r.type === 'step')!.loss!;
};
const tmp = () => mkdtempSync(join(tmpdir(), 'train-kd-'));
const training = (kd?: object) => ({ training: { maxSteps: 1, batchSize: 4, seed: 1, ...(kd ? { kd } : {}) } });

describe('training.kd', () => {
  it('a bridge: the first loss is CE + weight · KD (linear in the weight, KD > 0 at init)', async () => {
    const dir = tmp();
    const losses = [];
    for (const [name, kd] of [['none', undefined], ['w1', { weight: 1, temperature: 2 }], ['w3', { weight: 3, temperature: 2 }]] as const) {
      await trainBridge(tinyBridgeConfig(join(dir, name), bridge, 1, training(kd)), { baseDir: example });
      losses.push(firstLoss(join(dir, name)));
    }
    const [ce, w1, w3] = losses;
    expect(w1 - ce).toBeGreaterThan(0.01);
    expect(w3 - ce).toBeCloseTo(3 * (w1 - ce), 3);
  });

  it('the student alone (lm mode) distils from kd.teacher; a teacher folder that does not load is one line', async () => {
    const dir = tmp();
    const lm = (out: string, kd?: object) =>
      checkTrainConfig({
        mode: 'lm',
        model: { config: { model_type: 'gpt_neo', vocab_size: 347, hidden_size: 16, num_layers: 1, num_heads: 2, intermediate_size: 32, max_position_embeddings: 48, attention_types: [[['global'], 1]] } },
        tokenizer: 'tokenizer',
        data: { train: 'facts.jsonl', maxLength: 40, subset: 0.02, validationFraction: 0.25 },
        ...training(kd),
        output: out,
      }, 'lm.json');
    await runTrainConfig(lm(join(dir, 'ce')), { baseDir: example });
    await runTrainConfig(lm(join(dir, 'kd'), { weight: 2, temperature: 1, teacher: 'teacher' }), { baseDir: example });
    expect(firstLoss(join(dir, 'kd')) - firstLoss(join(dir, 'ce'))).toBeGreaterThan(0.01);
    await expect(runTrainConfig(lm(join(dir, 'x'), { weight: 1, teacher: 'nowhere' }), { baseDir: example, configFile: 'lm.json' })).rejects.toThrow(/^lm\.json: training\.kd\.teacher: /);
  });

  it('mistakes are one line naming the file and the field', async () => {
    const bad = (extra: object, message: string | RegExp) => expect(() => checkTrainConfig(tinyBridgeConfig('o', bridge, 1, extra), 'kd.json')).toThrow(message);
    // the schema: tinyBridgeConfig checks the config as 'code'
    bad(training({ weight: 1, temperature: 0 }), 'code: /training/kd/temperature must be > 0');
    bad(training({ weight: -1 }), 'code: /training/kd/weight must be >= 0');
    bad(training({ temperature: 2 }), 'code: missing field "weight" in /training/kd');
    bad(training({ weight: 1, temprature: 2 }), 'code: unknown field "temprature" in /training/kd');
    bad(training({ weight: 1, weighting: 'all' }), 'code: /training/kd/weighting must be one of "uniform", "label-probability"');
    // the mode: a bridge distils from its teacher, and a cache holds no logits
    const run = (cfg: object) => trainBridge(checkTrainConfig(cfg, 'kd.json'), { baseDir: example, configFile: 'kd.json', dryRun: true });
    const base = tinyBridgeConfig(join(tmp(), 'r'), bridge, 1, training({ weight: 1, teacher: 'teacher' }));
    await expect(run(base)).rejects.toThrow(new TrainConfigError('kd.json', 'training.kd.teacher is for mode "lm": a bridge distils from its own teacher'));
    const cached = tinyBridgeConfig(join(tmp(), 'r'), bridge, 1, { ...training({ weight: 1 }), teacherCache: 'cache' });
    await expect(run(cached)).rejects.toThrow("kd.json: training.kd needs the teacher's logits each step, which teacherCache does not hold: drop teacherCache or training.kd");
    const lmNoTeacher = { ...tinyBridgeConfig('o', bridge, 1), mode: 'lm', teacher: undefined, bridge: undefined, ...training({ weight: 1 }) };
    await expect(runTrainConfig(checkTrainConfig(JSON.parse(JSON.stringify(lmNoTeacher)), 'kd.json'), { baseDir: example, configFile: 'kd.json', dryRun: true })).rejects.toThrow('kd.json: training.kd.teacher: mode "lm" needs the frozen teacher\'s model folder to distil from');
  });
});
