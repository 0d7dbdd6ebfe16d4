/** The synthetic Bespoke-Stratos generator: Parquet and JSONL with the same rows, read by loadRows and formatExample. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRows, loadTokenizer } from '@llm-modules/loaders';
import { formatExample } from '@llm-modules/trainer';

const here = fileURLToPath(new URL('.', import.meta.url));
const script = join(here, 'make-synthetic-stratos.mjs');
const temps: string[] = [];
afterAll(async () => {
  for (const d of temps) await rm(d, { recursive: true, force: true });
});

async function generate(...args: string[]): Promise<{ dir: string; summary: Record<string, unknown> }> {
  const dir = await mkdtemp(join(tmpdir(), 'synthetic-stratos-'));
  temps.push(dir);
  const { stdout } = await promisify(execFile)(process.execPath, [script, '--out', dir, ...args]);
  return { dir, summary: JSON.parse(stdout.trim().split('\n').at(-1)!) };
}

describe('make-synthetic-stratos.mjs', () => {
  it('writes Parquet and JSONL with the same Bespoke-Stratos rows, marked synthetic, deterministic by seed', async () => {
    const { dir, summary } = await generate('--rows', '24', '--seed', '3');
    expect(summary).toMatchObject({ rows: 24, seed: 3, synthetic: true });
    const parquet = await loadRows(join(dir, 'synthetic-stratos.parquet'));
    const jsonl = await loadRows(join(dir, 'synthetic-stratos.jsonl'));
    expect(parquet).toHaveLength(24);
    expect(parquet).toEqual(jsonl);
    for (const row of parquet) {
      if (row.kind !== 'chat') throw new Error('expected conversation rows');
      expect(row.system).toMatch(/^\[SYNTHETIC DATA/);
      expect(row.conversations.map((t) => t.from)).toEqual(['user', 'assistant']);
      expect(row.conversations[0].value).toMatch(/^\[synthetic example\]\n/);
      expect(row.conversations[1].value).toMatch(/^<\|begin_of_thought\|>\n\n[\s\S]+\n\n<\|end_of_thought\|>\n\n<\|begin_of_solution\|>\n\n[\s\S]*\\boxed\{-?\d+\}[\s\S]*\n\n<\|end_of_solution\|>$/);
    }
    // the raw JSONL has exactly the schema's keys; the Parquet footer carries synthetic = true
    const first = JSON.parse((await readFile(join(dir, 'synthetic-stratos.jsonl'), 'utf8')).split('\n')[0]);
    expect(Object.keys(first)).toEqual(['system', 'conversations']);
    expect((await readFile(join(dir, 'synthetic-stratos.parquet'))).includes('synthetic')).toBe(true);
    // same seed → same bytes, other seed → other rows
    const again = await generate('--rows', '24', '--seed', '3');
    for (const f of ['synthetic-stratos.parquet', 'synthetic-stratos.jsonl']) expect((await readFile(join(dir, f))).equals(await readFile(join(again.dir, f)))).toBe(true);
    const other = await generate('--rows', '24', '--seed', '4');
    expect(await loadRows(join(other.dir, 'synthetic-stratos.jsonl'))).not.toEqual(jsonl);
  });

  it('lengths are long-tailed (thousands of characters, some over 4,096 Qwen2 tokens in the paper format)', async () => {
    const { dir } = await generate('--rows', '48', '--seed', '0');
    const rows = await loadRows(join(dir, 'synthetic-stratos.parquet'));
    const chars = rows.map((r) => (r.kind === 'chat' ? r.conversations[1].value.length : 0)).sort((a, b) => a - b);
    expect(chars[chars.length >> 1]).toBeGreaterThan(2_000);
    const tok = await loadTokenizer(join(here, 'tokenizer'));
    const tokens = rows.map((r) => formatExample(r, tok, { format: 'paper' }).inputIds.length);
    expect(tokens.some((n) => n > 4096)).toBe(true);
    expect(tokens.filter((n) => n <= 4096).length).toBeGreaterThan(rows.length / 2);
    const text = tok.decode(formatExample(rows[0], tok, { format: 'paper', appendEos: false }).inputIds);
    expect(text.startsWith('System:\n\n**[SYNTHETIC DATA')).toBe(true);
    expect(text).toContain('User:\n\n[synthetic example]');
  });

  it('refuses bad options with one line', async () => {
    const run = promisify(execFile)(process.execPath, [script, '--rows', 'many']);
    await expect(run).rejects.toMatchObject({ code: 1, stderr: 'make-synthetic-stratos: --rows must be an integer ≥ 1\n' });
  });
});
