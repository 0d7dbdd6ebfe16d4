/** `eval --task answer`: generation and teacher-forced accuracy on prompt/answer rows, and the leak probe for bridges. */
import { describe, expect, test } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPretrained } from '@llm-modules/transformer';
import { main } from '../src/index.js';
import { defaultDemoDir } from '../src/commands/demo.js';
import { factAccuracy } from '../src/demo/teacher.js';
import { allFacts, promptText, completionText } from '../src/demo/world.js';
import { answerMatches } from '../src/eval/answer.js';
import { bridgeSetup, io, lastJson } from './bridge-setup.js';

// every 14th fact of the world: 40 facts, both operators
const facts = allFacts().filter((_, i) => i % 14 === 0);

describe('eval --task answer on a plain model (the shipped demo teacher)', () => {
  test("teacher-forced accuracy equals the demo's fact accuracy; generation accuracy matches generate's texts", async () => {
    const { dir } = bridgeSetup({});
    const data = join(dir, 'qa.jsonl');
    writeFileSync(data, facts.map((f) => JSON.stringify({ prompt: promptText(f), answer: String(f.answer) })).join('\n') + '\n');
    const teacher = join(defaultDemoDir(), 'teacher');
    const a = io();
    expect(await main(['eval', '--model', teacher, '--data', data, '--task', 'answer', '--backend', 'cpu', '--json'], a.io)).toBe(0);
    const report = lastJson(a.out);
    expect(report).toMatchObject({ task: 'answer', rows: 40 });
    expect(a.err.join('')).toMatch(/eval answer: 40\/40 rows, \d+s, eta 0s/);
    // golden: the demo's own greedy next-token accuracy on the same facts (one batched forward, independent code)
    const t = await loadPretrained(teacher);
    expect(report.teacher_forced_accuracy).toBeCloseTo(await factAccuracy(t.model, t.params, t.tokenizer!, facts), 4);
    expect(report.teacher_forced_accuracy).toBeGreaterThan(0.8); // the shipped teacher knows its facts: not a vacuous 0 = 0
    // golden: `generate --greedy --json` per prompt, the answer checked here
    let right = 0;
    for (const f of facts.slice(0, 10)) {
      const g = io();
      expect(await main(['generate', '--model', teacher, '--prompt', promptText(f), '--max-new-tokens', '5', '--greedy', '--backend', 'cpu', '--json'], g.io)).toBe(0);
      const text: string = lastJson(g.out).text;
      if (text.startsWith(String(f.answer)) && !/^\d/.test(text.slice(String(f.answer).length))) right++;
    }
    const ten = join(dir, 'qa10.jsonl');
    writeFileSync(ten, facts.slice(0, 10).map((f) => JSON.stringify({ prompt: promptText(f), answer: String(f.answer) })).join('\n') + '\n');
    const b = io();
    expect(await main(['eval', '--model', teacher, '--data', ten, '--task', 'answer', '--backend', 'cpu', '--json'], b.io)).toBe(0);
    expect(right).toBeGreaterThan(5);
    expect(lastJson(b.out).generation_accuracy).toBeCloseTo(right / 10, 4);
  }, 60_000);

  test('answers are read after the marker, whole (15 is not 1)', () => {
    const row = { where: 'line 1', prompt: '', lead: '', answer: '1' };
    expect(answerMatches('1, so A:1', row, 'A:')).toBe(true);
    expect(answerMatches('1, so A:15', row, 'A:')).toBe(false);
    expect(answerMatches('1, so B:1', row, 'A:')).toBe(false);
    expect(answerMatches(' 1 and more', row)).toBe(true);
  });
});

describe('eval --task answer on bridge folders: the leak probe', () => {
  test('a causal bridge shows no leak; paper-released (padding-only mask) does', async () => {
    const leak: Record<string, { first_token_accuracy: number; first_token_accuracy_scrambled: number; max_logit_change: number }> = {};
    for (const variant of ['enhanced', 'paper-released']) {
      const { file, dir } = bridgeSetup({ bridge: { variant, options: { heads: 2, adapterDim: 8, layers: 1 } }, teacherCache: undefined, training: { batchSize: 2, maxSteps: 2, backend: 'cpu' } });
      expect(await main(['train', '--config', file, '--json'], io().io)).toBe(0);
      const data = join(dir, 'traces-qa.jsonl');
      writeFileSync(data, facts.slice(0, 6).map((f) => JSON.stringify({ prompt: promptText(f), completion: completionText(f) })).join('\n') + '\n');
      const a = io();
      expect(await main(['eval', '--model', join(dir, 'out'), '--data', data, '--task', 'answer', '--marker', 'A:', '--json'], a.io)).toBe(0);
      const r = lastJson(a.out);
      expect(r.rows).toBe(6);
      leak[variant] = r.leak;
    }
    expect(leak.enhanced.max_logit_change).toBe(0);
    expect(leak.enhanced.first_token_accuracy_scrambled).toBe(leak.enhanced.first_token_accuracy);
    expect(leak['paper-released'].max_logit_change).toBeGreaterThan(1e-4);
  }, 60_000);
});
