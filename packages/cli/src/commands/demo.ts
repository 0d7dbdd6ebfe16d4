import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runDemo, type DemoOptions, type DemoSummary } from '../demo/run.js';
import { parseSeeds, seedsTable, summarizeSeeds } from '../demo/seeds.js';
import { retrainTeacher } from '../demo/teacher.js';
import { ALL_VARIANTS, DEFAULT_VARIANTS, type VariantName } from '../demo/variants.js';
import { demoWorld, WORLD_NAMES, type WorldName } from '../demo/worlds.js';
import { CliError, type CliIO } from '../io.js';

export interface DemoCommandOptions {
  quick?: boolean;
  all?: boolean;
  json?: boolean;
  retrainTeacher?: boolean;
  /** `arithmetic` (default) or `people` (a world that needs copying; its teacher is trained first) */
  world?: string;
  /** the example folder (default: the repository's examples/knowledge-transfer) */
  dir?: string;
  steps?: string;
  /** `0,1,2`: run once per seed and report mean ± sample sd per variant (default: one run, seed 0) */
  seeds?: string;
  /** `enhanced,gated-tokens+kd`: only these contestants (over `--all`) */
  variants?: string;
}

/**
 * The demo's world: the repository's examples/knowledge-transfer, found upwards from this module (src or dist, so
 * `--retrain-teacher` in a clone rewrites the repository's teacher), else the copy the build ships next to this
 * module (dist/knowledge-transfer: what an installed package has).
 */
export function defaultDemoDir(): string {
  const moduleDir = dirname(fileURLToPath(import.meta.url));
  let here = moduleDir;
  for (let i = 0; i < 6; i++) {
    const candidate = join(here, 'examples', 'knowledge-transfer');
    if (existsSync(join(candidate, 'teacher.train.json'))) return candidate;
    here = dirname(here);
  }
  const shipped = join(moduleDir, 'knowledge-transfer');
  return existsSync(join(shipped, 'teacher.train.json')) ? shipped : resolve('examples/knowledge-transfer');
}

const pct = (x: number) => x.toFixed(2).padStart(6);

/** The summary as a table (one row per contestant). */
export function demoTable(s: DemoSummary): string {
  // worlds that need copying add the share of generations that restate the prompt's name
  const copies = Object.values(s.variants).some((v) => v?.heldout_copy_rate !== undefined);
  const head = `${'variant'.padEnd(16)} ${'gen acc'.padStart(8)} ${'TF acc'.padStart(8)} ${'TF scr.'.padStart(8)} ${'train s'.padStart(8)} ${'params'.padStart(8)}${copies ? ' copies'.padStart(8) : ''}`;
  const rows = Object.entries(s.variants).map(([name, v]) => `${name.padEnd(16)} ${pct(v!.heldout_generation_accuracy).padStart(8)} ${pct(v!.heldout_teacher_forced_accuracy).padStart(8)} ${pct(v!.heldout_teacher_forced_accuracy_scrambled).padStart(8)} ${v!.train_seconds.toFixed(1).padStart(8)} ${String(v!.parameters).padStart(8)}${copies ? pct(v!.heldout_copy_rate ?? 0).padStart(8) : ''}`);
  return [`held-out facts: ${s.facts.heldout} (teacher fact accuracy ${s.teacher_fact_accuracy.toFixed(3)})`, head, ...rows].join('\n');
}

/**
 * `llm-modules demo [--quick] [--all | --variants a,b] [--json] [--retrain-teacher] [--seeds 0,1,2]`: the toy knowledge-transfer world end to end
 * (see examples/knowledge-transfer/README.md). Progress goes to stderr; `--json` prints the summary on the last line.
 *
 * @example-skip trains three bridges (about 30 s; demo.test.ts and pack-check run it)
 * @example
 * ```ts
 * await demoCommand({ quick: true, json: true }, processIO);
 * ```
 */
