import { Command, CommanderError } from 'commander';
import { LoaderError } from '@llm-modules/loaders';
import { inspect } from './commands/inspect.js';
import { tokenize } from './commands/tokenize.js';
import { CliError, processIO, type CliIO } from './io.js';

export { inspect } from './commands/inspect.js';
export { tokenize } from './commands/tokenize.js';
export { CliError, processIO, type CliIO } from './io.js';

function program(io: CliIO): Command {
  const cli = new Command('llm-modules')
    .description('Compose language models: load, inspect, tokenize (train, eval and generate arrive with their packages).')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) })
    .showSuggestionAfterError(true);
  cli
    .command('tokenize')
    .description("token ids of TEXT with the model folder's tokenizer")
    .requiredOption('--model <dir>', 'model or tokenizer folder (tokenizer.json, or vocab.json + merges.txt)')
    .requiredOption('--text <text>', 'text to encode')
    .option('--json', 'print {"ids":[...]}')
    .action((opts: { model: string; text: string; json?: boolean }) => tokenize(opts, io));
  cli
    .command('inspect')
    .description('model type, config, tensor and parameter counts, dtypes and bytes of a model folder')
    .argument('<dir>', 'Hugging Face model folder or checkpoint folder')
    .option('--json', 'print one JSON object')
    .option('--tensors', 'list every tensor')
    .action((dir: string, opts: { json?: boolean; tensors?: boolean }) => inspect(dir, opts, io));
  return cli;
}

/**
 * Run the command line with `argv` (without `node` and the script), writing to `io`. Resolves to the exit code:
 * 0, or 1 after printing a one-line error to stderr (set LLM_MODULES_DEBUG=1 for the stack).
 *
 * @example
 * ```ts
 * const code = await main(['tokenize', '--model', 'models/gpt2', '--text', 'Hello world', '--json']);
 * ```
 */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  try {
    await program(io).parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already printed its own one-line message (or the help text)
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0 ? 0 : 1;
    }
    const known = err instanceof LoaderError || err instanceof CliError;
    const message = err instanceof Error ? err.message : String(err);
    io.stderr(`llm-modules: ${known ? '' : 'internal error: '}${message.replace(/\s*\n\s*/g, ' ')}\n`);
    if (process.env.LLM_MODULES_DEBUG && err instanceof Error && err.stack) io.stderr(`${err.stack}\n`);
    return 1;
  }
}
