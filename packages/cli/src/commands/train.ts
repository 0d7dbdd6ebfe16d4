import { progressObserver, readTrainConfig, runTrainConfig, TrainConfigError } from '@llm-modules/trainer';
import { CliError, humanBytes, type CliIO } from '../io.js';
import { intOption } from './model.js';
import { runBridgeConfig } from '../train/bridge-run.js';

export interface TrainCommandOptions {
  config: string;
  resume?: boolean;
  /** overrides training.maxSteps */
  maxSteps?: string;
  /** check everything, train nothing */
  dryRun?: boolean;
  json?: boolean;
}

/**
 * `llm-modules train --config FILE.json [--resume] [--max-steps N] [--dry-run] [--json]`: train as the config says (schema:
 * `@llm-modules/trainer/train-config.schema.json`). Progress goes to stderr; Ctrl-C stops after the current
 * step, saves a checkpoint and the model, and exits with code 130 (resume with `--resume`).
 *
 * @example
 * ```ts
 * await trainCommand({ config: 'examples/train-lm/train.json', json: true }, processIO);
 * ```
 */
export async function trainCommand(opts: TrainCommandOptions, io: CliIO): Promise<number> {
  const maxSteps = opts.maxSteps === undefined ? undefined : intOption(opts.maxSteps, '--max-steps', 0, 1);
  let config;
  try {
    config = await readTrainConfig(opts.config);
  } catch (err) {
    if (err instanceof TrainConfigError) throw new CliError(err.message);
    throw err;
  }
  const abort = new AbortController();
  const onSigint = () => {
    io.stderr('\ninterrupted: finishing the current step, then saving a checkpoint (Ctrl-C again to quit now)\n');
    process.off('SIGINT', onSigint);
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const run = config.mode === 'bridge' ? runBridgeConfig : runTrainConfig;
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
    const result = await run(config, { configFile: opts.config, resume: opts.resume, maxSteps, dryRun: opts.dryRun, log, progress, signal: abort.signal, observers: [progressObserver({ stream: process.stderr })] });
    const summary = { output: result.output, steps: result.steps, stopped: result.reason, train_examples: result.trainExamples, validation_examples: result.validationExamples, dropped_examples: result.droppedExamples, best_validation_loss: result.finalValidationLoss, seconds: Number(result.seconds.toFixed(2)), parameters: result.parameters };
    if (opts.json) io.stdout(`${JSON.stringify(summary)}\n`);
    else if (opts.dryRun) io.stdout(`dry run: ${config.output} would train on ${result.trainExamples} examples (${result.droppedExamples} dropped); nothing written\n`);
    else io.stdout(`trained ${result.steps} steps (${result.reason}) in ${summary.seconds}s → ${result.output}\n`);
    return result.reason === 'aborted' ? 130 : 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
