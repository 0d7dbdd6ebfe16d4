import { describe, expect, test } from 'vitest';
import { main, summarizeSeeds, type DemoSummary } from '../src/index.js';
import { parseSeeds, seedsTable } from '../src/demo/seeds.js';
import { io } from './bridge-setup.js';

const variant = (gen: number, tf: number, copy?: number) => ({ heldout_generation_accuracy: gen, heldout_teacher_forced_accuracy: tf, heldout_teacher_forced_accuracy_scrambled: tf, train_seconds: 1, steps: 10, parameters: 100, best_validation_loss: null, validation_generation_accuracy: 0, validation_teacher_forced_accuracy: 0, ...(copy === undefined ? {} : { heldout_copy_rate: copy }), sample: '' });
const summary = (variants: DemoSummary['variants'], seconds = 2): DemoSummary => ({ world: 'arithmetic', teacher_fact_accuracy: 0.973, facts: { total: 10, train: 5, validation: 2, heldout: 3 }, variants, seconds });

describe('summarizeSeeds (mean ± sample sd over seeds)', () => {
  test('hand-computed means and sample standard deviations', () => {
    const s = summarizeSeeds([
      { seed: 0, summary: summary({ enhanced: variant(0.5, 0.2), 'student-only': variant(0.1, 0.1) }) },
      { seed: 1, summary: summary({ enhanced: variant(0.7, 0.4), 'student-only': variant(0.1, 0.3) }) },
      { seed: 2, summary: summary({ enhanced: variant(0.6, 0.9), 'student-only': variant(0.1, 0.2) }) },
    ]);
    expect(s.seeds).toEqual([0, 1, 2]);
    expect(s.sd).toBe('sample');
    expect(s.seconds).toBe(6);
    expect(s.runs.map((r) => r.seed)).toEqual([0, 1, 2]);
    expect(s.variants.enhanced!.heldout_generation_accuracy).toEqual({ values: [0.5, 0.7, 0.6], mean: 0.6, sd: 0.1 });
    // 0.2, 0.4, 0.9: mean 0.5; squared deviations 0.09 + 0.01 + 0.16 = 0.26; / (3 − 1) = 0.13; √0.13 = 0.36056
    expect(s.variants.enhanced!.heldout_teacher_forced_accuracy).toEqual({ values: [0.2, 0.4, 0.9], mean: 0.5, sd: 0.3606 });
    expect(s.variants['student-only']!.heldout_generation_accuracy).toEqual({ values: [0.1, 0.1, 0.1], mean: 0.1, sd: 0 });
    expect(s.variants['student-only']!.heldout_teacher_forced_accuracy).toEqual({ values: [0.1, 0.3, 0.2], mean: 0.2, sd: 0.1 });
    expect(s.variants.enhanced!.heldout_copy_rate).toBeUndefined();
    const table = seedsTable(s);
    expect(table).toMatch(/mean ± sample sd/);
    expect(table).toMatch(/^enhanced\s+0\.600 ± 0\.100\s+0\.500 ± 0\.361/m);
  });

  test('one seed: sd is null; copy rates are aggregated where present', () => {
    const s = summarizeSeeds([{ seed: 4, summary: summary({ enhanced: variant(0.25, 0.5, 0.75) }) }]);
    expect(s.variants.enhanced!.heldout_generation_accuracy).toEqual({ values: [0.25], mean: 0.25, sd: null });
    expect(s.variants.enhanced!.heldout_copy_rate).toEqual({ values: [0.75], mean: 0.75, sd: null });
    expect(() => summarizeSeeds([])).toThrow(/no runs/);
  });
});

describe('llm-modules demo --seeds', () => {
  test('parses distinct non-negative integers', () => {
    expect(parseSeeds('0,1,2')).toEqual([0, 1, 2]);
    expect(parseSeeds(' 3 , 7')).toEqual([3, 7]);
  });

  test.each([
    ['a,b', /--seeds must be comma-separated non-negative integers/],
    ['', /--seeds must be comma-separated non-negative integers/],
    ['0,,1', /--seeds must be comma-separated non-negative integers/],
    ['-1', /--seeds must be comma-separated non-negative integers/],
    ['0,1,0', /--seeds lists seed 0 twice/],
  ])('--seeds %j is one line and exit 1', async (seeds, message) => {
    const a = io();
    expect(await main(['demo', '--quick', `--seeds=${seeds}`, '--json'], a.io)).toBe(1);
    const err = a.err.join('');
    expect(err).toMatch(/^llm-modules: [^\n]*\n$/);
    expect(err).toMatch(message);
    expect(a.out.join('')).toBe('');
  });

  test.each([
    ['nope', /^llm-modules: --variants: unknown variant "nope"; known: enhanced, student-only, paper-released, gated-tokens\+kd, student-kd, plain, flamingo, gated-tokens, teacher-head, student-only\+head\n$/],
    [',', /^llm-modules: --variants: no variant named; known: /],
  ])('--variants %j is one line and exit 1', async (variants, message) => {
    const a = io();
    expect(await main(['demo', '--quick', `--variants=${variants}`], a.io)).toBe(1);
    expect(a.err.join('')).toMatch(message);
    expect(a.out.join('')).toBe('');
  });

  test('demo --quick --seeds 0,1 --variants enhanced,student-kd --json: the per-seed values and their mean ± sd', async () => {
    const a = io();
    expect(await main(['demo', '--quick', '--steps', '8', '--seeds', '0,1', '--variants', 'enhanced,student-kd', '--json'], a.io)).toBe(0);
    const s = JSON.parse(a.out.join('').trim().split('\n').at(-1)!);
    expect(s).toMatchObject({ world: 'arithmetic', seeds: [0, 1], sd: 'sample', teacher_fact_accuracy: expect.any(Number), seconds: expect.any(Number) });
    expect(s.runs.map((r: { seed: number }) => r.seed)).toEqual([0, 1]);
    expect(Object.keys(s.variants)).toEqual(['enhanced', 'student-kd']);
    for (const [name, v] of Object.entries(s.variants) as [string, Record<string, { values: number[]; mean: number; sd: number }>][]) {
      for (const m of ['heldout_generation_accuracy', 'heldout_teacher_forced_accuracy']) {
        expect(v[m].values).toEqual(s.runs.map((r: { summary: DemoSummary }) => r.summary.variants[name as 'enhanced']![m as 'heldout_generation_accuracy']));
        expect(v[m].mean).toBeCloseTo((v[m].values[0] + v[m].values[1]) / 2, 3);
        expect(v[m].sd).toBeCloseTo(Math.abs(v[m].values[0] - v[m].values[1]) / Math.SQRT2, 3);
      }
    }
  }, 90_000);
});
