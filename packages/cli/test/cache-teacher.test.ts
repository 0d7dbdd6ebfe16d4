import { describe, expect, test } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRows, loadTokenizer } from '@llm-modules/loaders';
import { loadPretrained } from '@llm-modules/transformer';
import { cacheFingerprint, formatExample, openTeacherCache } from '@llm-modules/trainer';
import { main } from '../src/index.js';
import { defaultDemoDir } from '../src/commands/demo.js';
import { cacheOrder } from '@llm-modules/trainer';

const io = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) } };
};

const teacherDir = join(defaultDemoDir(), 'teacher');

function data(rows: unknown[]): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'llm-modules-cache-teacher-'));
  const file = join(dir, 'traces.jsonl');
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return { dir, file };
}

describe('llm-modules cache-teacher', () => {
  test('writes a fingerprinted cache that openTeacherCache accepts for the same teacher and data', async () => {
    const { dir, file } = data([{ text: '3+4=7, so A:7' }, { text: '9%4=1, so A:1' }, { text: '12+13=25, so A:25' }]);
    const out = join(dir, 'cache');
    const a = io();
    expect(await main(['cache-teacher', '--model', teacherDir, '--data', file, '--out', out, '--json'], a.io)).toBe(0);
    const report = JSON.parse(a.out.join('').trim().split('\n').at(-1)!);
    expect(report).toMatchObject({ examples: 3, hidden_size: 64 });
    const teacher = await loadPretrained(teacherDir);
    const tok = await loadTokenizer(teacherDir);
    // the cache holds the rows in the order train uses too (sorted by token ids)
    const examples = cacheOrder((await loadRows(file)).map((r) => formatExample(r, tok))).ordered;
    expect(report.tokens).toBe(examples.reduce((s, e) => s + e.inputIds.length, 0));
    const fp = await cacheFingerprint({ teacherConfig: teacher.model.config, teacherParams: teacher.params, examples, settings: { layer: -1 } });
    const cache = await openTeacherCache(out, fp);
    expect(cache.size).toBe(3);
    // another data set's fingerprint is refused
    const other = await cacheFingerprint({ teacherConfig: teacher.model.config, teacherParams: teacher.params, examples: examples.slice(1), settings: { layer: -1 } });
    await expect(openTeacherCache(out, other)).rejects.toThrow(/made for|different|fingerprint|data/i);
  }, 30_000);

  test('bad input is one line and exit 1, with no cache left behind', async () => {
    const good = data([{ text: '3+4=7' }]);
    const notAModel = mkdtempSync(join(tmpdir(), 'llm-modules-not-a-model-'));
    const busy = join(good.dir, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'notes.txt'), 'mine');
    const cases: [string[], RegExp, string][] = [
      [['--model', teacherDir, '--data', join(good.dir, 'missing.jsonl'), '--out', join(good.dir, 'c1')], /missing\.jsonl/, join(good.dir, 'c1')],
      [['--model', notAModel, '--data', good.file, '--out', join(good.dir, 'c2')], /config\.json|not a model|no such/i, join(good.dir, 'c2')],
      [['--model', teacherDir, '--data', data([{ input_ids: [1, 2, 999] }]).file, '--out', join(good.dir, 'c3')], /token id 999/, join(good.dir, 'c3')],
      [['--model', teacherDir, '--data', good.file, '--out', busy, '--format', 'paper'], /not a teacher cache/, ''],
      [['--model', teacherDir, '--data', good.file, '--out', join(good.dir, 'c5'), '--format', 'alpaca'], /--format/, join(good.dir, 'c5')],
    ];
    for (const [args, msg, out] of cases) {
      const a = io();
      expect(await main(['cache-teacher', ...args], a.io)).toBe(1);
      const err = a.err.join('');
      expect(err).toMatch(msg);
      expect(err).toMatch(/^llm-modules: [^\n]*\n$/);
      if (out) expect(existsSync(out)).toBe(false);
    }
    expect(readdirSync(busy)).toEqual(['notes.txt']);
  }, 30_000);
});
