/**
 * `llm-modules demo --world people`: the people world (traces restate the prompt's name) runs the same table as the
 * arithmetic world, with its own teacher trained first and the copy rate beside the accuracies.
 */
import { describe, expect, test } from 'vitest';
import { main } from '../src/index.js';
import { demoTable } from '../src/commands/demo.js';
import { io, lastJson } from './bridge-setup.js';

describe('llm-modules demo --world people', () => {
  test('trains its own teacher, then every default variant; the summary carries the world and the copy rate', async () => {
    const a = io();
    expect(await main(['demo', '--world', 'people', '--quick', '--steps', '8', '--json'], a.io)).toBe(0);
    const s = lastJson(a.out);
    expect(s.world).toBe('people');
    // the teacher trained at demo time knows the facts (the bridges have something to carry over)
    expect(s.teacher_fact_accuracy).toBeGreaterThanOrEqual(0.8);
    expect(s.facts).toEqual({ total: 80, train: 20, validation: 8, heldout: 52 });
    expect(Object.keys(s.variants)).toEqual(['enhanced', 'student-only', 'paper-released']);
    for (const v of Object.values(s.variants) as Array<Record<string, number>>) {
      expect(v.heldout_copy_rate).toBeGreaterThanOrEqual(0);
      expect(v.heldout_copy_rate).toBeLessThanOrEqual(1);
    }
    expect(a.err.join('')).toMatch(/training the people world's teacher on 80 facts/);
    expect(demoTable(s)).toMatch(/copies/);
  }, 120_000);

  test('an unknown world is one line and exit 1', async () => {
    const a = io();
    expect(await main(['demo', '--world', 'moon', '--quick'], a.io)).toBe(1);
    expect(a.err.join('')).toMatch(/^llm-modules: --world must be one of arithmetic, people, got moon\n$/);
    expect(a.out.join('')).toBe('');
  });
});
