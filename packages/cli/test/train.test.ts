import { describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/index.js';
// @ts-expect-error a plain .mjs script without types
import { writeByteTokenizer } from '../../../scripts/make-byte-tokenizer.mjs';

const tiny = { model_type: 'gpt_neo', vocab_size: 257, hidden_size: 16, num_layers: 1, num_heads: 2, intermediate_size: 32, max_position_embeddings: 16, attention_types: [[['global'], 1]], bos_token_id: 256, eos_token_id: 256 };

function setup(training: object): string {
  const dir = mkdtempSync(join(tmpdir(), 'llm-modules-cli-train-'));
  writeByteTokenizer(join(dir, 'tok'));
  const rows = Array.from({ length: 40 }, (_, i) => JSON.stringify({ text: `${i % 7}*2=${(i % 7) * 2}` }));
  writeFileSync(join(dir, 'data.jsonl'), `${rows.join('\n')}\n`);
  const cfg = { mode: 'lm', model: { config: tiny }, tokenizer: 'tok', data: { train: 'data.jsonl' }, output: 'out', training: { backend: 'cpu', batchSize: 4, ...training } };
  writeFileSync(join(dir, 'train.json'), JSON.stringify(cfg));
  return join(dir, 'train.json');
}

const io = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) } };
};

describe('llm-modules train', () => {
  test('--json prints a summary on the last line; the run folder loads with generate', async () => {
    const file = setup({ epochs: 1 });
    const a = io();
    expect(await main(['train', '--config', file, '--json'], a.io)).toBe(0);
    const summary = JSON.parse(a.out.join('').trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ steps: 9, stopped: 'done', train_examples: 36, validation_examples: 4 });
    const g = io();
    expect(await main(['generate', '--model', summary.output, '--prompt', '3*2=', '--max-new-tokens', '2', '--greedy', '--json'], g.io)).toBe(0);
    expect(JSON.parse(g.out.join('').trim().split('\n').at(-1)!).generated_ids.length).toBeLessThanOrEqual(2);
  });

  test('a bad config is one line on stderr and exit code 1, with no run folder written', async () => {
    const file = setup({ epochs: 'many' });
    const a = io();
    expect(await main(['train', '--config', file], a.io)).toBe(1);
    expect(a.err.join('')).toMatch(/^llm-modules: .*train\.json: \/training\/epochs must be integer\n$/);
    expect(existsSync(join(file, '..', 'out'))).toBe(false);
  });

  test('SIGINT stops after the current step, saves a checkpoint and exits 130; --resume continues', async () => {
    const file = setup({ epochs: 50 });
    const metrics = join(file, '..', 'out', 'metrics.jsonl');
    const poll = setInterval(() => {
      if (existsSync(metrics) && readFileSync(metrics, 'utf8').includes('"type":"step"')) {
        clearInterval(poll);
        process.emit('SIGINT');
      }
    }, 5);
    const a = io();
    expect(await main(['train', '--config', file, '--json'], a.io)).toBe(130);
    const summary = JSON.parse(a.out.join('').trim().split('\n').at(-1)!);
    expect(summary.stopped).toBe('aborted');
    expect(summary.steps).toBeLessThan(450);
    expect(existsSync(join(file, '..', 'out', 'checkpoint', 'checkpoint.msgpack'))).toBe(true);
    const b = io();
    const cfg = JSON.parse(readFileSync(file, 'utf8'));
    cfg.training.maxSteps = summary.steps + 2;
    writeFileSync(file, JSON.stringify(cfg));
    expect(await main(['train', '--config', file, '--resume', '--json'], b.io)).toBe(0);
    expect(JSON.parse(b.out.join('').trim().split('\n').at(-1)!).steps).toBe(summary.steps + 2);
  });
});
