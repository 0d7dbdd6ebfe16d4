import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { LoaderError } from '@llm-modules/loaders';
import { TeacherCacheError, TrainConfigError } from '@llm-modules/trainer';
import { benchCommand } from './commands/bench.js';
import { registerCacheTeacherCommands } from './scale/register.js';
import { demoCommand } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { generateCommand } from './commands/generate.js';
import { inspect } from './commands/inspect.js';
import { newModelCommand, type NewModelOptions } from './commands/new-model.js';
import { decode, tokenize } from './commands/tokenize.js';
import { trainCommand } from './commands/train.js';
import { checkBackendEnv } from './commands/model.js';
import { CliError, fsErrorLine, processIO, type CliIO } from './io.js';

export { benchCommand, type BenchOptions } from './commands/bench.js';
export { demoCommand, demoTable, type DemoCommandOptions } from './commands/demo.js';
export { runDemo, type DemoOptions, type DemoSummary, type VariantResult } from './demo/run.js';
export { summarizeSeeds, type SeedsSummary, type SeedStat } from './demo/seeds.js';
export * as bench from './bench/measure.js';
export { cacheTeacherCommand, cacheTeacherMergeCommand, type CacheTeacherOptions } from './commands/cache-teacher.js';
export { workerCommand, type WorkerOptions } from './commands/worker.js';
export { evalCommand } from './commands/eval.js';
export { generateCommand } from './commands/generate.js';
export { inspect } from './commands/inspect.js';
export { newModelCommand, type NewModelOptions, type NewModelSummary } from './commands/new-model.js';
export { decode, tokenize } from './commands/tokenize.js';
export { trainCommand } from './commands/train.js';
export { CliError, processIO, type CliIO } from './io.js';

/** This package's version, read from its package.json (one level above both src/ and dist/). */
const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

