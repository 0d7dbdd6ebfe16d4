/** `train` never loses a user's work: existing run folders, --resume without a checkpoint, SIGTERM, --seed / --out. */
import { describe, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/index.js';
import { defaultDemoDir } from '../src/commands/demo.js';
import { io, lastJson } from './bridge-setup.js';
import { lmSetup } from './lm-setup.js';

const hash = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const events = (out: string) => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step: number; loss?: number });
const oneLine = (err: string[]) => expect(err.join('')).toMatch(/^llm-modules: [^\n]*\n$/);

describe('train refuses to replace a run unless told', () => {
  test('a second run into the same folder is refused and changes nothing; --overwrite replaces it', async () => {
    const file = lmSetup({ maxSteps: 2 });
    const out = join(file, '..', 'out');
    expect(await main(['train', '--config', file, '--json'], io().io)).toBe(0);
    const before = { model: hash(join(out, 'model.safetensors')), metrics: hash(join(out, 'metrics.jsonl')) };
    const again = io();
    expect(await main(['train', '--config', file, '--json'], again.io)).toBe(1);
    oneLine(again.err);
    expect(again.err.join('')).toMatch(/out already holds a run or model \(.*model\.safetensors.*\): pass --resume to continue it, --overwrite to replace it/);
    expect(again.out.join('')).toBe('');
    expect({ model: hash(join(out, 'model.safetensors')), metrics: hash(join(out, 'metrics.jsonl')) }).toEqual(before);
    // --overwrite: one run's log, not two appended
    expect(await main(['train', '--config', file, '--overwrite', '--max-steps', '3', '--json'], io().io)).toBe(0);
    const log = events(out);
    expect(log.filter((e) => e.type === 'start')).toHaveLength(1);
    expect(log.filter((e) => e.type === 'step').map((e) => e.step)).toEqual([1, 2, 3]);
  }, 60_000);

  test('--resume without a run folder, or without a checkpoint in it, is an error and writes nothing', async () => {
    const file = lmSetup({ maxSteps: 2 });
    const out = join(file, '..', 'out');
    const a = io();
    expect(await main(['train', '--config', file, '--resume'], a.io)).toBe(1);
    oneLine(a.err);
    expect(a.err.join('')).toMatch(/--resume: .*out does not exist, so there is no run to continue/);
    expect(existsSync(out)).toBe(false);
    const b = io();
    expect(await main(['train', '--config', file, '--resume', '--overwrite'], b.io)).toBe(1);
    expect(b.err.join('')).toMatch(/--resume and --overwrite exclude each other/);
    expect(await main(['train', '--config', file, '--json'], io().io)).toBe(0);
    const ckpt = join(out, 'checkpoint');
    readdirSync(ckpt).forEach((f) => readFileSync(join(ckpt, f))); // present
    const { rmSync } = await import('node:fs');
    rmSync(ckpt, { recursive: true });
    const modelBefore = hash(join(out, 'model.safetensors'));
    const c = io();
    expect(await main(['train', '--config', file, '--resume'], c.io)).toBe(1);
    expect(c.err.join('')).toMatch(/--resume: no checkpoint in .*checkpoint\.msgpack is missing/);
    expect(hash(join(out, 'model.safetensors'))).toBe(modelBefore);
  }, 60_000);

  test('the shipped teacher.train.json cannot clobber the shipped teacher', async () => {
    const dir = defaultDemoDir();
    const model = join(dir, 'teacher', 'model.safetensors');
    const before = hash(model);
    const a = io();
    expect(await main(['train', '--config', join(dir, 'teacher.train.json'), '--max-steps', '1'], a.io)).toBe(1);
    expect(a.err.join('')).toMatch(/teacher already holds a run or model/);
    expect(hash(model)).toBe(before);
  });
});

describe('train: SIGTERM saves like SIGINT', () => {
  test('SIGTERM finishes the step, saves a checkpoint and the model, exits 143; --resume continues', async () => {
    const file = lmSetup({ epochs: 50 });
    const out = join(file, '..', 'out');
    const poll = setInterval(() => {
      if (existsSync(join(out, 'metrics.jsonl')) && readFileSync(join(out, 'metrics.jsonl'), 'utf8').includes('"type":"step"')) {
        clearInterval(poll);
        process.emit('SIGTERM');
      }
    }, 5);
    const a = io();
    expect(await main(['train', '--config', file, '--json'], a.io)).toBe(143);
    const summary = lastJson(a.out);
    expect(summary.stopped).toBe('aborted');
    expect(a.err.join('')).toMatch(/interrupted by SIGTERM/);
    expect(existsSync(join(out, 'checkpoint', 'checkpoint.msgpack'))).toBe(true);
    expect(existsSync(join(out, 'model.safetensors'))).toBe(true);
    const b = io();
    expect(await main(['train', '--config', file, '--resume', '--max-steps', String(summary.steps + 1), '--json'], b.io)).toBe(0);
    expect(lastJson(b.out).steps).toBe(summary.steps + 1);
  }, 60_000);
});

