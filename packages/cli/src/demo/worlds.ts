/**
 * The demo's worlds behind one interface, so `runDemo` runs the same table on each: `arithmetic` (sums and
 * remainders, the shipped teacher) and `people` (named people's cities and jobs; traces restate the prompt's name,
 * so the student must copy; its teacher is trained at demo time in a temporary folder).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer, type Tokenizer } from '@llm-modules/loaders';
import { loadPretrained, type CausalLM, type Params } from '@llm-modules/transformer';
import { progressObserver } from '@llm-modules/trainer';
import { traceSet, type TraceSet } from './metrics.js';
import { copyRate, peopleFactAccuracy, peopleTraceSet, trainPeopleTeacher } from './people.js';
import { factAccuracy } from './teacher.js';
import { peopleFacts, type PersonFact } from './world-people.js';
import { allFacts, shuffled, type Fact } from './world.js';

export const WORLD_NAMES = ['arithmetic', 'people'] as const;
export type WorldName = (typeof WORLD_NAMES)[number];

export interface LoadedTeacher {
  teacher: { model: CausalLM; params: Params };
  tok: Tokenizer;
  /** how it was made, for the log */
  origin: string;
  /** removes what loading made (the people teacher's temporary folder) */
  dispose(): Promise<void>;
}

/** One world of the demo: its facts, its teacher, its traces and the teacher's own accuracy on the facts. */
export interface DemoWorld<F = unknown> {
  name: WorldName;
  /** the facts the teacher knows (`quick`: of the smaller world) */
  all(quick: boolean): F[];
  /** the facts the run splits into train / validation / held out (`quick`: a smaller set) */
  used(quick: boolean, seed: number): F[];
  loadTeacher(opts: { dir: string; quick: boolean; progress?: NodeJS.WriteStream | null; log: (line: string) => void }): Promise<LoadedTeacher>;
  teacherAccuracy(model: CausalLM, params: Params, tok: Tokenizer, facts: readonly F[]): Promise<number>;
  traces(tok: Tokenizer, facts: readonly F[]): TraceSet<F>;
  /** the share of generations that restate the prompt's name (worlds that need copying) */
  copyRate?(samples: readonly string[], facts: readonly F[]): number;
}

const arithmetic: DemoWorld<Fact> = {
  name: 'arithmetic',
  all: () => allFacts(),
  used: (quick, seed) => (quick ? shuffled(allFacts(), seed + 100).slice(0, 200) : allFacts()),
  async loadTeacher({ dir }) {
    const teacherDir = join(dir, 'teacher');
    return { teacher: await loadPretrained(teacherDir), tok: await loadTokenizer(teacherDir), origin: teacherDir, dispose: async () => {} };
  },
  teacherAccuracy: factAccuracy,
  traces: traceSet,
};

/** People in the world (2 facts each); the world itself is fixed (seed 0), the run's seed splits it. */
const PEOPLE = { quick: 40, full: 100 };
/** Teacher epochs over 8 shuffled copies of every fact (4 to a row): enough to know ≥ 0.9 of them. */
const PEOPLE_TEACHER_EPOCHS = { quick: 60, full: 100 };

const people: DemoWorld<PersonFact> = {
  name: 'people',
  all: (quick) => peopleFacts(quick ? PEOPLE.quick : PEOPLE.full, 0),
  used: (quick) => peopleFacts(quick ? PEOPLE.quick : PEOPLE.full, 0), // every fact: the split holds most of them out
  async loadTeacher({ quick, progress, log }) {
    const dir = await mkdtemp(join(tmpdir(), 'llm-modules-people-'));
    const facts = peopleFacts(quick ? PEOPLE.quick : PEOPLE.full, 0);
    log(`training the people world's teacher on ${facts.length} facts (llm-modules train, ${dir}) …`);
    const observers = progress ? [progressObserver({ stream: progress, label: 'teacher', every: 20 })] : [];
    const r = await trainPeopleTeacher(dir, facts, { epochs: quick ? PEOPLE_TEACHER_EPOCHS.quick : PEOPLE_TEACHER_EPOCHS.full, observers });
    const teacherDir = join(dir, 'teacher');
    return {
      teacher: await loadPretrained(teacherDir),
      tok: await loadTokenizer(teacherDir),
      origin: `trained now: ${r.steps} steps in ${r.seconds.toFixed(1)}s`,
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  },
  teacherAccuracy: peopleFactAccuracy,
  traces: peopleTraceSet,
  copyRate,
};

/**
 * A demo world by name.
 * @example `demoWorld('people').used(true, 0).length // 80`
 */
export function demoWorld(name: WorldName): DemoWorld {
  if (name === 'arithmetic') return arithmetic as DemoWorld;
  if (name === 'people') return people as DemoWorld;
  throw new Error(`unknown demo world "${name}" (known: ${WORLD_NAMES.join(', ')})`);
}
