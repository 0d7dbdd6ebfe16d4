/** `llm-modules eval` and `llm-modules generate` on the tiny Hugging Face fixture models. */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { lastJson, run as runCli } from './run.js';

const fixtures = fileURLToPath(new URL('../../transformer/test/fixtures/', import.meta.url));
const model = (name: string) => join(fixtures, 'models', name);
const golden = async (name: string) => JSON.parse(await readFile(join(model(name), 'golden.json'), 'utf8'));

/** The CLI on the cpu backend unless a test names one. */
const run = (...argv: string[]) => runCli(...(argv.includes('--backend') ? argv : [...argv, '--backend', 'cpu']));
const oneLineError = (r: { code: number; out: string; err: string }, pattern: RegExp) => {
  expect(r.code).toBe(1);
  expect(r.err.trimEnd().split('\n')).toHaveLength(1);
  expect(r.err).toMatch(/^llm-modules: /);
  expect(r.err).not.toMatch(/internal error|\bat .*:\d+:\d+/);
  expect(r.err).toMatch(pattern);
};

const temps: string[] = [];
afterAll(async () => {
  for (const d of temps) await rm(d, { recursive: true, force: true });
});
async function temp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'llm-cli-model-'));
  temps.push(d);
  return d;
}
/** The gptneo fixture plus the made-up ASCII tokenizer (ids = code point − 32, eos 95). */
async function neoWithTokenizer(): Promise<string> {
  const d = await temp();
  for (const f of ['config.json', 'generation_config.json', 'model.safetensors']) await copyFile(join(model('gptneo'), f), join(d, f));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) await copyFile(join(fixtures, 'tokenizer-ascii', f), join(d, f));
  return d;
}
async function dataFile(rows: unknown[], name = 'data.jsonl'): Promise<string> {
  const file = join(await temp(), name);
  await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

describe('llm-modules eval', () => {
  it('--json: the mean next-token loss over every non-pad token equals the golden batch loss', async () => {
    for (const name of ['gptneo', 'qwen2-tied', 'qwen2-untied-bf16-sharded']) {
      const c = (await golden(name)).cases.batch_padded;
      const [B, T] = c.input_ids.shape;
      const rows = Array.from({ length: B }, (_, b) => ({ input_ids: c.input_ids.data.slice(b * T, (b + 1) * T).filter((_: number, t: number) => c.attention_mask.data[b * T + t]) }));
      const r = await run('eval', '--model', model(name), '--data', await dataFile(rows), '--json', '--batch-size', '1');
      expect(r).toMatchObject({ code: 0, err: '' });
      const out = lastJson(r.out);
      expect(Object.keys(out).sort()).toEqual(['loss', 'perplexity', 'tokens']);
      expect(out.tokens).toBe(6 + 10);
      expect(Math.abs(out.loss - c.loss)).toBeLessThanOrEqual(1e-5);
      expect(out.perplexity).toBeCloseTo(Math.exp(out.loss), 10);
    }
  });

  it('tokenizes {text} rows with the folder tokenizer; batches do not change the result; plain output', async () => {
    const dir = await neoWithTokenizer();
    const texts = ['Hello world', 'The quick brown fox', 'a', 'ok!'];
    const asIds = texts.map((t) => ({ input_ids: [...t].map((ch) => ch.charCodeAt(0) - 32) }));
    const a = lastJson((await run('eval', '--model', dir, '--data', await dataFile(texts.map((text) => ({ text }))), '--json')).out);
    const b = lastJson((await run('eval', '--model', dir, '--data', await dataFile(asIds), '--json', '--batch-size', '3')).out);
    expect(a.tokens).toBe(10 + 18 + 0 + 2);
    expect(b.tokens).toBe(a.tokens);
    expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-6);
    const plain = await run('eval', '--model', dir, '--data', await dataFile(texts.map((text) => ({ text }))));
    expect(plain.code).toBe(0);
    expect(plain.out).toMatch(/loss\s+\d+\.\d{6}\n/);
    expect(plain.out).toMatch(/tokens\s+30 predicted/);
  });

  it('bad input: one-line error naming the file and row, exit 1', async () => {
    const neo = model('gptneo');
    oneLineError(await run('eval', '--model', neo, '--data', '/nonexistent/rows.jsonl'), /\/nonexistent\/rows\.jsonl: cannot open/);
    oneLineError(await run('eval', '--model', neo, '--data', await dataFile([{ input_ids: [1, 2] }, { text: 'hi' }])), /data\.jsonl: row 2: a text row needs a tokenizer/);
    oneLineError(await run('eval', '--model', neo, '--data', await dataFile([{ input_ids: [1, 96, 2] }])), /row 1: token id 96 is outside the model's vocabulary \[0, 96\)/);
    oneLineError(await run('eval', '--model', neo, '--data', await dataFile([{ conversations: [{ from: 'user', value: 'x' }] }])), /conversation rows are not supported/);
    oneLineError(await run('eval', '--model', neo, '--data', await dataFile([{ input_ids: [1] }])), /no tokens to evaluate/);
    oneLineError(await run('eval', '--model', neo, '--data', await dataFile([{ nope: 1 }])), /line 1: row has none of/);
    oneLineError(await run('eval', '--model', '/nonexistent/model', '--data', await dataFile([{ input_ids: [1, 2] }])), /\/nonexistent\/model: cannot read: no such file or folder/);
    oneLineError(await run('eval', '--model', neo, '--data', await dataFile([{ input_ids: [1, 2] }]), '--batch-size', '0'), /--batch-size: expected an integer ≥ 1/);
  });
});

describe('llm-modules generate', () => {
  it('--ids … --greedy --json reproduces the golden greedy tokens, with and without the KV cache', async () => {
    for (const name of ['gptneo', 'qwen2-tied', 'qwen2-untied-bf16-sharded']) {
      const g = (await golden(name)).generation;
      for (const extra of [[], ['--no-cache']]) {
        const r = await run('generate', '--model', model(name), '--ids', g.prompt.join(','), '--max-new-tokens', '8', '--greedy', '--json', ...extra);
        expect(r).toMatchObject({ code: 0, err: '' });
        expect(r.out.trimEnd().split('\n')).toHaveLength(1);
        const { seconds, first_token_seconds, decode_tokens_per_second, ...result } = lastJson(r.out);
        expect(result).toEqual({ prompt_ids: g.prompt, generated_ids: g.tokens, text: null, finish_reason: 'length' });
        expect(first_token_seconds).toBeGreaterThan(0);
        expect(seconds).toBeGreaterThanOrEqual(first_token_seconds);
        expect(decode_tokens_per_second).toBeGreaterThan(0);
      }
    }
  });

  it('--prompt streams the text as it is generated; --json gives the same ids and text', async () => {
    const dir = await neoWithTokenizer();
    const plain = await run('generate', '--model', dir, '--prompt', 'Hello', '--max-new-tokens', '6');
    expect(plain.code).toBe(0);
    const json = lastJson((await run('generate', '--model', dir, '--prompt', 'Hello', '--max-new-tokens', '6', '--json')).out);
    expect(json.prompt_ids).toEqual([40, 69, 76, 76, 79]);
    expect(json.generated_ids).toHaveLength(json.finish_reason === 'length' ? 6 : json.generated_ids.length);
    // special tokens (<|endoftext|>, id 95) stay out of the text
    expect(json.text).toBe(String.fromCharCode(...json.generated_ids.filter((i: number) => i < 95).map((i: number) => i + 32)));
    // stdout is the continuation alone; the prompt is echoed apart, on stderr
    expect(plain.out).toBe(`${json.text}\n`);
    expect(plain.err).toBe('prompt: "Hello"\n');
    // ids without a tokenizer stream as numbers
    const ids = await run('generate', '--model', model('gptneo'), '--ids', '1,2,3', '--max-new-tokens', '3');
    expect(ids.out).toMatch(/^\d+ \d+ \d+\n$/);
  });

  it('sampling: reproducible from --seed; --top-k 1 equals greedy; a --stop string ends the text', async () => {
    const g = (await golden('qwen2-tied')).generation;
    const args = ['generate', '--model', model('qwen2-tied'), '--ids', g.prompt.join(','), '--max-new-tokens', '8', '--json', '--ignore-eos'];
    const a = lastJson((await run(...args, '--temperature', '0.8', '--top-p', '0.9', '--seed', '7')).out);
    const b = lastJson((await run(...args, '--temperature', '0.8', '--top-p', '0.9', '--seed', '7')).out);
    expect(a.generated_ids).toEqual(b.generated_ids);
    expect(lastJson((await run(...args, '--top-k', '1', '--seed', '3')).out).generated_ids).toEqual(g.tokens);
    const dir = await neoWithTokenizer();
    const full = lastJson((await run('generate', '--model', dir, '--prompt', 'Hi', '--max-new-tokens', '8', '--json', '--ignore-eos')).out);
    const stop = full.text.slice(2, 4);
    const stopped = lastJson((await run('generate', '--model', dir, '--prompt', 'Hi', '--max-new-tokens', '8', '--json', '--ignore-eos', '--stop', stop)).out);
    expect(stopped.finish_reason).toBe('stop_string');
    expect(full.text.startsWith(stopped.text)).toBe(true);
    expect(stopped.text).toContain(stop);
  });

  it('bad input: one-line errors, exit 1', async () => {
    const neo = model('gptneo');
    oneLineError(await run('generate', '--model', neo), /exactly one of --prompt TEXT and --ids/);
    oneLineError(await run('generate', '--model', neo, '--ids', '1', '--prompt', 'x'), /exactly one of/);
    oneLineError(await run('generate', '--model', neo, '--prompt', 'x'), /no tokenizer files .* pass --ids/);
    oneLineError(await run('generate', '--model', neo, '--ids', '1,x'), /--ids: expected comma-separated token ids/);
    oneLineError(await run('generate', '--model', neo, '--ids', '1,200'), /--ids: token id 200 is outside the model's vocabulary \[0, 96\)/);
    oneLineError(await run('generate', '--model', neo, '--ids', '1', '--max-new-tokens', '64'), /exceed max_position_embeddings 64/);
    oneLineError(await run('generate', '--model', neo, '--ids', '1', '--top-p', '2'), /--top-p: expected a number in/);
    oneLineError(await run('generate', '--model', neo, '--ids', '1', '--greedy', '--sample'), /exclude each other/);
    oneLineError(await run('generate', '--model', neo, '--ids', '1', '--backend', 'nope'), /unknown backend "nope"/);
  });
});
