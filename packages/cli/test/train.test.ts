import { describe, expect, test } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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

describe('llm-modules train: bad input is one line, exit 1, no run folder', () => {
  const fails = async (file: string, msg: RegExp) => {
    const a = io();
    expect(await main(['train', '--config', file], a.io)).toBe(1);
    const err = a.err.join('');
    expect(err).toMatch(msg);
    expect(err).toMatch(/^llm-modules: [^\n]*\n$/);
    expect(a.out.join('')).toBe('');
    expect(existsSync(join(file, '..', 'out'))).toBe(false);
  };
  const edit = (file: string, change: (cfg: { data: Record<string, unknown>; model: unknown }) => void) => {
    const cfg = JSON.parse(readFileSync(file, 'utf8'));
    change(cfg);
    writeFileSync(file, JSON.stringify(cfg));
    return file;
  };

  test('a missing data file', async () => {
    await fails(edit(setup({ epochs: 1 }), (c) => (c.data.train = 'nowhere.jsonl')), /nowhere\.jsonl/);
  });

  test('a dataset row without conversations when a chat format is configured', async () => {
    const file = edit(setup({ epochs: 1 }), (c) => Object.assign(c.data, { train: 'chat.jsonl', format: 'chatml', lossOn: 'assistant' }));
    const ok = { conversations: [{ from: 'user', value: '1*2=' }, { from: 'assistant', value: '2' }] };
    writeFileSync(join(file, '..', 'chat.jsonl'), [ok, ok, { system: 'be brief', reply: '2' }, ok].map((r) => JSON.stringify(r)).join('\n') + '\n');
    await fails(file, /chat\.jsonl: line 3: .*conversations/);
  });

  test('a model folder of the wrong type', async () => {
    const file = setup({ epochs: 1 });
    const dir = join(file, '..', 'bert');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'bert', vocab_size: 257, hidden_size: 16 }));
    await fails(edit(file, (c) => (c.model = { pretrained: 'bert' })), /bert.*model_type|model_type.*bert/);
  });
});