function program(io: CliIO, status: { code: number } = { code: 0 }): Command {
  const cli = new Command('llm-modules')
    .description('Compose language models: train bridges from a frozen teacher into a student, and inspect, tokenize, evaluate, generate and benchmark.')
    .version(VERSION, '-V, --version', 'print the version of llm-modules')
    .exitOverride()
    // commander's own errors (unknown option or command) read like ours: one line, prefixed, the hint inline
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s), outputError: (s, write) => write(`llm-modules: ${s.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')}\n`) })
    .showSuggestionAfterError(true);
  cli
    .command('demo')
    .description('the toy knowledge-transfer world end to end: frozen teacher → bridge → student, scored on held-out facts')
    .option('--quick', 'a smaller world and fewer steps (CI smoke, < 2 minutes)')
    .option('--all', 'also train plain, flamingo, gated-tokens, teacher-head and student-only+head (the head-start control)')
    .option('--variants <list>', 'train only these contestants, e.g. enhanced,gated-tokens+kd (see --all for the names)')
    .option('--retrain-teacher', 'first re-create the shipped teacher with llm-modules train (examples/knowledge-transfer/teacher.train.json)')
    .option('--steps <n>', 'optimizer steps per variant (default 1400, quick 100)')
    .option('--dir <dir>', 'the example folder (default: examples/knowledge-transfer)')
    .option('--world <name>', 'arithmetic (default) or people: named people, traces restate the name (its teacher is trained first)')
    .option('--seeds <list>', 'run once per seed (e.g. 0,1,2) and report mean ± sample sd (n − 1) per variant; --json adds the per-seed values (default: one run, seed 0)')
    .option('--json', 'print the summary object on the last line')
    .action((opts) => demoCommand(opts, io));
  cli
    .command('tokenize')
    .description("token ids of a text with the model folder's tokenizer (--text, --file, or piped into stdin)")
    .requiredOption('--model <dir>', 'model or tokenizer folder (tokenizer.json, or vocab.json + merges.txt)')
    .option('--text <text>', 'text to encode')
    .option('--file <file>', 'a UTF-8 text file to encode (- for stdin)')
    .option('--json', 'print {"ids":[...]}')
    .action((opts: { model: string; text?: string; file?: string; json?: boolean }) => tokenize(opts, io));
  cli
    .command('decode')
    .description("the text of token ids with the model folder's tokenizer (the inverse of tokenize)")
    .requiredOption('--model <dir>', 'model or tokenizer folder')
    .requiredOption('--ids <ids>', 'token ids, e.g. 1,2,3')
    .option('--keep-special', 'keep special tokens (<|endoftext|>, …) in the text')
    .option('--json', 'print {"text":...}')
    .action((opts: { model: string; ids: string; keepSpecial?: boolean; json?: boolean }) => decode(opts, io));
  cli
    .command('inspect')
    .description('model type, config, tensor and parameter counts, dtypes and bytes of a model folder')
    .argument('<dir>', 'Hugging Face model folder or checkpoint folder')
    .option('--json', 'print one JSON object')
    .option('--tensors', 'list every tensor')
    .option('--teacher <dir>', "a bridge folder's teacher, when it is no longer where the folder records it")
    .action((dir: string, opts: { json?: boolean; tensors?: boolean; teacher?: string }) => inspect(dir, opts, io));
  cli
    .command('new-model')
    .description('write a randomly initialised Hugging Face model folder (config, safetensors or shards, tokenizer), one tensor at a time')
    .requiredOption('--config <file>', 'a Hugging Face config.json (qwen2 or gpt_neo), or its folder')
    .requiredOption('--out <dir>', 'the folder to create (must not exist or be empty)')
    .option('--dtype <dtype>', "storage: bf16, f16 or f32 (default: the config's torch_dtype, else f32)")
    .option('--seed <s>', 'random seed, an integer ≥ 0 (default 0)')
    .option('--tokenizer <dir>', 'copy the tokenizer files (tokenizer.json, vocab.json, merges.txt, …) from this folder')
    .option('--shard-size <size>', 'largest safetensors file before sharding, e.g. 2GB, 500MB (default 5GB, as Hugging Face)')
    .option('--json', 'print {"out","parameters","bytes","files","seconds",…} on the last line (no progress)')
    .action(async (opts: Omit<NewModelOptions, 'signal'>) => {
      const abort = new AbortController();
      const onSignal = (sig: NodeJS.Signals) => abort.abort(new CliError(`interrupted by ${sig}: nothing was written to ${opts.out}`));
      process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
      try {
        await newModelCommand({ ...opts, signal: abort.signal }, io);
      } finally {
        process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      }
    });
  cli
    .command('eval')
    .description('mean next-token cross-entropy and perplexity of a model on a dataset ({text} or {input_ids} rows)')
    .requiredOption('--model <dir>', 'Hugging Face model folder, or a bridge folder written by train')
    .requiredOption('--data <file>', 'dataset file: .json, .jsonl or .parquet')
    .option('--batch-size <n>', 'rows per forward pass (default 8)')
    .option('--max-length <n>', 'cut longer rows to n tokens (default: max_position_embeddings)')
    .option('--backend <name>', 'tensor backend (default: LLM_MODULES_BACKEND, else the fastest that works)')
    .option('--teacher <dir>', "a bridge folder's teacher, when it is no longer where the folder records it")
    .option('--task <task>', 'loss (default), or answer: {"prompt","answer"} rows → greedy generation and teacher-forced accuracy (+ the leak probe for bridge folders)')
    .option('--marker <text>', '--task answer with {"prompt","completion"} rows: the answer follows the last occurrence of this text')
    .option('--json', 'print {"loss","perplexity","tokens"} (--task answer: {"task","rows","generation_accuracy","teacher_forced_accuracy",…})')
    .action((opts) => evalCommand(opts, io));
  cli
    .command('generate')
    .description('continue a prompt (streams the text); greedy unless a sampling option is given')
    .requiredOption('--model <dir>', 'Hugging Face model folder, or a bridge folder written by train')
    .option('--prompt <text>', 'prompt text (needs the folder\'s tokenizer)')
    .option('--ids <ids>', 'prompt token ids, e.g. 1,2,3')
    .option('--max-new-tokens <n>', 'tokens to generate at most (default 32)')
    .option('--greedy', 'always pick the most likely token')
    .option('--sample', 'sample (temperature 1 unless --temperature)')
    .option('--temperature <t>', 'sampling temperature')
    .option('--top-k <k>', 'sample among the k most likely tokens')
    .option('--top-p <p>', 'sample among the most likely tokens of total probability p')
    .option('--repetition-penalty <r>', "Hugging Face's repetition penalty (1 = off)")
    .option('--seed <s>', 'random seed for sampling (default 0)')
    .option('--stop <text...>', 'stop once the generated text contains one of these')
    .option('--ignore-eos', 'do not stop at the eos token')
    .option('--no-cache', 'recompute the whole sequence each step (no KV cache)')
    .option('--backend <name>', 'tensor backend (default: LLM_MODULES_BACKEND, else the fastest that works)')
    .option('--chat', "wrap --prompt in the tokenizer's chat template as one user turn")
    .option('--system <text>', 'with --chat: a system message first')
    .option('--keep-special', 'keep special tokens (<|endoftext|>, …) in the text')
    .option('--teacher <dir>', "a bridge folder's teacher, when it is no longer where the folder records it")
    .option('--json', 'print {"prompt_ids","generated_ids","text","finish_reason"} only')
    .action((opts) => generateCommand(opts, io));
  cli
    .command('train')
    .description('train a model from a JSON config (schema: @llm-modules/trainer/train-config.schema.json)')
    .requiredOption('--config <file>', 'train config (.json)')
    .option('--resume', 'continue from the run folder\'s checkpoint (an error when there is none)')
    .option('--overwrite', 'replace the run already in the output folder (otherwise train refuses it)')
    .option('--seed <s>', 'random seed, an integer ≥ 0 (overrides training.seed)')
    .option('--out <dir>', 'the run folder (overrides output; relative to the working folder)')
    .option('--max-steps <n>', 'stop after n optimizer steps (overrides training.maxSteps)')
    .option('--dry-run', 'load and check models, tokenizer, data and shapes, report, and stop before training')
    .option('--json', 'print a JSON summary on the last line')
    .action(async (opts: { config: string; resume?: boolean; overwrite?: boolean; seed?: string; out?: string; maxSteps?: string; dryRun?: boolean; json?: boolean }) => {
      status.code = await trainCommand(opts, io);
    });
  registerCacheTeacherCommands(cli, io); // cache-teacher (+ merge, --shard, --queue) and worker
  cli
    .command('bench')
    .description('matmul GFLOPS (vs tfjs-wasm when installed), per-op overhead and a tiny GPT-Neo training step')
    .option('--quick', 'smaller shapes, fewer repetitions')
    .option('--backend <name>', 'tensor backend (default: LLM_MODULES_BACKEND, else the fastest that works)')
    .option('--json', 'print one JSON object: {"matmul_1024_gflops","tfjs_wasm_1024_gflops" (tfjs at its best: 1 or 2 threads),"train_step_ms",…}')
    .action((opts: { json?: boolean; quick?: boolean; backend?: string }) => benchCommand(opts, io));
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
    const status = { code: 0 };
    await checkBackendEnv();
    await program(io, status).parseAsync(argv, { from: 'user' });
    return status.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already printed its own one-line message (or the help text)
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0 ? 0 : 1;
    }
    const known = err instanceof LoaderError || err instanceof CliError || err instanceof TrainConfigError || err instanceof TeacherCacheError;
    const fsLine = known ? null : fsErrorLine(err); // a full disk or a missing folder is the machine's state, not a bug
    const message = fsLine ?? (err instanceof Error ? err.message : String(err));
    io.stderr(`llm-modules: ${known || fsLine ? '' : 'internal error: '}${message.replace(/\s*\n\s*/g, ' ')}\n`);
    if (process.env.LLM_MODULES_DEBUG && err instanceof Error && err.stack) io.stderr(`${err.stack}\n`);
    return 1;
  }
}