export async function demoCommand(opts: DemoCommandOptions, io: CliIO): Promise<void> {
  const dir = resolve(opts.dir ?? defaultDemoDir());
  const world = (opts.world ?? 'arithmetic') as WorldName;
  if (!WORLD_NAMES.includes(world)) throw new CliError(`--world must be one of ${WORLD_NAMES.join(', ')}, got ${opts.world}`);
  const seeds = opts.seeds === undefined ? undefined : seedsOf(opts.seeds);
  const variants = opts.variants !== undefined ? variantsOf(opts.variants) : opts.all ? ALL_VARIANTS : DEFAULT_VARIANTS;
  if (world === 'people') {
    // the people world trains its own teacher in a temporary folder: the arithmetic example folder is not read
    return report({ dir, world, quick: opts.quick, variants, steps: parseSteps(opts.steps), log: (line) => io.stderr(`${line}\n`), progress: process.stderr }, seeds, opts, io);
  }
  if (!existsSync(join(dir, 'teacher.train.json'))) throw new CliError(`${dir}: not a knowledge-transfer example folder (no teacher.train.json)`);
  const steps = parseSteps(opts.steps);
  const log = (line: string) => io.stderr(`${line}\n`);
  if (opts.retrainTeacher) {
    log(`retraining the teacher with ${join(dir, 'teacher.train.json')} (llm-modules train) …`);
    const r = await retrainTeacher(dir, { stream: process.stderr });
    log(`teacher retrained: ${r.steps} steps in ${r.seconds.toFixed(1)}s → ${join(dir, 'teacher')}`);
  } else if (!existsSync(join(dir, 'teacher', 'model.safetensors'))) {
    throw new CliError(`${join(dir, 'teacher')}: no trained teacher (model.safetensors); run llm-modules demo --retrain-teacher`);
  }
  await report({ dir, quick: opts.quick, variants, steps, log, progress: process.stderr }, seeds, opts, io);
}

/** `--variants a,b`: known contestant names, each once. */
function variantsOf(text: string): VariantName[] {
  const names = text.split(',').map((n) => n.trim()).filter((n) => n !== '');
  const unknown = names.filter((n) => !(ALL_VARIANTS as readonly string[]).includes(n));
  if (unknown.length || names.length === 0) throw new CliError(`--variants: ${unknown.length ? `unknown variant "${unknown[0]}"` : 'no variant named'}; known: ${ALL_VARIANTS.join(', ')}`);
  return [...new Set(names)] as VariantName[];
}

function seedsOf(text: string): number[] {
  try {
    return parseSeeds(text);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

/** One run (no `--seeds`: the summary as before), or one run per seed and their mean ± sample sd. */
async function report(run: DemoOptions, seeds: number[] | undefined, opts: DemoCommandOptions, io: CliIO): Promise<void> {
  if (seeds === undefined) return printSummary(await runDemo(run), opts, io);
  const runs: { seed: number; summary: DemoSummary }[] = [];
  // the teacher does not depend on the run's seed (the people world's is trained with its own fixed seed): load it once
  const teacher = await demoWorld(run.world ?? 'arithmetic').loadTeacher({ dir: run.dir, quick: run.quick ?? false, progress: run.progress, log: run.log ?? (() => {}) });
  try {
    for (const seed of seeds) {
      run.log?.(`seed ${seed} (${runs.length + 1} of ${seeds.length})`);
      runs.push({ seed, summary: await runDemo({ ...run, seed, teacher }) });
    }
  } finally {
    await teacher.dispose();
  }
  const s = summarizeSeeds(runs);
  if (opts.json) io.stdout(`${JSON.stringify(s)}\n`);
  else io.stdout(`${seedsTable(s)}\ntotal ${s.seconds}s\n`);
}

function parseSteps(text: string | undefined): number | undefined {
  const steps = text === undefined ? undefined : Number(text);
  if (steps !== undefined && !(Number.isInteger(steps) && steps > 0)) throw new CliError(`--steps must be a positive integer, got ${text}`);
  return steps;
}

function printSummary(summary: DemoSummary, opts: DemoCommandOptions, io: CliIO): void {
  if (opts.json) io.stdout(`${JSON.stringify(summary)}\n`);
  else io.stdout(`${demoTable(summary)}\ntotal ${summary.seconds}s\n`);
}