describe('train --seed and --out', () => {
  test('--out trains into another folder (relative to the working folder); --seed changes the run', async () => {
    const file = lmSetup({ maxSteps: 1 });
    const where = mkdtempSync(join(tmpdir(), 'llm-modules-out-'));
    const cwd = process.cwd();
    process.chdir(where);
    try {
      expect(await main(['train', '--config', file, '--out', 'seed1', '--seed', '1', '--json'], io().io)).toBe(0);
      expect(await main(['train', '--config', file, '--out', 'seed2', '--seed', '2', '--json'], io().io)).toBe(0);
    } finally {
      process.chdir(cwd);
    }
    expect(existsSync(join(file, '..', 'out'))).toBe(false);
    const [l1, l2] = ['seed1', 'seed2'].map((d) => events(join(where, d)).find((e) => e.type === 'step')!.loss);
    expect(l1).not.toBe(l2); // different initial weights
    const bad = io();
    expect(await main(['train', '--config', file, '--seed', '-3'], bad.io)).toBe(1);
    expect(bad.err.join('')).toMatch(/--seed: expected an integer ≥ 0, got "-3"/);
  }, 60_000);
});

describe('demo --retrain-teacher still re-creates the teacher (the refusal is the command line\'s, not the demo\'s)', () => {
  test('retrainTeacher replaces an existing teacher folder', async () => {
    const { cpSync, writeFileSync } = await import('node:fs');
    const { retrainTeacher } = await import('../src/demo/teacher.js');
    const dir = join(mkdtempSync(join(tmpdir(), 'llm-modules-retrain-')), 'kt');
    cpSync(defaultDemoDir(), dir, { recursive: true });
    const cfgFile = join(dir, 'teacher.train.json');
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
    cfg.training = { ...cfg.training, epochs: 1, maxSteps: 2, backend: 'cpu' }; // the shipped recipe, cut short
    writeFileSync(cfgFile, JSON.stringify(cfg));
    const before = hash(join(dir, 'teacher', 'model.safetensors'));
    const result = await retrainTeacher(dir, { observers: [] });
    expect(result.steps).toBe(2);
    expect(hash(join(dir, 'teacher', 'model.safetensors'))).not.toBe(before);
    expect(existsSync(join(dir, 'teacher', 'checkpoint'))).toBe(false);
  }, 60_000);
});

describe('checkpoints are written atomically', () => {
  test('stopped between two of its every-step checkpoints, the run leaves one complete checkpoint and no temp files', async () => {
    const { readdirSync } = await import('node:fs');
    const { loadTrainState } = await import('@llm-modules/trainer');
    const file = lmSetup({ epochs: 50, checkpointEvery: 1 });
    const ckpt = join(file, '..', 'out', 'checkpoint');
    // stop as soon as a few checkpoints have replaced each other
    const poll = setInterval(() => {
      const log = join(file, '..', 'out', 'metrics.jsonl');
      if (existsSync(log) && (readFileSync(log, 'utf8').match(/"type":"step"/g) ?? []).length >= 3) {
        clearInterval(poll);
        process.emit('SIGTERM');
      }
    }, 2);
    const a = io();
    expect(await main(['train', '--config', file, '--json'], a.io)).toBe(143);
    const steps = lastJson(a.out).steps;
    expect(readdirSync(ckpt).filter((f) => f.includes('.tmp-'))).toEqual([]);
    // one manifest and the two weight files it names: older checkpoints' files are gone
    expect(readdirSync(ckpt).sort()).toEqual([expect.stringMatching(/^checkpoint\.msgpack$/), expect.stringMatching(/^optimizer-.*\.safetensors$/), expect.stringMatching(/^params-.*\.safetensors$/)]);
    expect((await loadTrainState(ckpt)).step).toBe(steps);
  }, 60_000);
});
