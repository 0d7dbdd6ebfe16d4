import { describe, expect, test } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { main } from '../src/index.js';
import { bridgeSetup, io, lastJson } from './bridge-setup.js';

const QWEN2_TOKENIZER = resolve(__dirname, '../../loaders/test/fixtures/tokenizers/qwen2');

/** Run train; expect exit 1, one error line matching `msg` (after progress lines, if any), and no run folder. */
async function refuses(file: string, dir: string, msg: RegExp, args: string[] = []): Promise<void> {
  const a = io();
  expect(await main(['train', '--config', file, ...args], a.io)).toBe(1);
  const lines = a.err.join('').trim().split('\n');
  expect(lines.at(-1)).toMatch(msg);
  expect(lines.filter((l) => l.startsWith('llm-modules:'))).toHaveLength(1);
  expect(a.out.join('')).toBe('');
  expect(existsSync(join(dir, 'out'))).toBe(false);
}

const bridge = (extra: object) => ({ bridge: { variant: 'enhanced', options: { heads: 2, adapterDim: 8, layers: 1 }, ...extra } });

describe('train, mode "bridge": bad input is one line before any kernel runs', () => {
  test('a teacher or student of another width than bridge.dims', async () => {
    let s = bridgeSetup(bridge({ dims: { teacher: 1536, student: 16 } }));
    await refuses(s.file, s.dir, /bridge\.dims\.teacher is 1536 but the teacher .*teacher has hidden_size 64/);
    s = bridgeSetup(bridge({ dims: { teacher: 64, student: 768 } }));
    await refuses(s.file, s.dir, /bridge\.dims\.student is 768 but the student \(model\.config\) has hidden_size 16/);
  });

  test('a tokenizer the teacher cannot embed, or one larger than the head', async () => {
    let s = bridgeSetup({ tokenizer: QWEN2_TOKENIZER });
    await refuses(s.file, s.dir, /has 151646 ids but the teacher .* embeds only 347 \(vocab_size\)/);
    s = bridgeSetup({ head: { vocabSize: 300 } });
    await refuses(s.file, s.dir, /has 347 ids but the head has 300 rows/);
  });

  test('token ids outside the vocabulary name the file and row', async () => {
    const s = bridgeSetup({}, [{ input_ids: [1, 2, 3] }, { input_ids: [4, 400, 5] }, { input_ids: [6, 7] }]);
    await refuses(s.file, s.dir, /traces\.jsonl: row 2: token id 400 is outside the vocabulary \[0, 347\)/);
  });

  test('examples longer than the student positions', async () => {
    const s = bridgeSetup({ data: { train: 'traces.jsonl', maxLength: 64 } });
    await refuses(s.file, s.dir, /up to 64 tokens .* do not fit the student's 32 positions.*data\.cutTo/);
  });

  test('a checkpoint of another model refuses to resume', async () => {
    const s = bridgeSetup({});
    expect(await main(['train', '--config', s.file, '--max-steps', '1', '--json'], io().io)).toBe(0);
    const cfg = JSON.parse(readFileSync(s.file, 'utf8'));
    cfg.bridge.options.adapterDim = 4;
    writeFileSync(s.file, JSON.stringify(cfg));
    const a = io();
    expect(await main(['train', '--config', s.file, '--resume'], a.io)).toBe(1);
    expect(a.err.join('')).toMatch(/checkpoint: the checkpoint does not fit this run's model: .*adapter\.fc1\.weight is \[8, 16\], the run needs \[4, 16\]/);
  }, 60_000);
});

describe('train, mode "bridge": reports, --dry-run and --max-steps', () => {
  test('rows over data.maxLength are dropped and counted; cutTo cuts the rest', async () => {
    const lengths = [3, 4, 5, 10, 12, 20];
    const rows = lengths.map((n, r) => ({ input_ids: Array.from({ length: n }, (_, i) => (r * 31 + i) % 256) }));
    const s = bridgeSetup({ data: { train: 'traces.jsonl', maxLength: 8, appendEos: false, validationFraction: 0.2 } }, rows);
    const a = io();
    expect(await main(['train', '--config', s.file, '--dry-run', '--json'], a.io)).toBe(0);
    // 3 of 6 rows are longer than 8; of the 3 kept, round(0.6) = 1 is validation
    expect(lastJson(a.out)).toMatchObject({ steps: 0, stopped: 'dry-run', dropped_examples: 3, train_examples: 2, validation_examples: 1 });
    expect(a.err.join('')).toMatch(/data: 2 training and 1 validation examples; 3 dropped as longer than 8 tokens/);
    const cut = bridgeSetup({ data: { train: 'traces.jsonl', maxLength: 64, cutTo: 32, appendEos: false } }, rows);
    const b = io();
    expect(await main(['train', '--config', cut.file, '--dry-run', '--json'], b.io)).toBe(0);
    expect(lastJson(b.out)).toMatchObject({ dropped_examples: 0 });
  });

  test('--dry-run loads and checks everything, reports parameters, and writes nothing', async () => {
    const s = bridgeSetup({ head: { vocabSize: 400 } });
    const a = io();
    expect(await main(['train', '--config', s.file, '--dry-run', '--json'], a.io)).toBe(0);
    const summary = lastJson(a.out);
    expect(summary.parameters.head).toBe(400 * 16); // [vocab, student width]
    expect(a.err.join('')).toMatch(/teacher: .* \(qwen2, hidden 64\): checked; its weights are read only to fingerprint or write the cache/);
    expect(a.err.join('')).toMatch(/parameters: trainable .*× 400 rows/);
    expect(existsSync(join(s.dir, 'out'))).toBe(false);
    expect(existsSync(join(s.dir, 'cache'))).toBe(false);
    const t = bridgeSetup({ head: { vocabSize: 'tokenizer' } });
    const b = io();
    expect(await main(['train', '--config', t.file, '--dry-run', '--json'], b.io)).toBe(0);
    expect(lastJson(b.out).parameters.head).toBe(347 * 16);
  });

  test('--max-steps overrides the config; a bad value is one line', async () => {
    const s = bridgeSetup({});
    const a = io();
    expect(await main(['train', '--config', s.file, '--max-steps', '2', '--json'], a.io)).toBe(0);
    expect(lastJson(a.out)).toMatchObject({ steps: 2, stopped: 'max-steps' });
    const b = io();
    expect(await main(['train', '--config', s.file, '--max-steps', 'zero'], b.io)).toBe(1);
    expect(b.err.join('')).toMatch(/--max-steps/);
  }, 60_000);
});
