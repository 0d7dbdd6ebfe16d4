/**
 * `llm-modules demo --seeds 0,1,2`: the demo run once per seed, each variant's held-out accuracies as mean ± sample
 * standard deviation (n − 1 in the denominator) over the seeds.
 */
import type { DemoSummary, VariantResult } from './run.js';
import type { VariantName } from './variants.js';

/** One measure over the seeds: the per-seed values (in seed order), their mean and sample sd (null for one seed). */
export interface SeedStat {
  values: number[];
  mean: number;
  sd: number | null;
}

/** The measures aggregated per variant (`heldout_copy_rate` only on worlds that need copying). */
export const SEED_MEASURES = ['heldout_generation_accuracy', 'heldout_teacher_forced_accuracy', 'heldout_teacher_forced_accuracy_scrambled', 'heldout_copy_rate'] as const satisfies readonly (keyof VariantResult)[];
export type SeedMeasure = (typeof SEED_MEASURES)[number];

export interface SeedsSummary {
  world: DemoSummary['world'];
  seeds: number[];
  /** how the spread is measured: the sample standard deviation */
  sd: 'sample';
  teacher_fact_accuracy: number;
  facts: DemoSummary['facts'];
  variants: Partial<Record<VariantName, Partial<Record<SeedMeasure, SeedStat>>>>;
  /** every seed's own summary */
  runs: { seed: number; summary: DemoSummary }[];
  seconds: number;
}

const round = (x: number) => Number(x.toFixed(4));

/**
 * Aggregate demo summaries of several seeds: for each variant and measure, the per-seed values, the mean and the
 * sample standard deviation (null when there is one seed). Pure: the runs are not changed.
 * @example
 * ```ts
 * const run = (g: number) => ({ world: 'arithmetic' as const, teacher_fact_accuracy: 0.97, facts: { total: 4, train: 2, validation: 1, heldout: 1 }, seconds: 1, variants: { enhanced: { heldout_generation_accuracy: g, heldout_teacher_forced_accuracy: 0.5, heldout_teacher_forced_accuracy_scrambled: 0.5, train_seconds: 1, steps: 1, parameters: 1, best_validation_loss: null, validation_generation_accuracy: 0, validation_teacher_forced_accuracy: 0, sample: '' } } });
 * const s = summarizeSeeds([{ seed: 0, summary: run(0.5) }, { seed: 1, summary: run(0.7) }, { seed: 2, summary: run(0.6) }]);
 * const g = s.variants.enhanced!.heldout_generation_accuracy!;
 * if (g.mean !== 0.6 || g.sd !== 0.1) throw new Error(`expected 0.6 ± 0.1, got ${g.mean} ± ${g.sd}`);
 * ```
 */
export function summarizeSeeds(runs: readonly { seed: number; summary: DemoSummary }[]): SeedsSummary {
  if (runs.length === 0) throw new Error('summarizeSeeds: no runs');
  const variants: SeedsSummary['variants'] = {};
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.summary.variants) as VariantName[]))];
  for (const name of names) {
    const stats: Partial<Record<SeedMeasure, SeedStat>> = {};
    for (const m of SEED_MEASURES) {
      const values = runs.map((r) => r.summary.variants[name]?.[m]).filter((v): v is number => typeof v === 'number');
      if (values.length === 0) continue;
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const sd = values.length > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1)) : null;
      stats[m] = { values, mean: round(mean), sd: sd === null ? null : round(sd) };
    }
    variants[name] = stats;
  }
  const first = runs[0].summary;
  return {
    world: first.world,
    seeds: runs.map((r) => r.seed),
    sd: 'sample',
    teacher_fact_accuracy: first.teacher_fact_accuracy,
    facts: first.facts,
    variants,
    runs: runs.map((r) => ({ seed: r.seed, summary: r.summary })),
    seconds: round(runs.reduce((a, r) => a + r.summary.seconds, 0)),
  };
}

/**
 * Parse `--seeds 0,1,2`: distinct non-negative integers, comma-separated; throws an Error with a one-line message.
 */
export function parseSeeds(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  if (text.trim() === '' || parts.some((p) => !/^\d+$/.test(p))) throw new Error(`--seeds must be comma-separated non-negative integers (e.g. 0,1,2), got ${JSON.stringify(text)}`);
  const seeds = parts.map(Number);
  const dup = seeds.find((s, i) => seeds.indexOf(s) !== i);
  if (dup !== undefined) throw new Error(`--seeds lists seed ${dup} twice`);
  return seeds;
}

const cell = (s: SeedStat | undefined) => (s === undefined ? '-'.padStart(13) : `${s.mean.toFixed(3)} ± ${s.sd === null ? '  -  ' : s.sd.toFixed(3)}`.padStart(13));

/** The aggregated table: one row per variant, mean ± sample sd over the seeds. */
export function seedsTable(s: SeedsSummary): string {
  const copies = Object.values(s.variants).some((v) => v?.heldout_copy_rate !== undefined);
  const head = `${'variant'.padEnd(16)} ${'gen acc'.padStart(13)} ${'TF acc'.padStart(13)} ${'TF scr.'.padStart(13)}${copies ? ` ${'copies'.padStart(13)}` : ''}`;
  const rows = Object.entries(s.variants).map(([name, v]) => `${name.padEnd(16)} ${cell(v!.heldout_generation_accuracy)} ${cell(v!.heldout_teacher_forced_accuracy)} ${cell(v!.heldout_teacher_forced_accuracy_scrambled)}${copies ? ` ${cell(v!.heldout_copy_rate)}` : ''}`);
  return [`seeds ${s.seeds.join(', ')}: mean ± sample sd (n − 1) over ${s.seeds.length} runs; held-out facts: ${s.facts.heldout} (teacher fact accuracy ${s.teacher_fact_accuracy.toFixed(3)})`, head, ...rows].join('\n');
}
