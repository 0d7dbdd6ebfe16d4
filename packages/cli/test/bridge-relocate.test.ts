/** Bridge folders move: paths against the folder, the absolute ones as a fallback, `--teacher DIR`, a fingerprint check. */
import { describe, expect, test } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/index.js';
import { bridgeSetup, io, lastJson } from './bridge-setup.js';

const generate = async (...args: string[]) => {
  const a = io();
  const code = await main(['generate', '--prompt', '3+4=', '--max-new-tokens', '3', '--ignore-eos', '--json', ...args], a.io);
  return { code, err: a.err.join(''), ids: code === 0 ? (lastJson(a.out).generated_ids as number[]) : null };
};

describe('bridge folders are relocatable', () => {
  test('moved alone it finds its teacher; a moved teacher is named with --teacher; another teacher is refused', async () => {
    const { file, dir } = bridgeSetup({ training: { batchSize: 2, maxSteps: 1, backend: 'cpu' } });
    expect(await main(['train', '--config', file, '--json'], io().io)).toBe(0);
    const saved = JSON.parse(readFileSync(join(dir, 'out', 'bridge_config.json'), 'utf8'));
    expect(saved.teacher.path).toBe('../teacher'); // against the folder
    expect(saved.teacher_fingerprint).toMatch(/^[0-9a-f]{32}$/);
    const before = await generate('--model', join(dir, 'out'));
    expect(before.code).toBe(0);

    // the folder alone moves elsewhere: the recorded absolute teacher path still finds it
    const elsewhere = join(mkdtempSync(join(tmpdir(), 'llm-modules-moved-')), 'bridge');
    cpSync(join(dir, 'out'), elsewhere, { recursive: true });
    rmSync(join(dir, 'out'), { recursive: true });
    expect((await generate('--model', elsewhere)).ids).toEqual(before.ids);

    // the teacher moves too: one line naming where it looked and the fix
    renameSync(join(dir, 'teacher'), join(dir, 'teacher-moved'));
    const lost = await generate('--model', elsewhere);
    expect(lost.code).toBe(1);
    expect(lost.err).toMatch(/^llm-modules: .*bridge: its teacher is not at .*teacher nor at .*teacher \(recorded as "\.\.\/teacher", relative to the bridge folder\): pass --teacher DIR with the teacher it was trained with\n$/);
    expect((await generate('--model', elsewhere, '--teacher', join(dir, 'teacher-moved'))).ids).toEqual(before.ids);
    const e = io();
    expect(await main(['eval', '--model', elsewhere, '--teacher', join(dir, 'teacher-moved'), '--data', join(dir, 'traces.jsonl'), '--json'], e.io)).toBe(0);
    const inspected = io();
    expect(await main(['inspect', elsewhere, '--json'], inspected.io)).toBe(0);
    expect(lastJson(inspected.out)).toMatchObject({ teacher_folder: null, teacher_problem: expect.stringMatching(/pass --teacher DIR/) });
    const named = io();
    expect(await main(['inspect', elsewhere, '--teacher', join(dir, 'teacher-moved'), '--json'], named.io)).toBe(0);
    expect(lastJson(named.out).teacher_folder).toBe(join(dir, 'teacher-moved'));

    // a teacher with other weights (one value changed) is not the one it was trained with
    const other = join(dir, 'teacher-other');
    cpSync(join(dir, 'teacher-moved'), other, { recursive: true });
    const weights = readFileSync(join(other, 'model.safetensors'));
    weights[weights.length - 2] ^= 0x40;
    writeFileSync(join(other, 'model.safetensors'), weights);
    const wrong = await generate('--model', elsewhere, '--teacher', other);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/^llm-modules: .*teacher-other: not the teacher .* was trained with \(its content fingerprint is [0-9a-f]{12}…, the bridge records [0-9a-f]{12}…\): pass --teacher DIR with that teacher\n$/);
    const missing = await generate('--model', elsewhere, '--teacher', join(dir, 'nowhere'));
    expect(missing.err).toMatch(/--teacher .*nowhere: no such folder/);
    const notBridge = await generate('--model', join(dir, 'teacher-moved'), '--teacher', other);
    expect(notBridge.err).toMatch(/--teacher: .* is not a bridge folder/);
  }, 60_000);

  test('a run without a teacher cache records the same kind of fingerprint (from the loaded weights)', async () => {
    const { file, dir } = bridgeSetup({ teacherCache: undefined, training: { batchSize: 2, maxSteps: 1, backend: 'cpu' } });
    expect(await main(['train', '--config', file, '--json'], io().io)).toBe(0);
    const withCache = bridgeSetup({ training: { batchSize: 2, maxSteps: 1, backend: 'cpu' } });
    expect(await main(['train', '--config', withCache.file, '--json'], io().io)).toBe(0);
    const fp = (d: string) => JSON.parse(readFileSync(join(d, 'out', 'bridge_config.json'), 'utf8')).teacher_fingerprint;
    expect(fp(dir)).toBe(fp(withCache.dir)); // one teacher, one fingerprint, however it was computed
    expect((await generate('--model', join(dir, 'out'))).code).toBe(0);
  }, 60_000);
});
