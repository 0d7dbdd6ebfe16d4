/** Reading and checking a train config: JSON Schema (ajv), one-line errors naming the file and the field. */
import AjvModule, { type ErrorObject } from 'ajv';
import schema from './train-config.schema.json';

/**
 * The train config's JSON Schema (draft-07), also published as `@llm-modules/trainer/train-config.schema.json`.
 * Typed as a plain object on purpose: inferring its type from the JSON would inline the schema into the published
 * `.d.ts` as `var $schema = …` declarations, which are invalid in a declaration file (TS1046/TS1039).
 *
 * @example
 * ```ts
 * import { trainConfigSchema } from '@llm-modules/trainer';
 * console.log(trainConfigSchema.title); // llm-modules train config
 * ```
 */
export const trainConfigSchema: Readonly<Record<string, unknown>> = schema;

export class TrainConfigError extends Error {
  override name = 'TrainConfigError';
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
  }
}

export interface TrainConfig {
  mode: 'lm' | 'bridge';
  /** bridge mode: the frozen teacher's folder */
  teacher?: string;
  /** bridge mode: variant and options */
  bridge?: { variant: string; options?: Record<string, unknown>; dims?: { teacher?: number; student?: number } };
  /** bridge mode: the teacher-state cache folder */
  teacherCache?: string;
  /** bridge mode: the new head's rows (default: the teacher's vocab_size) */
  head?: { vocabSize?: number | 'tokenizer' | 'teacher' };
  /** lm mode: the model; bridge mode: the student */
  model: { config?: string | Record<string, unknown>; pretrained?: string };
  tokenizer: string;
  data: {
    train: string;
    validation?: string;
    format?: 'paper' | 'chatml';
    lossOn?: 'all' | 'assistant';
    appendEos?: boolean;
    prependBos?: boolean;
    systemPrompt?: string;
    maxLength?: number;
    overLength?: 'drop' | 'truncate';
    cutTo?: number;
    subset?: number;
    validationFraction?: number;
    skipBadRows?: boolean;
  };
  optimizer?: {
    name?: 'adamw' | 'sgd';
    lr?: number;
    betas?: [number, number];
    eps?: number;
    weightDecay?: number;
    momentum?: number;
    schedule?: { kind: 'constant' | 'cosine' | 'linear'; warmupSteps?: number; minLr?: number };
    groups?: { prefix: string; lr?: number; weightDecay?: number }[];
  };
  training?: {
    epochs?: number;
    maxSteps?: number;
    batchSize?: number;
    accumulate?: number;
    clipNorm?: number;
    evalEvery?: number;
    checkpointEvery?: number;
    earlyStopping?: { patience: number; minDelta?: number };
    /** knowledge distillation from the frozen teacher (bridge mode: `teacher`; lm mode: `kd.teacher`) */
    kd?: { weight: number; temperature?: number; weighting?: 'uniform' | 'label-probability'; teacher?: string };
    seed?: number;
    backend?: string;
  };
  output: string;
}

const Ajv = (AjvModule as unknown as { default?: typeof AjvModule }).default ?? AjvModule;
const validator = new Ajv({ allErrors: false, strict: false }).compile(schema);

function describe(e: ErrorObject): string {
  const at = e.instancePath || '(top level)';
  if (e.keyword === 'additionalProperties') return `unknown field "${(e.params as { additionalProperty: string }).additionalProperty}" in ${at}`;
  if (e.keyword === 'required') return `missing field "${(e.params as { missingProperty: string }).missingProperty}" in ${at}`;
  if (e.keyword === 'enum') return `${at} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  if (e.keyword === 'not') return 'teacher, bridge, teacherCache and head are only for mode "bridge"';
  if (e.keyword === 'oneOf') return `${at} needs exactly one of "config" or "pretrained"`;
  return `${at} ${e.message}`;
}

/**
 * Check a parsed config against the schema; throws a `TrainConfigError` naming the field.
 * @example-skip a fragment: `text` comes from the caller's code
 * @example `const config = checkTrainConfig(JSON.parse(text), 'train.json')`
 */
export function checkTrainConfig(json: unknown, file = 'config'): TrainConfig {
  if (!validator(json)) {
    const errors = validator.errors!;
    // A failed oneOf also reports its branches' errors first; the oneOf itself says what is wrong.
    throw new TrainConfigError(file, describe(errors.find((e) => e.keyword === 'oneOf') ?? errors[0]));
  }
  return json as unknown as TrainConfig;
}
