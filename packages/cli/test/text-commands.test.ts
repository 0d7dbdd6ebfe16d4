/** generate --chat, decode, tokenize --file / stdin: text in and out of the tokenizer (made-up ASCII tokenizer: id = code point − 32). */
import { describe, expect, test } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { tokenize } from '../src/commands/tokenize.js';
import { lastJson, run } from './run.js';

const fixtures = fileURLToPath(new URL('../../transformer/test/fixtures/', import.meta.url));
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0) - 32);

/** The gptneo fixture with the ASCII tokenizer, optionally with a chat template. */
function neo(chatTemplate?: string): string {
  const d = mkdtempSync(join(tmpdir(), 'llm-modules-text-'));
  for (const f of ['config.json', 'generation_config.json', 'model.safetensors']) copyFileSync(join(fixtures, 'models', 'gptneo', f), join(d, f));
  copyFileSync(join(fixtures, 'tokenizer-ascii', 'tokenizer.json'), join(d, 'tokenizer.json'));
  const cfg = JSON.parse(readFileSync(join(fixtures, 'tokenizer-ascii', 'tokenizer_config.json'), 'utf8'));
  writeFileSync(join(d, 'tokenizer_config.json'), JSON.stringify(chatTemplate ? { ...cfg, chat_template: chatTemplate } : cfg));
  return d;
}
const TEMPLATE = '{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}';

describe('generate --chat', () => {
  test("wraps the prompt in the tokenizer's chat template (with --system first)", async () => {
    const dir = neo(TEMPLATE);
    const r = await run('generate', '--model', dir, '--prompt', 'hi', '--chat', '--max-new-tokens', '1', '--backend', 'cpu', '--json');
    expect(r.code).toBe(0);
    expect(lastJson(r.out).prompt_ids).toEqual(ascii('[user]hi[assistant]'));
    const s = await run('generate', '--model', dir, '--prompt', 'hi', '--chat', '--system', 'be', '--max-new-tokens', '1', '--backend', 'cpu', '--json');
    expect(lastJson(s.out).prompt_ids).toEqual(ascii('[system]be[user]hi[assistant]'));
  });

  test('without a chat template, or without --prompt, it is one line', async () => {
    const none = await run('generate', '--model', neo(), '--prompt', 'hi', '--chat', '--backend', 'cpu');
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/^llm-modules: .*tokenizer_config\.json: no chat_template[^\n]*\n$/);
    const ids = await run('generate', '--model', neo(TEMPLATE), '--ids', '1,2', '--chat');
    expect(ids.err).toMatch(/--chat needs --prompt TEXT/);
  });
});

describe('decode', () => {
  test('the text of ids, special tokens out unless --keep-special', async () => {
    const dir = neo();
    const ids = [...ascii('Hello'), 95].join(',');
    expect((await run('decode', '--model', dir, '--ids', ids)).out).toBe('Hello\n');
    expect(lastJson((await run('decode', '--model', dir, '--ids', ids, '--keep-special', '--json')).out)).toEqual({ text: 'Hello<|endoftext|>' });
    const bad = await run('decode', '--model', dir, '--ids', '1,500');
    expect(bad.code).toBe(1);
    expect(bad.err).toBe("llm-modules: --ids: token id 500 is outside the tokenizer's vocabulary [0, 96)\n");
  });
});

describe('tokenize --file and stdin', () => {
  test('reads a file, or stdin (--file - or a pipe)', async () => {
    const dir = neo();
    const file = join(dir, 'text.txt');
    writeFileSync(file, 'Hello');
    expect((await run('tokenize', '--model', dir, '--file', file)).out).toBe(`${ascii('Hello').join(' ')}\n`);
    const stdin = (text: string) => Object.assign(Readable.from([Buffer.from(text)]), { isTTY: false }) as unknown as NodeJS.ReadStream;
    const out: string[] = [];
    const io = { stdout: (s: string) => void out.push(s), stderr: () => {} };
    await tokenize({ model: dir, file: '-', json: true }, io, stdin('Hi'));
    await tokenize({ model: dir, json: true }, io, stdin('Hi!'));
    expect(out).toEqual([`${JSON.stringify({ ids: ascii('Hi') })}\n`, `${JSON.stringify({ ids: ascii('Hi!') })}\n`]);
  });

  test('a folder, a missing file, or both --text and --file are one line', async () => {
    const dir = neo();
    expect((await run('tokenize', '--model', dir, '--file', dir)).err).toBe(`llm-modules: ${dir}: is a folder, expected a text file\n`);
    expect((await run('tokenize', '--model', dir, '--file', join(dir, 'nope.txt'))).err).toBe(`llm-modules: ${join(dir, 'nope.txt')}: cannot read: no such file or folder\n`);
    expect((await run('tokenize', '--model', dir, '--file', join(dir, 'x'), '--text', 'a')).err).toMatch(/pass one of --text TEXT and --file FILE, not both/);
  });
});
