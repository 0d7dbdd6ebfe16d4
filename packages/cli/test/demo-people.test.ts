/**
 * `llm-modules demo --world people`: the people world (traces restate the prompt's name) runs the same table as the
 * arithmetic world, with its own teacher trained first and the copy rate beside the accuracies.
 */
import { describe, expect, test } from 'vitest';
import { main } from '../src/index.js';
import { defaultDemoDir, demoTable } from '../src/commands/demo.js';
import { contestant } from '../src/demo/variants.js';
import { join } from 'node:path';
import { loadPretrained } from '@llm-modules/transformer';
import { tensor } from '@llm-modules/tensor';
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
    expect(Object.keys(s.variants)).toEqual(['enhanced', 'student-only', 'paper-released', 'gated-tokens+kd', 'student-kd']);
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

  test('a gated-tokens contestant that reads two teacher layers brings its own teacher states (the demo caches them)', async () => {
    const teacher = await loadPretrained(join(defaultDemoDir(), 'teacher'));
    const ids = tensor(new Int32Array([52, 43, 49, 61]), [1, 4], 'int32');
    const two = contestant('gated-tokens', teacher, { hidden: 16, layers: 2, heads: 2 }, 32, { bridge: { heads: 2, teacherLayers: [1, -1] } });
    expect(two.teacherStates!(ids).shape).toEqual([1, 4, 2 * teacher.model.config.hidden_size]);
    expect(contestant('gated-tokens', teacher, { hidden: 16, layers: 2, heads: 2 }, 32, { bridge: { heads: 2 } }).teacherStates).toBeUndefined(); // the shared last-layer cache
  });
});
