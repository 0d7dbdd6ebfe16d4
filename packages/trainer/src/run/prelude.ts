/**
 * What both run modes do before they build their model: resolve the config's paths, settle the training section
 * (with the caller's overrides), and read, format, check and split the examples.
 */
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { loadRows, type Row, type Tokenizer } from '@llm-modules/loaders';
import { setBackend, type BackendName } from '@llm-modules/tensor';
import { TrainConfigError, type TrainConfig } from '../config/validate.js';
import { formatExample, type Example } from '../data/format.js';
import { splitExamples, type Split } from '../data/split.js';
import type { RunOptions } from './lm.js';

export interface RunSettings {
  /** The config's name in messages. */
  file: string;
  /** A config path made absolute (relative paths are against `opts.baseDir`, the config's folder, or the working folder). */
  at: (path: string) => string;
  /** `training` with `opts.maxSteps` applied. */
  training: NonNullable<TrainConfig['training']>;
  seed: number;
}

/**
 * The run's paths and training settings; selects `training.backend` when the config names one.
 * @example-skip a fragment: `cfg` comes from the caller's code
 * @example `const { at, training, seed } = runSettings(cfg, { configFile: 'runs/a.json' }); at('data.jsonl') // '/…/runs/data.jsonl'`
 */
export function runSettings(cfg: TrainConfig, opts: RunOptions): RunSettings {
  const base = opts.baseDir ? resolve(opts.baseDir) : opts.configFile ? dirname(resolve(opts.configFile)) : process.cwd();
  const training = { ...cfg.training, ...(opts.maxSteps ? { maxSteps: opts.maxSteps } : {}) };
  if (training.backend) setBackend(training.backend as BackendName);
  return { file: opts.configFile ?? 'config', at: (p) => (isAbsolute(p) ? p : join(base, p)), training, seed: training.seed ?? 0 };
}

/**
 * The config's examples, formatted with `tok`, checked by `check` in file order (before the split shuffles them),
 * split by the length rule; validation from `data.validation` when given, else a fraction of the training file.
 * @example-skip a fragment: `cfg` comes from the caller's code
 * @example `const { split, validation } = await loadSplit(cfg, tok, settings, 512)`
 */
export async function loadSplit(cfg: TrainConfig, tok: Tokenizer, s: RunSettings, maxLength: number, check?: (examples: Example[], source: string) => void): Promise<{ split: Split<Example>; validation: Example[] }> {
  const d = cfg.data;
  const fmt = { format: d.format, lossOn: d.lossOn, appendEos: d.appendEos, prependBos: d.prependBos, systemPrompt: d.systemPrompt };
  const read = async (path: string): Promise<Example[]> => {
    const examples = (await loadRows(s.at(path), { skipBadRows: d.skipBadRows })).map((r: Row) => formatExample(r, tok, fmt));
    check?.(examples, s.at(path));
    return examples;
  };
  const split = splitExamples(await read(d.train), { seed: s.seed, subset: d.subset, validation: d.validation ? 0 : (d.validationFraction ?? 0.1), maxLength, overLength: d.overLength, cutTo: d.cutTo });
  const validation = d.validation ? splitExamples(await read(d.validation), { validation: 0, maxLength: Math.min(maxLength, d.cutTo ?? Infinity), overLength: 'truncate' }).train : split.validation;
  if (split.train.length === 0) throw new TrainConfigError(s.file, `no training examples left in ${d.train} after the length rule (maxLength ${maxLength})`);
  return { split, validation };
}
