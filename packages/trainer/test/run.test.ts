import { describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPretrained } from '@llm-modules/transformer';
import { checkTrainConfig, readTrainConfig, runTrainConfig, TrainConfigError } from '@llm-modules/trainer';
// @ts-expect-error a plain .mjs script without types
import { writeByteTokenizer } from '../../../scripts/make-byte-tokenizer.mjs';

const tiny = { model_type: 'gpt_neo', vocab_size: 257, hidden_size: 32, num_layers: 2, num_heads: 4, intermediate_size: 64, max_position_embeddings: 32, window_size: 8, attention_types: [[['global', 'local'], 1]], bos_token_id: 256, eos_token_id: 256 };

function world() {
  const dir = mkdtempSync(join(tmpdir(), 'llm-modules-run-'));
  writeByteTokenizer(join(dir, 'tok'));
  const rows = [];
  for (let a = 0; a < 6; a++) for (let b = 0; b < 6; b++) rows.push(JSON.stringify({ text: `${a}+${b}=${a + b}` }));
  writeFileSync(join(dir, 'facts.jsonl'), `${rows.join('\n')}\n`);
  const config = {
    mode: 'lm', model: { config: tiny }, tokenizer: 'tok', output: 'run',
    data: { train: 'facts.jsonl', validationFraction: 0.1 },
    optimizer: { lr: 0.01, schedule: { kind: 'cosine', warmupSteps: 2 } },
    training: { epochs: 6, batchSize: 8, clipNorm: 1, seed: 1, backend: 'cpu' },
  };
  writeFileSync(join(dir, 'train.json'), JSON.stringify(config));
  return dir;
}

describe('train configs', () => {
  test('lm mode trains a GPT-Neo from scratch and writes a Hugging Face folder that loads', async () => {
    const dir = world();
    const file = join(dir, 'train.json');
    const res = await runTrainConfig(await readTrainConfig(file), { configFile: file });
    expect(res.trainExamples).toBe(32);
    expect(res.validationExamples).toBe(4);
    expect(res.steps).toBe(24); // 4 batches × 6 epochs
    const log = readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const steps = log.filter((e) => e.type === 'step');
    const early = steps.slice(0, 4).reduce((s, e) => s + e.loss, 0) / 4;
    const late = steps.slice(-4).reduce((s, e) => s + e.loss, 0) / 4;
    expect(late).toBeLessThan(early * 0.7);
    expect(existsSync(join(dir, 'run', 'checkpoint', 'checkpoint.msgpack'))).toBe(true);
    const { model, params, tokenizer } = await loadPretrained(join(dir, 'run'));
    expect(model.config.model_type).toBe('gpt_neo');
    expect(Object.keys(params).length).toBeGreaterThan(10);
    expect(tokenizer?.encode('1+2=')).toEqual([49, 43, 50, 61]);
  });

  test('bad configs: one line naming the file and the field', async () => {
    const base = { mode: 'lm', model: { config: tiny }, tokenizer: 't', data: { train: 'x.jsonl' }, output: 'o' };
    const err = (json: unknown) => {
      try {
        checkTrainConfig(json, 'train.json');
      } catch (e) {
        expect(e).toBeInstanceOf(TrainConfigError);
        expect((e as Error).message).not.toContain('\n');
        return (e as Error).message;
      }
      throw new Error('accepted a bad config');
    };
    expect(err({ ...base, epochs: 3 })).toBe('train.json: unknown field "epochs" in (top level)');
    expect(err({ ...base, training: { batchSize: 'eight' } })).toBe('train.json: /training/batchSize must be integer');
    expect(err({ ...base, mode: 'rl' })).toMatch(/^train\.json: \/mode must be one of "lm"/);
    expect(err({ ...base, model: {} })).toMatch(/needs exactly one of "config" or "pretrained"/);
    const { output: _o, ...noOutput } = base;
    expect(err(noOutput)).toBe('train.json: missing field "output" in (top level)');
    await expect(readTrainConfig('/nonexistent/train.json')).rejects.toThrow(/^\/nonexistent\/train\.json: cannot read the config: no such file$/);
    const dir = mkdtempSync(join(tmpdir(), 'llm-modules-cfg-'));
    writeFileSync(join(dir, 'bad.json'), '{"mode": ');
    await expect(readTrainConfig(join(dir, 'bad.json'))).rejects.toThrow(/bad\.json: invalid JSON/);
  });
});
