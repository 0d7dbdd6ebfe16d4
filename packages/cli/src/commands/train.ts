import { progressObserver, readTrainConfig, runTrainConfig, TrainConfigError, type Observer } from '@llm-modules/trainer';
import { CliError, fsErrorLine, humanBytes, type CliIO } from '../io.js';
import { checkBackendWorks, intOption } from './model.js';
import { clearRun, guardRunFolder, outputFolder } from '../train/run-folder.js';

export interface TrainCommandOptions {
  config: string;
  resume?: boolean;
  /** replace the run already in the output folder (its checkpoint and metrics log are removed when training starts) */
  overwrite?: boolean;
  /** overrides training.seed */
  seed?: string;
  /** overrides output (relative to the working folder, not the config's) */
  out?: string;
  /** overrides training.maxSteps */
  maxSteps?: string;
  /** check everything, train nothing */
  dryRun?: boolean;
  json?: boolean;
}

/**
 * `llm-modules train --config FILE.json [--resume | --overwrite] [--seed S] [--out DIR] [--max-steps N] [--dry-run] [--json]`:
 * train as the config says (schema: `@llm-modules/trainer/train-config.schema.json`). An output folder that already
 * holds a run is refused unless `--resume` (which needs its checkpoint) or `--overwrite`. Progress goes to stderr;
 * Ctrl-C or SIGTERM stops after the current step, saves a checkpoint and the model, and exits with code 130 (SIGINT)
 * or 143 (SIGTERM); resume with `--resume`.
 *
 * @example-skip needs a train config, its data and tokenizer; writes a run folder (train.test.ts runs it)
 * @example
 * ```ts
 * await trainCommand({ config: 'examples/train-lm/train.json', json: true }, processIO);
 * ```
 */
export async function trainCommand(opts: TrainCommandOptions, io: CliIO): Promise<number> {
  const maxSteps = opts.maxSteps === undefined ? undefined : intOption(opts.maxSteps, '--max-steps', 0, 1);
  const seed = opts.seed === undefined ? undefined : intOption(opts.seed, '--seed', 0, 0);
  if (opts.out !== undefined && opts.out.trim() === '') throw new CliError('--out: expected a folder, got ""');
  let config;
  try {
    config = await readTrainConfig(opts.config);
  } catch (err) {
    if (err instanceof TrainConfigError) throw new CliError(err.message);
    throw err;
  }
  if (config.training?.backend) await checkBackendWorks(config.training.backend, `${opts.config}: training.backend "${config.training.backend}"`, 'remove it');
  const output = outputFolder(opts.config, config.output, opts.out);
  config = { ...config, output, training: { ...config.training, ...(seed === undefined ? {} : { seed }) } };
  await guardRunFolder(output, { resume: opts.resume, overwrite: opts.overwrite });
  // SIGTERM (a scheduler, `docker stop`, an eviction) saves like Ctrl-C; a second signal quits at once
  const abort = new AbortController();
  let stoppedBy: NodeJS.Signals | null = null;
  const stopBy = (sig: NodeJS.Signals) => () => {
    io.stderr(`\ninterrupted by ${sig}: finishing the current step, then saving a checkpoint (${sig === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again to quit now)\n`);
    process.off('SIGINT', onSigint).off('SIGTERM', onSigterm);
    stoppedBy = sig;
    abort.abort();
  };
  // one handler per signal: an emitted (not delivered) signal carries no name
  const onSigint = stopBy('SIGINT');
  const onSigterm = stopBy('SIGTERM');
  process.on('SIGINT', onSigint).on('SIGTERM', onSigterm);
  try {
    const run = runTrainConfig; // both modes: lm, and bridge (the trainer's trainBridge)
    let open = false; // a progress line without its newline yet
    const log = (line: string) => {
      io.stderr(`${open ? '\n' : ''}${line}\n`);
      open = false;
    };
    const progress = (label: string, done: number, total: number, unit: 'bytes' | 'rows') => {
      if (!io.interactive) return;
      const amount = unit === 'bytes' ? `${humanBytes(done)} / ${humanBytes(total)}` : `${done} / ${total} rows`;
      io.stderr(`\r${label}: ${amount} (${Math.floor((100 * done) / Math.max(1, total))}%)`);
      open = done < total;
      if (!open) io.stderr('\n');
    };
    const result = await run(config, { configFile: opts.config, resume: opts.resume, maxSteps, dryRun: opts.dryRun, log, progress, signal: abort.signal, observers: [...(opts.overwrite ? [clearOnStart(output)] : []), progressObserver({ stream: process.stderr })] }).catch((err: unknown) => {
      // a write that fails without naming its file (EFBIG, ENOSPC on a stream) is blamed on the run folder
      const fsLine = fsErrorLine(err, output);
      throw fsLine ? new CliError(fsLine) : err;
    });
    const summary = { output: result.output, steps: result.steps, stopped: result.reason, train_examples: result.trainExamples, validation_examples: result.validationExamples, dropped_examples: result.droppedExamples, best_validation_loss: result.finalValidationLoss, seconds: Number(result.seconds.toFixed(2)), parameters: result.parameters };
    if (opts.json) io.stdout(`${JSON.stringify(summary)}\n`);
    else if (opts.dryRun) io.stdout(`dry run: ${config.output} would train on ${result.trainExamples} examples (${result.droppedExamples} dropped); nothing written\n`);
    else io.stdout(`trained ${result.steps} steps (${result.reason}) in ${summary.seconds}s → ${result.output}\n`);
    return result.reason === 'aborted' ? (stoppedBy === 'SIGTERM' ? 143 : 130) : 0;
  } finally {
    process.off('SIGINT', onSigint).off('SIGTERM', onSigterm);
  }
}

/** With --overwrite: once every check has passed and training starts, drop the old run's checkpoint and metrics log. */
function clearOnStart(output: string): Observer {
  return async (e) => {
    if (e.type === 'start') await clearRun(output);
  };
}
